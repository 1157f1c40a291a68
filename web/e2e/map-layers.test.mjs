// 图层管理 in a browser: the system administrator creates a layer with attributes, is told what is
// wrong with a bad code, edits it, deletes it, and a bad boundary file is refused.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { BASE, field, launch, newPage, login } from './helpers.mjs'

let browser
before(async () => {
  browser = await launch()
})
after(async () => {
  await browser?.close()
})

test('system administrator manages map layers and imports boundaries', async () => {
  const { context, page, errors } = await newPage(browser)
  try {
    await login(page, 'sysadmin')
    await page.waitForURL(`${BASE}/`)
    await page.getByTestId('menu-map-layers').click()
    await page.waitForURL(`${BASE}/system/map-layers`)
    await page.getByTestId('layer-table').getByText('demo_events').waitFor()

    const tag = Date.now().toString(36)
    await page.getByTestId('layer-create').click()
    await field(page, 'layer-form-code').fill('bad code')
    await field(page, 'layer-form-name').fill(`学校${tag}`)
    await page.getByTestId('attr-add').click()
    await field(page, 'attr-name-0').fill('kind')
    await field(page, 'attr-label-0').fill('办学类型')
    await page.getByTestId('layer-form-submit').click()
    // The server's field message lands next to the code.
    await page.getByText('图层编码须为2-64位字母、数字、“_”或“-”').waitFor()
    await field(page, 'layer-form-code').fill(`schools_${tag}`)
    await page.getByTestId('layer-form-submit').click()
    const row = page.getByTestId('layer-table').locator('tr', { hasText: `schools_${tag}` })
    await row.waitFor()
    assert.match(await row.innerText(), /办学类型/)

    // Edit: the name changes (the form sends the version it read).
    await row.getByRole('button', { name: '编辑' }).click()
    await field(page, 'layer-form-name').fill(`学校（改）${tag}`)
    await page.getByTestId('layer-form-submit').click()
    await page.getByTestId('layer-table').getByText(`学校（改）${tag}`).waitFor()

    // A boundary file that is not valid GeoJSON is refused and changes nothing.
    const bad = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'tg-bnd-')), 'bad.geojson')
    fs.writeFileSync(bad, '{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"code": "445399999"}, "geometry": {"type": "Point", "coordinates": [112, 23]}}]}')
    await page.getByTestId('boundary-file').setInputFiles(bad)
    await page.locator('.el-message--error').getByText(/边界须为面|不存在/).waitFor()

    // Delete, after confirming.
    await row.getByRole('button', { name: '删除' }).click()
    await page.locator('.el-message-box').getByRole('button', { name: '删除' }).click()
    await page.getByTestId('layer-table').locator('tr', { hasText: `schools_${tag}` }).waitFor({ state: 'detached' })
    assert.deepEqual(errors, [])
  } finally {
    await context.close()
  }
})
