// Browser-test helpers: Debian's Chromium driven by playwright-core (no browser downloads).
import { createHash } from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { chromium } from 'playwright-core'
import { base32Decode, codeForStep, PERIOD, stepAt } from './otp.mjs'

export const BASE = process.env.TG_BASE_URL ?? 'http://127.0.0.1:8080'
export const DEMO_PASSWORD = 'Demo@12345'

export async function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    headless: true,
    // No GPU here: WebGL (the map) runs on SwiftShader, which Chromium only allows for WebGL with
    // --enable-unsafe-swiftshader (playwright-core adds it too; stated so it stays if defaults change).
    args: ['--no-sandbox', '--disable-gpu', '--enable-unsafe-swiftshader', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  })
}

/** A fresh context and page that records console errors and failed page errors. */
export async function newPage(browser, viewport = { width: 1440, height: 900 }) {
  const context = await browser.newContext({ viewport, locale: 'zh-CN' })
  const page = await context.newPage()
  const errors = []
  page.on('console', (m) => {
    // Expected 4xx answers are shown in the UI; the browser also logs them as failed resources.
    if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) errors.push(m.text())
  })
  page.on('pageerror', (e) => errors.push(String(e)))
  return { context, page, errors }
}

/** The <input> (or <textarea>) of a form field marked with data-testid (Element Plus puts the
 *  attribute on the input, Vant on the wrapper). */
export function field(page, testId) {
  const t = `[data-testid="${testId}"]`
  return page.locator(`input${t}, textarea${t}, ${t} input, ${t} textarea`).first()
}

// Second factor. The demo administrators must use the SM3 dynamic password and are not bound at
// the start of a fresh server: the first login of an account binds a token (the secret is read from
// the enrolment page), later ones type the current code. Each test file runs in its own process, so
// what was learned is kept in a Map and mirrored to a file shared by the files of one run (keyed by
// the server's address; a fresh server shows `mfa_enrolled: false` again and is re-bound).
const otpFile = path.join(os.tmpdir(), `tg-e2e-otp-${createHash('sha256').update(BASE).digest('hex').slice(0, 12)}.json`)
/** username → { secret, lastStep } */
const tokens = new Map()

function loadTokens() {
  try {
    for (const [k, v] of Object.entries(JSON.parse(fs.readFileSync(otpFile, 'utf8')))) tokens.set(k, v)
  } catch {
    /* first use */
  }
}
function saveTokens() {
  fs.writeFileSync(otpFile, JSON.stringify(Object.fromEntries(tokens)), { mode: 0o600 })
}

/** A code is accepted once per 60-s step and never an older one: wait for a step after the last used one. */
async function freshStep(username) {
  const last = tokens.get(username)?.lastStep ?? -1
  let now = Date.now() / 1000
  if (stepAt(now) <= last) {
    const waitMs = (last + 1) * PERIOD * 1000 - Date.now() + 300
    await new Promise((r) => setTimeout(r, waitMs))
    now = Date.now() / 1000
  }
  return stepAt(now)
}

/** Completes the dynamic-password page the login was sent to. */
export async function passSecondFactor(page, username, enrolled) {
  await page.waitForURL(/\/login\/mfa/)
  loadTokens()
  if (!enrolled) {
    const secret = (await page.getByTestId('mfa-secret').innerText()).trim()
    tokens.set(username, { secret, lastStep: -1 })
  } else if (!tokens.has(username)) {
    throw new Error(`${username} has a token bound outside this test run; start the tests on a fresh server`)
  }
  const t = tokens.get(username)
  const step = await freshStep(username)
  const code = codeForStep(base32Decode(t.secret), step)
  await field(page, 'mfa-code').fill(code)
  const answer = page.waitForResponse((r) => r.url().endsWith('/api/v1/auth/mfa/verify'))
  await page.getByTestId('mfa-submit').click()
  const res = await answer
  if (!res.ok()) throw new Error(`second factor of ${username} refused: ${res.status()} ${await res.text()}`)
  t.lastStep = step
  saveTokens()
}

/** Signs in on the PC login page; accounts that need the second factor also pass it. */
export async function login(page, username, password = DEMO_PASSWORD) {
  await page.goto(`${BASE}/login`)
  await field(page, 'login-username').fill(username)
  await field(page, 'login-password').fill(password)
  const answer = page.waitForResponse((r) => r.url().endsWith('/api/v1/auth/login') && r.request().method() === 'POST')
  await page.getByTestId('login-submit').click()
  const res = await answer
  if (!res.ok()) return
  const { user } = await res.json()
  if (user.mfa_required && user.aal < 2 && !user.must_change_password && !user.password_expired) {
    await passSecondFactor(page, username, user.mfa_enrolled)
  }
}

export async function logout(page) {
  await page.getByTestId('user-menu').click()
  await page.getByTestId('logout').click()
  await page.waitForURL(/\/login/)
}
