// 全域智图 in a browser: the PC map page runs an exact circle query whose total matches the API,
// every display component switches on and off without a console error, the judgment answers, and
// the phone page draws the map. Headless Chromium has no GPU: MapLibre runs on SwiftShader's
// software WebGL (helpers.mjs launches Chromium with --enable-unsafe-swiftshader).
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { BASE, DEMO_PASSWORD, field, launch, newPage, login } from './helpers.mjs'

let browser
before(async () => {
  browser = await launch()
})
after(async () => {
  await browser?.close()
})

const CIRCLE = { center: [112.044, 22.928], radius_m: 3000 }

/** Calls the API with the page's session (cookie + the client's CSRF header). */
async function api(page, path, body) {
  return page.evaluate(
    async ({ path, body }) => {
      const res = await fetch(path, {
        method: body ? 'POST' : 'GET',
        headers: { 'X-Requested-With': 'tongguan', 'Content-Type': 'application/json', Accept: 'application/json' },
        body: body ? JSON.stringify(body) : undefined,
        credentials: 'same-origin',
      })
      if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`)
      return res.json()
    },
    { path, body },
  )
}

/** Whether a check tag is on. */
async function isOn(page, testId) {
  return (await page.getByTestId(testId).getAttribute('aria-pressed')) === 'true'
}

/** Display components and the request each one makes when switched on (null: drawn locally). */
const COMPONENTS = [
  ['cluster', '/clusters?'],
  ['heat', '/heat?'],
  ['million', null],
  ['scatter', '.mvt'],
  ['tiles', '.mvt'],
  ['ant', null],
  ['drawline', null],
  ['dashed', null],
  ['arrow', null],
  ['iconline', null],
  ['moving', null],
  ['ripple', '/query'],
]

test('PC map: circle query total matches the API, every component toggles, judgment answers', async () => {
  const { context, page, errors } = await newPage(browser)
  // Nothing may be fetched from anywhere but this system (offline base map, no glyph or sprite servers).
  const foreign = []
  page.on('request', (r) => {
    const u = r.url()
    if (!u.startsWith(BASE) && !u.startsWith('data:') && !u.startsWith('blob:')) foreign.push(u)
  })
  try {
    await login(page, 'city.leader')
    await page.waitForURL(`${BASE}/`)
    await page.getByTestId('menu-map').click()
    await page.waitForURL(`${BASE}/map`)
    await page.locator('[data-testid="map-canvas"] canvas.maplibregl-canvas').waitFor()
    assert.equal(await page.getByTestId('map-failed').count(), 0, 'WebGL map created')
    // The offline base map: county names come from /map/boundaries (HTML labels, no glyph server).
    await page.locator('.tg-region-label', { hasText: '云城区' }).waitFor()
    assert.match(await page.getByTestId('map-crs').innerText(), /WGS-84（EPSG:4326）/)

    // The demo layer (the page opens on the first layer, drawn as its style says: 聚合).
    await page.getByTestId('comp-cluster').and(page.locator('[aria-pressed="true"]')).waitFor()
    await page.getByTestId('layer-select').click()
    await page.getByTestId('layer-option-demo_events').click()
    await page.getByTestId('layer-info').getByText('演示数据', { exact: true }).waitFor()
    const layers = await api(page, '/api/v1/map/layers?q=demo_events')
    const layer = layers.items.find((l) => l.code === 'demo_events')
    assert.ok(layer, 'demo layer listed')

    // An exact circle typed into the form.
    await page.getByRole('tab', { name: '空间查询' }).click()
    await field(page, 'circle-lon').fill(String(CIRCLE.center[0]))
    await field(page, 'circle-lat').fill(String(CIRCLE.center[1]))
    await field(page, 'circle-radius').fill(String(CIRCLE.radius_m))
    // Overlays query the view's rectangle on their own (vectorTiles, ripple); wait for the circle.
    const answered = page.waitForResponse(
      (r) => r.url().endsWith(`/api/v1/map/layers/${layer.id}/query`) && r.request().method() === 'POST' && r.request().postDataJSON()?.shape?.type === 'circle',
    )
    await page.getByTestId('circle-run').click()
    const sent = (await answered).request().postDataJSON()
    assert.deepEqual(sent.shape, { type: 'circle', ...CIRCLE })
    assert.equal(sent.mode, 'inside')
    const expected = await api(page, `/api/v1/map/layers/${layer.id}/query`, { shape: { type: 'circle', ...CIRCLE }, mode: 'inside', page: 1, page_size: 1 })
    assert.ok(expected.total > 0, 'the demo data has events in the circle')
    await page.getByTestId('query-total').getByText(String(expected.total), { exact: true }).waitFor()
    assert.equal((await page.getByTestId('query-total').innerText()).trim(), String(expected.total))
    // The charts follow the query: the same total.
    await page.getByTestId('stats-total').getByText(`共 ${expected.total} 个`).waitFor({ timeout: 30_000 })
    // The list pages through the API (20 a page).
    assert.equal(await page.getByTestId('query-table').locator('tbody tr').count(), Math.min(20, expected.total))

    // Reverse match: everything else in scope.
    await page.getByTestId('query-mode-outside').click()
    await page.getByTestId('query-run').click()
    const outside = await api(page, `/api/v1/map/layers/${layer.id}/query`, { shape: { type: 'circle', ...CIRCLE }, mode: 'outside', page: 1, page_size: 1 })
    await page.getByTestId('query-total').getByText(String(outside.total), { exact: true }).waitFor()
    assert.equal(outside.total + expected.total, layer.feature_count)

    // A circle drawn with the mouse: press at the map's centre and drag; the page's query and the
    // API agree on the count for exactly the circle the page sent.
    await page.getByTestId('query-mode-inside').click()
    await page.getByRole('button', { name: '在地图上画圆' }).click()
    const canvasBox = await page.locator('[data-testid="map-canvas"] canvas.maplibregl-canvas').boundingBox()
    const [cx, cy] = [canvasBox.x + canvasBox.width / 2, canvasBox.y + canvasBox.height / 2]
    await page.mouse.move(cx, cy)
    await page.mouse.down()
    await page.mouse.move(cx + 60, cy + 20, { steps: 6 })
    await page.mouse.move(cx + 140, cy + 40, { steps: 6 })
    await page.mouse.up()
    await page.getByTestId('query-shape').getByText('圆形').waitFor()
    const drawnAnswer = page.waitForResponse((r) => r.url().endsWith(`/api/v1/map/layers/${layer.id}/query`) && r.request().method() === 'POST' && r.request().postDataJSON()?.mode === 'inside' && r.request().postDataJSON()?.shape?.type === 'circle')
    await page.getByTestId('query-run').click()
    const drawnSent = (await drawnAnswer).request().postDataJSON()
    assert.equal(drawnSent.shape.type, 'circle')
    assert.ok(drawnSent.shape.radius_m > 100, `radius ${drawnSent.shape.radius_m}`)
    const drawnExpected = await api(page, `/api/v1/map/layers/${layer.id}/query`, { shape: drawnSent.shape, mode: 'inside', page: 1, page_size: 1 })
    await page.getByTestId('query-total').getByText(String(drawnExpected.total), { exact: true }).waitFor()

    // Every display component, one after another (from all off).
    await page.getByRole('tab', { name: '图层展示' }).click()
    for (const [key] of COMPONENTS) if (await isOn(page, `comp-${key}`)) await page.getByTestId(`comp-${key}`).click()
    for (const [key, request] of COMPONENTS) {
      const tag = `comp-${key}`
      assert.equal(await isOn(page, tag), false, `${key} starts off`)
      const loaded = request ? page.waitForResponse((r) => r.url().includes(request) && r.ok(), { timeout: 20_000 }) : null
      await page.getByTestId(tag).click()
      assert.equal(await isOn(page, tag), true, `${key} switched on`)
      if (loaded) await loaded
      if (key === 'cluster') await page.locator('.tg-cluster').first().waitFor()
      if (key === 'million') await page.getByTestId('million-info').getByText('1,000,000 个点').waitFor({ timeout: 20_000 })
      if (key === 'moving') {
        await page.getByTestId('replay-pause').click()
        await page.getByTestId('replay-play').click()
      }
      if (key === 'ripple') await page.getByTestId('ripple-info').getByText(/紧急要素 \d+ 个/).waitFor()
      await page.waitForTimeout(700) // a few animation frames
      await page.getByTestId(tag).click()
      assert.equal(await isOn(page, tag), false, `${key} switched off`)
    }

    // Judgment by typed coordinates: the region, and inside the circle still drawn.
    await page.getByRole('tab', { name: '空间判断' }).click()
    await field(page, 'judge-lon').fill('112.044')
    await field(page, 'judge-lat').fill('22.928')
    await page.getByTestId('judge-run').click()
    const [want] = await api(page, '/api/v1/map/judge', { points: [CIRCLE.center], shape: { type: 'circle', ...CIRCLE } })
    assert.ok(want.region_code?.startsWith('445302') && want.inside === true, JSON.stringify(want))
    const judged = page.getByTestId('judge-result')
    await judged.getByText(`${want.region_name}（${want.region_code}）`).waitFor()
    await judged.getByText('在图形内').waitFor()
    // A click on the map judges too while the tab is open.
    const box = await page.getByTestId('map-canvas').boundingBox()
    const clicked = page.waitForResponse((r) => r.url().endsWith('/api/v1/map/judge'))
    await page.mouse.click(box.x + box.width / 3, box.y + box.height / 2)
    assert.ok((await clicked).ok())

    // Leaving the page with components on tears the map down cleanly.
    await page.getByRole('tab', { name: '图层展示' }).click()
    for (const key of ['heat', 'million', 'moving', 'ripple']) await page.getByTestId(`comp-${key}`).click()
    await page.getByTestId('million-info').getByText('1,000,000 个点').waitFor()
    await page.getByTestId('menu-home').click()
    await page.waitForURL(`${BASE}/`)
    await page.getByTestId('home-profile').waitFor()

    assert.deepEqual(errors, [])
    assert.deepEqual(foreign, [])
  } finally {
    await context.close()
  }
})

test('mobile map: the map renders on a phone and a tap tells the region', async () => {
  const { context, page, errors } = await newPage(browser, { width: 390, height: 844 })
  try {
    await page.goto(`${BASE}/m/login`)
    await page.locator('input[name="username"]').fill('city.leader')
    await page.locator('input[name="password"]').fill(DEMO_PASSWORD)
    await page.getByRole('button', { name: '登录' }).click()
    await page.waitForURL(/\/m\/me/)
    await page.getByTestId('m-tab-map').click()
    await page.waitForURL(/\/m\/map/)
    const canvas = page.locator('[data-testid="m-map"] canvas.maplibregl-canvas')
    await canvas.waitFor()
    const box = await canvas.boundingBox()
    assert.ok(box && box.width >= 380 && box.height > 500, `canvas fills the screen: ${JSON.stringify(box)}`)
    assert.equal(await page.getByTestId('map-failed').count(), 0, 'WebGL map created')
    await page.locator('.tg-region-label').first().waitFor()

    // A tap in 云城区 (the county label is inside it).
    const label = await page.locator('.tg-region-label', { hasText: '云城区' }).boundingBox()
    assert.ok(label, 'county label shown')
    await page.mouse.click(label.x + label.width / 2, label.y + label.height + 12)
    const where = page.getByTestId('m-map-where')
    await where.getByText('（WGS-84）').waitFor()
    const [lon, lat] = (await where.innerText()).match(/(\d+\.\d+), (\d+\.\d+)（WGS-84）/).slice(1).map(Number)
    const [want] = await api(page, '/api/v1/map/judge', { points: [[lon, lat]] })
    assert.ok(want.region_code?.startsWith('445302'), JSON.stringify(want))
    await where.getByText(`${want.region_name}（${want.region_code}）`).waitFor()

    // The first layer is drawn as its style says (聚合); the picker switches components.
    await page.locator('.tg-cluster').first().waitFor()
    await page.getByTestId('m-map-layers').click()
    await page.getByTestId('m-map-picker').getByText('事件分布（演示）').waitFor()
    assert.match(await page.getByTestId('m-comp-cluster').getAttribute('class'), /van-switch--on/)
    const heat = page.waitForResponse((r) => r.url().includes('/heat?') && r.ok())
    await page.getByTestId('m-comp-heat').click()
    await heat
    assert.match(await page.getByTestId('m-comp-heat').getAttribute('class'), /van-switch--on/)
    assert.deepEqual(errors, [])
  } finally {
    await context.close()
  }
})

test('PC map: a town user imports a CSV (errors reported, valid rows written) and exports the layer', async () => {
  const { context, page, errors } = await newPage(browser)
  const fs = await import('node:fs')
  const os = await import('node:os')
  const path = await import('node:path')
  try {
    await login(page, 'yc.town')
    await page.goto(`${BASE}/map`)
    await page.locator('[data-testid="map-canvas"] canvas.maplibregl-canvas').waitFor()
    await page.getByTestId('layer-select').click()
    await page.getByTestId('layer-option-demo_events').click()
    // A point inside the town's (demo) boundary: ask the judgment service, as a user would click.
    const town = (await api(page, '/api/v1/map/boundaries?level=town')).features.find((f) => f.properties.code === '445302001')
    const ring = town.geometry.type === 'Polygon' ? town.geometry.coordinates[0] : town.geometry.coordinates[0][0]
    const xs = ring.map((c) => c[0])
    const ys = ring.map((c) => c[1])
    const candidates = []
    for (let i = 1; i < 10; i++) for (let j = 1; j < 10; j++) candidates.push([Math.min(...xs) + ((Math.max(...xs) - Math.min(...xs)) * i) / 10, Math.min(...ys) + ((Math.max(...ys) - Math.min(...ys)) * j) / 10])
    const judged = await api(page, '/api/v1/map/judge', { points: candidates })
    const inside = judged.find((j) => (j.region_code ?? '').startsWith('445302001'))
    assert.ok(inside, 'a point of the town')
    const before = (await api(page, '/api/v1/map/layers?q=demo_events')).items[0].feature_count
    const csv = `名称,经度,纬度,事件类型,办理状态\n导入测试甲,${inside.lon},${inside.lat},矛盾纠纷,待受理\n导入测试乙,${inside.lon},${inside.lat},矛盾纠纷,\n`
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'tg-import-')), '事件.csv')
    fs.writeFileSync(file, csv)

    await page.getByTestId('map-import-open').click()
    await page.getByTestId('map-import-partial').click()
    await page.getByTestId('map-import-file').setInputFiles(file)
    // Validation: row 3 lacks its status; nothing written yet.
    await page.getByTestId('map-import-errors').waitFor()
    assert.match(await page.getByTestId('map-import-errors').innerText(), /共 2 行，1 行正确/)
    await page.getByRole('cell', { name: '办理状态为必填项' }).waitFor()
    await page.getByTestId('map-import-commit').click()
    await page.getByTestId('map-import-done').waitFor()
    assert.match(await page.getByTestId('map-import-done').innerText(), /已导入 1 条/)
    const after = (await api(page, '/api/v1/map/layers?q=demo_events')).items[0].feature_count
    assert.equal(after, before + 1)
    await page.keyboard.press('Escape')

    // Export the whole layer (in the town's scope) as GeoJSON.
    const download = page.waitForEvent('download')
    await page.getByTestId('map-export').click()
    await page.getByText('全部要素（GeoJSON）').click()
    const d = await download
    const saved = path.join(path.dirname(file), 'export.geojson')
    await d.saveAs(saved)
    const fc = JSON.parse(fs.readFileSync(saved, 'utf8'))
    assert.ok(fc.features.some((f) => f.properties.name === '导入测试甲'))
    assert.ok(fc.features.every((f) => f.properties.region_code.startsWith('445302001')))

    // 要素编辑: add a point with its attributes, rename it (the version travels along), delete it.
    const name = `手工新增点${Date.now().toString(36)}`
    await page.getByRole('tab', { name: '要素编辑' }).click()
    await page.getByTestId('feature-add').click()
    await field(page, 'feature-form-name').fill(name)
    await field(page, 'feature-form-category').fill('治安隐患')
    await field(page, 'feature-form-status').fill('待受理')
    await field(page, 'feature-form-lon').fill(String(inside.lon))
    await field(page, 'feature-form-lat').fill(String(inside.lat))
    await page.getByTestId('feature-form-submit').click()
    await page.getByText('已保存').first().waitFor()
    const search = page.getByTestId('feature-panel').locator('input[placeholder="按名称查找"]')
    await search.fill(name)
    await search.press('Enter')
    await page.getByTestId('feature-table').getByText(name, { exact: true }).waitFor()
    const layerId = (await api(page, '/api/v1/map/layers?q=demo_events')).items[0].id
    const added = (await api(page, `/api/v1/map/layers/${layerId}/features?q=${encodeURIComponent(name)}`)).items[0]
    assert.equal(added.properties.category, '治安隐患')
    assert.equal(added.region_code.slice(0, 9), '445302001')
    const row = page.getByTestId('feature-table').locator('tr', { hasText: name })
    await row.getByRole('button', { name: '编辑' }).click()
    await field(page, 'feature-form-name').fill(`${name}（改）`)
    await page.getByTestId('feature-form-submit').click()
    await page.getByTestId('feature-table').getByText(`${name}（改）`).waitFor()
    await page.getByTestId('feature-table').locator('tr', { hasText: `${name}（改）` }).getByRole('button', { name: '删除' }).click()
    await page.locator('.el-message-box').getByRole('button', { name: '删除' }).click()
    await page.getByTestId('feature-table').getByText(`${name}（改）`).waitFor({ state: 'detached' })
    assert.deepEqual(errors, [])
  } finally {
    await context.close()
  }
})
