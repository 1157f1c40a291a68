// The administration pages work in a browser: departments, the region tree with grids, roles and
// grants (including the 三员分立 refusal shown to the security administrator).
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { BASE, field, launch, newPage, login } from './helpers.mjs'

let browser
before(async () => {
  browser = await launch()
})
after(async () => {
  await browser?.close()
})

const tag = Date.now().toString(36).toUpperCase()

test('system administrator maintains departments and grids', async () => {
  const { context, page, errors } = await newPage(browser)
  try {
    await login(page, 'sysadmin')
    await page.waitForURL(`${BASE}/`)
    await page.getByTestId('menu-departments').click()
    await page.getByTestId('dept-create').click()
    await field(page, 'dept-form-code').fill(`E2E-${tag}`)
    await field(page, 'dept-form-name').fill(`端到端测试局${tag}`)
    await page.getByTestId('dept-form-submit').click()
    await page.getByText('已保存').first().waitFor()
    await field(page, 'dept-search').fill(`E2E-${tag}`)
    await field(page, 'dept-search').press('Enter')
    await page.getByTestId('dept-table').getByText(`端到端测试局${tag}`).waitFor()

    await page.getByTestId('menu-regions').click()
    await field(page, 'region-search').fill('星岩社区')
    await page.getByText('星岩社区居民委员会（445302001009）').click()
    await page.getByTestId('region-detail').getByText('村(社区)').waitFor()
    await page.getByTestId('region-add-group').click()
    await page.locator('.el-message-box input').fill(`网格${tag}`)
    await page.locator('.el-message-box').getByRole('button', { name: '新增' }).click()
    await page.getByText(/已新增 网格/).waitFor()
    assert.deepEqual(errors, [])
  } finally {
    await context.close()
  }
})

test('security administrator creates a role and is refused when mixing separated duties', async () => {
  const { context, page, errors } = await newPage(browser)
  try {
    await login(page, 'secadmin')
    await page.waitForURL(`${BASE}/`)
    await page.getByTestId('menu-roles').click()
    await page.getByTestId('role-create').click()
    await field(page, 'role-form-code').fill(`e2e_${tag.toLowerCase()}`)
    await field(page, 'role-form-name').fill(`测试角色${tag}`)
    await page.locator('.el-dialog .el-checkbox', { hasText: '查看行政区划' }).first().click()
    await page.getByTestId('role-form-submit').click()
    await page.getByText('已保存').first().waitFor()
    await page.getByText(`测试角色${tag}`).waitFor()

    await page.getByTestId('menu-grants').click()
    await field(page, 'grant-search').fill('yc.town')
    await field(page, 'grant-search').press('Enter')
    await page.getByTestId('grant-table').getByText('吴干事（演示）').waitFor()
    await page.getByTestId('grant-open').first().click()
    await page.locator('.el-dialog .el-checkbox', { hasText: '系统管理员' }).first().click()
    await page.locator('.el-dialog .el-checkbox', { hasText: '审计管理员' }).first().click()
    await page.getByTestId('grant-submit').click()
    const refusal = page.getByTestId('grant-error')
    await refusal.waitFor()
    assert.match(await refusal.innerText(), /三员分立/)
    assert.deepEqual(errors, [])
  } finally {
    await context.close()
  }
})

test('system administrator imports accounts from a file: validate, then import all', async () => {
  const { context, page, errors } = await newPage(browser)
  try {
    await login(page, 'sysadmin')
    await page.waitForURL(`${BASE}/`)
    await page.getByTestId('menu-users').click()
    await page.getByTestId('user-import').click()
    const name = `imp${tag.toLowerCase()}`
    const bad = `用户名,姓名,区划代码\n${name}a,导入甲,445399\n`
    await page.getByTestId('import-file').setInputFiles({ name: 'bad.csv', mimeType: 'text/csv', buffer: Buffer.from(bad) })
    await page.getByTestId('import-errors').waitFor()
    assert.match(await page.getByTestId('import-errors').innerText(), /未导入任何数据/)
    const good = `用户名,姓名,区划代码,部门编码\n${name}a,导入甲,445302001009001,445302001-ZZZX\n${name}b,导入乙,445302001,\n`
    await page.getByTestId('import-file').setInputFiles({ name: 'good.csv', mimeType: 'text/csv', buffer: Buffer.from(good) })
    await page.getByTestId('import-valid').waitFor()
    await page.getByTestId('import-commit').click()
    await page.getByTestId('import-done').waitFor()
    await page.getByTestId('import-created').getByText(`${name}b`).waitFor()
    assert.deepEqual(errors, [])
  } finally {
    await context.close()
  }
})
