// The foundation in a real browser: a system administrator creates a user, the audit administrator
// finds that action in the audit log and verifies the chain, and the new user is forced to change
// the initial password.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { BASE, field, launch, newPage, login, logout } from './helpers.mjs'

let browser
before(async () => {
  browser = await launch()
})
after(async () => {
  await browser?.close()
})

const username = `e2e_${Date.now().toString(36)}`

test('system administrator creates a user; audit administrator sees it; first login forces a password change', async () => {
  const { context, page, errors } = await newPage(browser)
  try {
    // (a) sysadmin creates the user in 云城区.
    await login(page, 'sysadmin')
    await page.waitForURL(`${BASE}/`)
    await page.getByTestId('menu-users').click()
    await page.waitForURL(/system\/users/)
    await page.getByTestId('user-create').click()
    await field(page, 'user-form-username').fill(username)
    await field(page, 'user-form-name').fill('测试用户')
    await field(page, 'user-form-password').fill('Init@2026xy')
    await page.getByTestId('user-form-submit').click()
    await page.getByText('已保存').first().waitFor()
    await field(page, 'user-search').fill(username)
    await field(page, 'user-search').press('Enter')
    await page.getByTestId('user-table').getByText(username).waitFor()
    await logout(page)

    // (b) auditadmin finds the action and verifies the chain.
    await login(page, 'auditadmin')
    await page.waitForURL(`${BASE}/`)
    await page.getByTestId('menu-audit').click()
    await page.waitForURL(/audit\/logs/)
    await page.getByTestId('audit-action').click()
    await page.keyboard.type('user.create')
    await page.keyboard.press('Enter')
    await page.getByTestId('audit-search').click()
    await page.getByTestId('audit-table').getByText(username).first().waitFor()
    await page.getByTestId('audit-verify').click()
    const result = page.getByTestId('audit-verify-result')
    await result.waitFor()
    assert.match(await result.innerText(), /审计链完整/)
    // The system administrator cannot see the audit menu (三员分立) — checked from the other side:
    const menu = await page.getByTestId('side-menu').innerText()
    assert.ok(!menu.includes('用户管理'), 'the audit administrator has no user administration')
    await logout(page)

    // (c) the new user must change the initial password first.
    await login(page, username, 'Init@2026xy')
    await page.waitForURL(/\/password/)
    await page.getByTestId('password-forced').waitFor()
    await field(page, 'old-password').fill('Init@2026xy')
    await field(page, 'new-password').fill('Changed@2026x')
    await field(page, 'confirm-password').fill('Changed@2026x')
    await page.getByTestId('password-submit').click()
    await page.waitForURL(`${BASE}/`)
    await page.getByTestId('home-profile').getByText(username).waitFor()
    assert.deepEqual(errors, [])
  } finally {
    await context.close()
  }
})

test('a county leader only sees their county in the region switcher and user list', async () => {
  const { context, page, errors } = await newPage(browser)
  try {
    await login(page, 'yc.leader')
    await page.waitForURL(`${BASE}/`)
    await page.getByTestId('region-breadcrumb').getByText('云城区').waitFor()
    const crumbs = await page.getByTestId('region-breadcrumb').innerText()
    assert.ok(!crumbs.includes('云安区'))
    await page.getByTestId('menu-users').click()
    await page.getByTestId('user-table').getByText('yc.town').waitFor()
    const table = await page.getByTestId('user-table').innerText()
    assert.ok(!table.includes('ya.clerk'), 'another county is invisible')
    if (process.env.TG_SCREENSHOTS) await page.screenshot({ path: `${process.env.TG_SCREENSHOTS}/users-county.png` })
    assert.deepEqual(errors, [])
  } finally {
    await context.close()
  }
})

test('the API documentation page renders the OpenAPI document', async () => {
  const { context, page } = await newPage(browser)
  try {
    await page.goto(`${BASE}/api/docs`)
    await page.waitForURL(/api-docs/)
    await page.getByText('Tongguan 统管 API').first().waitFor()
  } finally {
    await context.close()
  }
})

test('mobile H5: sign in and see my profile on a phone-sized screen', async () => {
  const { context, page, errors } = await newPage(browser, { width: 390, height: 844 })
  try {
    await page.goto(`${BASE}/m/login`)
    await page.locator('input[name="username"]').fill('yc.grid')
    await page.locator('input[name="password"]').fill('Demo@12345')
    await page.getByRole('button', { name: '登录' }).click()
    await page.waitForURL(/\/m\/me/)
    await page.getByText('网格员').first().waitFor()
    assert.deepEqual(errors, [])
  } finally {
    await context.close()
  }
})
