// Browser-test helpers: Debian's Chromium driven by playwright-core (no browser downloads).
import { chromium } from 'playwright-core'

export const BASE = process.env.TG_BASE_URL ?? 'http://127.0.0.1:8080'
export const DEMO_PASSWORD = 'Demo@12345'

export async function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
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

/** The <input> of a form field marked with data-testid (Element Plus puts the attribute on the input). */
export function field(page, testId) {
  return page.locator(`input[data-testid="${testId}"], [data-testid="${testId}"] input`).first()
}

export async function login(page, username, password = DEMO_PASSWORD) {
  await page.goto(`${BASE}/login`)
  await field(page, 'login-username').fill(username)
  await field(page, 'login-password').fill(password)
  await page.getByTestId('login-submit').click()
}

export async function logout(page) {
  await page.getByTestId('user-menu').click()
  await page.getByTestId('logout').click()
  await page.waitForURL(/\/login/)
}
