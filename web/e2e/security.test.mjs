// Security in a real browser: the SM2 login envelope (no password in clear on the wire), the
// security administrator's pages (policy, keys, second factor, integrity), the audited unmasking of
// a phone number, and the phone as an SM3 dynamic-password token.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { BASE, DEMO_PASSWORD, field, launch, newPage, login, logout } from './helpers.mjs'
import { base32Encode, codeAt, codeForStep, stepAt } from './otp.mjs'

let browser
before(async () => {
  browser = await launch()
})
after(async () => {
  await browser?.close()
})

const PHONE = { width: 390, height: 844 }

test('GM/T 0021 SM3 dynamic password: the published test vector', () => {
  const key = Buffer.from('1234567890abcdef1234567890abcdef')
  assert.equal(codeForStep(key, stepAt(1700000000)), '296780')
  assert.equal(codeAt(base32Encode(key), 1700000000), '296780')
})

test('the login form sends an SM2 envelope, never the password in clear', async () => {
  const { context, page, errors } = await newPage(browser)
  try {
    const bodies = []
    page.on('request', (r) => {
      if (r.url().includes('/api/v1/auth/login')) bodies.push(r.postData() ?? '')
    })
    await login(page, 'yc.leader')
    await page.waitForURL(`${BASE}/`)
    assert.equal(bodies.length, 1)
    const body = JSON.parse(bodies[0])
    assert.equal(body.username, 'yc.leader')
    assert.match(body.cipher, /^[0-9a-f]{200,}$/)
    assert.ok(!('password' in body), 'no password field')
    assert.ok(!bodies[0].includes(DEMO_PASSWORD), 'the password does not appear in the request')
    // The server refuses a password in clear.
    const plain = await page.request.post(`${BASE}/api/v1/auth/login`, {
      data: { username: 'yc.leader', password: DEMO_PASSWORD },
      headers: { 'X-Requested-With': 'tongguan' },
    })
    assert.equal(plain.status(), 400)
    assert.equal((await plain.json()).code, 'auth.envelope_required')
    assert.deepEqual(errors, [])
  } finally {
    await context.close()
  }
})

test('security administrator: policy, key rotation, second-factor list, integrity check', async () => {
  const { context, page, errors } = await newPage(browser)
  try {
    await login(page, 'secadmin')
    await page.waitForURL(`${BASE}/`)

    // 安全策略: change the idle timeout, see it saved, restore it.
    await page.getByTestId('menu-security-policy').click()
    await page.waitForURL(/security\/policy/)
    const idle = field(page, 'policy-session_idle_minutes')
    await idle.waitFor()
    const original = await idle.inputValue()
    const changed = original === '45' ? '50' : '45'
    await idle.fill(changed)
    await page.getByTestId('policy-save').click()
    await page.getByText('安全策略已保存').first().waitFor()
    await page.reload()
    await field(page, 'policy-session_idle_minutes').waitFor()
    assert.equal(await field(page, 'policy-session_idle_minutes').inputValue(), changed)
    // An out-of-range value is refused with the message next to the field.
    await field(page, 'policy-session_idle_minutes').fill('1')
    await page.getByTestId('policy-save').click()
    await page.locator('.el-form-item__error', { hasText: '会话空闲超时' }).waitFor()
    await field(page, 'policy-session_idle_minutes').fill(original)
    await page.getByTestId('policy-save').click()
    await page.getByText('安全策略已保存').first().waitFor()
    await page.reload()
    await field(page, 'policy-session_idle_minutes').waitFor()
    assert.equal(await field(page, 'policy-session_idle_minutes').inputValue(), original)

    // 密钥管理: rotate the field-encryption keys; the current version goes up.
    await page.getByTestId('menu-security-keys').click()
    await page.waitForURL(/security\/keys/)
    const versions = async () => {
      const cells = page.locator('[data-testid^="key-version-fields-"]')
      await cells.first().waitFor()
      return Math.max(...(await cells.allInnerTexts()).map(Number))
    }
    const before = await versions()
    assert.equal(await page.getByTestId('key-rotate-index').count(), 0, 'the blind-index key is not rotatable')
    await page.getByTestId('key-rotate-fields').click()
    await page.locator('.el-message-box').getByRole('button', { name: '轮换' }).click()
    await page.getByText(/已轮换/).first().waitFor()
    await page.waitForFunction(
      (v) => [...document.querySelectorAll('[data-testid^="key-version-fields-"]')].some((e) => Number(e.textContent) > v),
      before,
    )
    assert.ok((await versions()) > before)

    // 动态口令: the security administrator's own token is bound.
    await page.getByTestId('menu-security-mfa').click()
    await page.waitForURL(/security\/mfa/)
    const row = page.getByTestId('mfa-table').locator('tr', { hasText: 'secadmin' })
    await row.getByText('已绑定').waitFor()

    // 完整性校验: everything verifies (also after the rotation).
    await page.getByTestId('menu-security-integrity').click()
    await page.waitForURL(/security\/integrity/)
    await page.getByTestId('integrity-run').click()
    const result = page.getByTestId('integrity-result')
    await result.waitFor()
    assert.equal(await result.getAttribute('data-ok'), 'true')
    assert.match(await result.innerText(), /完整性校验通过/)
    assert.match(await page.getByTestId('integrity-audit').innerText(), /完整/)

    // 安全标记: label an account 敏感 from the users page.
    await page.getByTestId('menu-users').click()
    await page.waitForURL(/users/)
    await page.getByTestId('user-labels-ya.clerk').click()
    const dialog = page.getByTestId('labels-dialog')
    await dialog.waitFor()
    await dialog.getByTestId('labels-label').click()
    await page.locator('.el-select-dropdown__item:visible', { hasText: '敏感（' }).click()
    await dialog.getByTestId('labels-submit').click()
    await dialog.waitFor({ state: 'hidden' })
    await page.getByTestId('user-label-ya.clerk').filter({ hasText: '敏感' }).waitFor()

    // 消息: the bell opens the message list.
    await page.getByTestId('message-bell').click()
    await page.waitForURL(/\/messages/)
    await page.getByTestId('messages-table').waitFor()
    assert.deepEqual(errors, [])
  } finally {
    await context.close()
  }
})

test('a personal-information officer unmasks a phone number with a reason; the table stays masked', async () => {
  const { context, page, errors } = await newPage(browser)
  try {
    await login(page, 'pii.officer')
    await page.waitForURL(`${BASE}/`)
    await page.getByTestId('menu-users').click()
    await page.waitForURL(/system\/users/)
    await field(page, 'user-phone-search').fill('13800000001')
    await field(page, 'user-phone-search').press('Enter')
    const table = page.getByTestId('user-table')
    await table.getByText('city.clerk').waitFor()
    assert.ok(!(await table.innerText()).includes('13800000001'), 'the table shows the masked number')
    await page.getByTestId('user-unmask-city.clerk').click()
    await field(page, 'unmask-reason').fill('核实')
    await page.getByTestId('unmask-submit').click()
    await page.getByText('查看事由须为4到200个字').waitFor()
    await field(page, 'unmask-reason').fill('核实群众投诉回访联系方式')
    await page.getByTestId('unmask-submit').click()
    await page.getByTestId('unmask-result').getByText('13800000001').waitFor()
    assert.ok(!(await table.innerText()).includes('13800000001'), 'the clear number stays in the dialog')
    assert.deepEqual(errors, [])
  } finally {
    await context.close()
  }
})

test('mobile soft token: the page computes the GM/T 0021 test vector', async () => {
  const { context, page, errors } = await newPage(browser, PHONE)
  try {
    // The page's clock stands at the vector's time: 2023-11-14T22:13:20Z.
    await page.clock.setFixedTime(new Date(1700000000 * 1000))
    await page.goto(`${BASE}/m/token`)
    await field(page, 'token-input').fill(base32Encode(Buffer.from('1234567890abcdef1234567890abcdef')))
    await field(page, 'token-account').fill('vector')
    await page.getByTestId('token-add').click()
    await page.getByTestId('token-0').getByText('vector').waitFor()
    assert.equal(await page.getByTestId('otp-code-0').getAttribute('data-code'), '296780')
    assert.deepEqual(errors, [])
  } finally {
    await context.close()
  }
})

test('mobile soft token: a pasted tgotp:// URI shows the current code and survives logout', async () => {
  const { context, page, errors } = await newPage(browser, PHONE)
  try {
    await page.goto(`${BASE}/m/login`)
    await page.locator('input[name="username"]').fill('yc.grid')
    await page.locator('input[name="password"]').fill(DEMO_PASSWORD)
    await page.getByRole('button', { name: '登录' }).click()
    await page.waitForURL(/\/m\/me/)

    const secret = base32Encode(randomBytes(20))
    await page.getByTestId('m-tab-token').click()
    await page.waitForURL(/\/m\/token/)
    await field(page, 'token-input').fill(`tgotp://sm3/%E7%BB%9F%E7%AE%A1:yc.grid?secret=${secret}&digits=6&period=60&issuer=%E7%BB%9F%E7%AE%A1`)
    await page.getByTestId('token-add').click()
    await page.getByTestId('token-0').getByText('yc.grid').waitFor()
    // Compare with Node's computation for the same moment (read again across a step boundary).
    for (let i = 0; ; i++) {
      const t0 = Date.now() / 1000
      const shown = await page.getByTestId('otp-code-0').getAttribute('data-code')
      const t1 = Date.now() / 1000
      if (stepAt(t0) === stepAt(t1) && stepAt(t1 - 1.5) === stepAt(t0)) {
        assert.equal(shown, codeAt(secret, t0))
        break
      }
      assert.ok(i < 5, 'the code could be read within one step')
      await page.waitForTimeout(1600)
    }
    const remaining = Number(await page.getByTestId('otp-countdown-0').innerText())
    assert.ok(remaining >= 1 && remaining <= 60, `countdown ${remaining}`)

    // Logging out clears the browser storage except the soft tokens of this device.
    await page.evaluate(() => sessionStorage.setItem('tg.e2e', 'x'))
    await page.goto(`${BASE}/m/me`)
    await page.getByRole('button', { name: '退出登录' }).click()
    await page.waitForURL(/\/m\/login/)
    await page.goto(`${BASE}/m/token`)
    await page.getByTestId('token-0').getByText('yc.grid').waitFor()
    const left = await page.evaluate(() => ({ local: Object.keys(localStorage), session: Object.keys(sessionStorage) }))
    assert.deepEqual(left, { local: ['tg.otp.tokens'], session: [] })
    assert.deepEqual(errors, [])
  } finally {
    await context.close()
  }
})

test('the second factor is required: a wrong dynamic password is refused on the page', async () => {
  const { context, page, errors } = await newPage(browser)
  try {
    // auditadmin was bound by an earlier login of this run or is bound now.
    await login(page, 'auditadmin')
    await page.waitForURL(`${BASE}/`)
    await logout(page)
    await page.goto(`${BASE}/login`)
    await field(page, 'login-username').fill('auditadmin')
    await field(page, 'login-password').fill(DEMO_PASSWORD)
    await page.getByTestId('login-submit').click()
    await page.waitForURL(/\/login\/mfa/)
    // Business pages are closed until the second factor is given.
    await page.goto(`${BASE}/audit/logs`)
    await page.waitForURL(/\/login\/mfa/)
    await field(page, 'mfa-code').fill('000000')
    await page.getByTestId('mfa-submit').click()
    await page.getByTestId('mfa-error').waitFor()
    assert.match(await page.getByTestId('mfa-error').innerText(), /动态口令/)
    assert.deepEqual(errors, [])
  } finally {
    await context.close()
  }
})
