// 掌上数窗 in a browser: the phone dashboard renders with the viewer's watermark, a click on a county
// bar drills the PC dashboard into that county, a follow whose threshold the current value crosses
// (and a value load crossing another threshold) sends an ind.alert message, a 批示 goes from the
// leader to the department and back (下达 → 回复 → 办结), and 关联搜索 finds indicators by Chinese
// and by pinyin initials, and 生成统计报告 writes the 青年创业 行业统计报告 with the API's numbers.
// Expectations come from the API's answers, not from demo numbers.
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

const TOPIC = 'eco_env'
const DASHBOARD = `/api/v1/ind/topics/${TOPIC}/dashboard`
const CARTESIAN = ['bar', 'pareto', 'rank', 'dual', 'line']

/** Calls the API with the page's session (cookie + the client's CSRF header). */
async function api(page, path, body, method) {
  return page.evaluate(
    async ({ path, body, method }) => {
      const res = await fetch(path, {
        method: method ?? (body ? 'POST' : 'GET'),
        headers: { 'X-Requested-With': 'tongguan', 'Content-Type': 'application/json', Accept: 'application/json' },
        body: body ? JSON.stringify(body) : undefined,
        credentials: 'same-origin',
      })
      if (!res.ok) throw new Error(`${method ?? (body ? 'POST' : 'GET')} ${path}: ${res.status} ${await res.text()}`)
      return res.status === 204 ? null : res.json()
    },
    { path, body, method },
  )
}

/** A number as the page shows it (IndChart's fmtValue). */
function shown(v) {
  return v === null || v === undefined ? '—' : v.toLocaleString('zh-CN', { maximumFractionDigits: 2 })
}

const isDashboard = (r, region) => {
  const u = new URL(r.url())
  return u.pathname === DASHBOARD && r.request().method() === 'GET' && (region === undefined || u.searchParams.get('region') === region)
}

/** Opens the PC dashboard and returns the API's answer the page drew. */
async function openPcDashboard(page) {
  const answer = page.waitForResponse((r) => isDashboard(r))
  await page.goto(`${BASE}/ind/topic/${TOPIC}`)
  const res = await answer
  assert.ok(res.ok(), `dashboard ${res.status()}`)
  const dash = await res.json()
  await page.getByTestId('ind-topic-name').getByText(dash.topic.name, { exact: true }).waitFor()
  return dash
}

/** The first card of the dashboard with a value, and its widget. */
function firstCard(dash, pred = () => true) {
  for (const w of dash.widgets) {
    for (const c of w.cards ?? []) {
      const ind = w.indicators.find((i) => i.code === c.code)
      if (c.value !== null && ind && pred(c, ind, w)) return { widget: w, card: c, ind }
    }
  }
  return null
}

/** Opens a widget's menu and picks an entry (Element Plus teleports the menu to the body; entries
 *  are named `{entry}-{widget id}`). */
async function widgetMenu(page, widgetId, entry) {
  await page.getByTestId(`widget-${widgetId}`).scrollIntoViewIfNeeded()
  await page.getByTestId(`widget-menu-${widgetId}`).click()
  await page.getByTestId(`${entry}-${widgetId}`).click()
}

async function mobileLogin(page, username) {
  await page.goto(`${BASE}/m/login`)
  await page.locator('input[name="username"]').fill(username)
  await page.locator('input[name="password"]').fill(DEMO_PASSWORD)
  await page.getByRole('button', { name: '登录' }).click()
  await page.waitForURL(/\/m\/me/)
}

test('phone: a leader opens 生态环境, widgets render, the watermark names the viewer', async () => {
  const { context, page, errors } = await newPage(browser, { width: 390, height: 844 })
  try {
    await mobileLogin(page, 'city.leader')
    await page.getByTestId('m-tab-ind').click()
    await page.waitForURL(/\/m\/ind$/)
    const topics = await api(page, '/api/v1/ind/topics')
    const eco = topics.find((t) => t.code === TOPIC)
    assert.ok(eco, 'the 生态环境 topic is listed')
    const answer = page.waitForResponse((r) => isDashboard(r))
    await page.getByTestId(`m-topic-${TOPIC}`).click()
    await page.waitForURL(new RegExp(`/m/ind/topic/${TOPIC}`))
    const dash = await (await answer).json()
    assert.ok(dash.widgets.length > 0, 'the topic has widgets')
    await page.getByTestId('ind-topic-name').getByText(eco.name).waitFor()

    // Charts draw on canvases; cards show the API's numbers.
    const charted = dash.widgets.filter((w) => !['card', 'carousel'].includes(w.chart) && w.series.some((s) => s.values.some((v) => v !== null)))
    assert.ok(charted.length > 0, 'some widget is a chart with data')
    await page.locator(`[data-testid="widget-${charted[0].id}"] canvas`).first().waitFor()
    assert.ok((await page.locator('[data-testid="m-ind-dashboard"] canvas').count()) >= 1)
    const fc = firstCard(dash)
    if (fc) {
      const value = page.locator(`[data-testid="widget-${fc.widget.id}"] [data-testid="ind-card"][data-code="${fc.card.code}"] [data-testid="ind-card-value"]`)
      assert.equal((await value.textContent()).trim(), shown(fc.card.value))
    }

    // The watermark: SVG text drawn into the page with the viewer's name and account.
    const me = await api(page, '/api/v1/auth/me')
    const texts = () => page.locator('[data-testid="ind-watermark"] svg text').allTextContents()
    const all = (await texts()).join('\n')
    assert.ok(all.includes(me.display_name), `watermark has ${me.display_name}`)
    assert.ok(all.includes(me.username), `watermark has ${me.username}`)
    const style = await page.getByTestId('ind-watermark').evaluate((el) => getComputedStyle(el))
    assert.equal(style.pointerEvents, 'none')
    assert.equal(style.position, 'fixed')
    // Removed, it comes back.
    await page.evaluate(() => document.querySelector('[data-testid="ind-watermark"]').remove())
    await page.locator('[data-testid="ind-watermark"] svg text').first().waitFor()
    assert.ok((await texts()).join('\n').includes(me.username))

    // The indicator detail from a widget's menu (numbers first).
    if (fc) {
      await page.getByTestId(`widget-menu-${fc.widget.id}`).click()
      await page.locator('.van-action-sheet__item', { hasText: '指标详情' }).first().click()
      await page.waitForURL(/\/m\/ind\/indicator\//)
      await page.getByTestId('m-detail-value').waitFor()
      assert.ok((await page.locator('[data-testid="ind-watermark"] svg text').allTextContents()).join('').includes(me.display_name))
    }
    assert.deepEqual(errors, [])
  } finally {
    await context.close()
  }
})

test('PC: clicking a county bar drills the dashboard into the county and back', async () => {
  const { context, page, errors } = await newPage(browser)
  try {
    await login(page, 'city.leader')
    await page.waitForURL(`${BASE}/`)
    await page.getByTestId('menu-ind-topics').click()
    await page.waitForURL(`${BASE}/ind`)
    await page.getByTestId(`topic-${TOPIC}`).waitFor()
    const dash = await openPcDashboard(page)
    const me = await api(page, '/api/v1/auth/me')
    assert.equal(dash.region_code, me.scope.region_code, 'opens on the scope region')

    const w = dash.widgets.find((x) => x.by === 'region' && CARTESIAN.includes(x.chart) && x.x_codes.length > 0)
    assert.ok(w, 'the topic has a chart by region')
    const chart = page.locator(`[data-testid="widget-${w.id}"] [data-testid="ind-chart"]`)
    await chart.scrollIntoViewIfNeeded()
    await chart.locator('canvas').first().waitFor()
    await page.waitForFunction((id) => document.querySelector(`[data-testid="widget-${id}"] [data-testid="ind-chart"]`)?.getAttribute('data-points'), w.id)
    const points = JSON.parse(await chart.getAttribute('data-points'))
    assert.equal(points.length, w.x_codes.length)
    const i = 0
    const county = w.x_codes[i]
    const box = await chart.boundingBox()
    const drilled = page.waitForResponse((r) => isDashboard(r, county))
    await page.mouse.click(box.x + points[i][0], box.y + points[i][1])
    const res = await drilled
    assert.ok(res.ok())
    const sub = await res.json()
    assert.equal(sub.region_code, county)
    await page.waitForURL(new RegExp(`region=${county}`))
    // The breadcrumb follows the region path; the numbers are the county's.
    const crumbs = page.getByTestId('ind-breadcrumb')
    await crumbs.getByText(sub.region_name, { exact: true }).waitFor()
    assert.deepEqual(sub.region_path.map((r) => r.code).slice(-1), [county])
    for (const r of sub.region_path) await crumbs.getByText(r.name, { exact: true }).waitFor()
    const fc = firstCard(sub)
    if (fc) {
      const value = page.locator(`[data-testid="widget-${fc.widget.id}"] [data-testid="ind-card"][data-code="${fc.card.code}"] [data-testid="ind-card-value"]`)
      await value.getByText(shown(fc.card.value), { exact: true }).waitFor()
    }
    const sameWidget = sub.widgets.find((x) => x.id === w.id)
    if (sameWidget?.x_codes.length) {
      await page.waitForFunction(
        ({ id, n }) => JSON.parse(document.querySelector(`[data-testid="widget-${id}"] [data-testid="ind-chart"]`)?.getAttribute('data-points') || '[]').length === n,
        { id: w.id, n: sameWidget.x_codes.length },
      )
    }

    // Back up with the breadcrumb.
    const up = page.waitForResponse((r) => isDashboard(r, dash.region_code))
    await page.getByTestId(`ind-crumb-${dash.region_code}`).click()
    assert.equal((await (await up).json()).region_code, dash.region_code)

    // The period switch reloads with that period.
    const periods = page.waitForResponse((r) => isDashboard(r) && new URL(r.url()).searchParams.has('period'))
    await page.getByTestId('ind-period').click()
    await page.locator('.el-select-dropdown__item:visible').nth(2).click()
    const p = await (await periods).json()
    assert.notEqual(p.period, dash.period)
    await page.getByTestId('ind-period-label').getByText(/年/).waitFor()
    assert.deepEqual(errors, [])
  } finally {
    await context.close()
  }
})

test('follow with a threshold the value crosses: an ind.alert message arrives', async () => {
  const { context, page, errors } = await newPage(browser)
  try {
    await login(page, 'city.leader')
    await page.waitForURL(`${BASE}/`)
    const dash = await openPcDashboard(page)
    // A card whose indicator has a direction: the threshold goes just past the current value.
    const fc = firstCard(dash, (c, ind, w) => ind.direction !== 'none' && w.indicators[0].code === c.code)
    assert.ok(fc, 'a card with a directed indicator')
    for (const f of await api(page, '/api/v1/ind/follows')) {
      if (f.kind === 'indicator' && f.code === fc.card.code) await api(page, `/api/v1/ind/follows/${f.id}`, undefined, 'DELETE')
    }
    const alertsBefore = (await api(page, '/api/v1/messages?page_size=100')).items.filter((m) => m.kind === 'ind.alert').map((m) => m.id)
    const yellow = fc.ind.direction === 'up' ? fc.card.value + 1 : fc.card.value - 1

    await widgetMenu(page, fc.widget.id, 'widget-follow')
    const dialog = page.getByTestId('follow-dialog')
    await dialog.waitFor()
    await field(page, 'follow-yellow').fill(String(yellow))
    const posted = page.waitForResponse((r) => r.url().endsWith('/api/v1/ind/follows') && r.request().method() === 'POST')
    await page.getByTestId('follow-submit').click()
    const res = await posted
    assert.equal(res.status(), 201, await res.text())
    const follow = await res.json()
    assert.equal(follow.light, 'yellow')
    assert.equal(follow.yellow, yellow)

    // The alert is in the message list (kind ind.alert, level warning) and on the messages page.
    let alert
    for (let k = 0; k < 20 && !alert; k++) {
      alert = (await api(page, '/api/v1/messages?page_size=100')).items.find((m) => m.kind === 'ind.alert' && !alertsBefore.includes(m.id))
      if (!alert) await page.waitForTimeout(500)
    }
    assert.ok(alert, 'an ind.alert message')
    assert.equal(alert.level, 'warning')
    await page.getByTestId('message-bell').click()
    await page.waitForURL(`${BASE}/messages`)
    await page.getByTestId('messages-table').getByText(alert.title).first().waitFor()

    // 我的关注 lists it with its yellow light.
    await page.goto(`${BASE}/ind/follows`)
    const row = page.getByTestId('follows-table').locator('tr', { hasText: follow.name })
    await row.locator('[data-testid="follow-light"][data-light="yellow"]').waitFor()
    assert.deepEqual(errors, [])
  } finally {
    await context.close()
  }
})

test('a value load crossing a red threshold alerts the follower', async () => {
  const leader = await newPage(browser)
  const clerk = await newPage(browser)
  try {
    await login(leader.page, 'city.leader')
    await leader.page.waitForURL(`${BASE}/`)
    await login(clerk.page, 'city.clerk')
    await clerk.page.waitForURL(`${BASE}/`)
    const dash = await api(leader.page, DASHBOARD)
    const fc = firstCard(dash, (c, ind) => ind.direction !== 'none' && ind.frequency === 'month')
    assert.ok(fc, 'a monthly directed indicator on a card')
    const county = (await api(leader.page, `/api/v1/ind/indicators/${fc.card.code}/breakdown?period=${fc.card.period}&by=region`)).points.find((p) => p.value !== null)
    assert.ok(county, 'a county with a value')
    for (const f of await api(leader.page, '/api/v1/ind/follows')) {
      if (f.kind === 'indicator' && f.code === fc.card.code && f.region_code === county.region_code) await api(leader.page, `/api/v1/ind/follows/${f.id}`, undefined, 'DELETE')
    }
    // A red threshold well away from the current value: green now.
    const margin = Math.max(Math.abs(county.value) * 0.5, 10)
    const red = fc.ind.direction === 'up' ? county.value - margin : county.value + margin
    const follow = await api(leader.page, '/api/v1/ind/follows', { kind: 'indicator', code: fc.card.code, region_code: county.region_code, red })
    assert.notEqual(follow.light, 'red')
    const before = (await api(leader.page, '/api/v1/messages?page_size=100')).items.filter((m) => m.kind === 'ind.alert').map((m) => m.id)

    // The department loads a value past the threshold.
    const crossing = fc.ind.direction === 'up' ? red - margin : red + margin
    const report = await api(clerk.page, '/api/v1/ind/values', { source: '浏览器测试', rows: [{ indicator: fc.card.code, period: fc.card.period, region_code: county.region_code, value: crossing }] })
    assert.equal(report.errors.length, 0, JSON.stringify(report.errors))

    let alert
    for (let k = 0; k < 20 && !alert; k++) {
      alert = (await api(leader.page, '/api/v1/messages?page_size=100')).items.find((m) => m.kind === 'ind.alert' && !before.includes(m.id))
      if (!alert) await leader.page.waitForTimeout(500)
    }
    assert.ok(alert, 'an ind.alert message after the load')
    assert.equal(alert.level, 'critical')
    await leader.page.goto(`${BASE}/messages`)
    await leader.page.getByTestId('messages-table').getByText(alert.title).first().waitFor()
    // Put the demo value back (and the follow away) so that a second run starts from the same data.
    await api(clerk.page, '/api/v1/ind/values', { source: '浏览器测试（还原）', rows: [{ indicator: fc.card.code, period: fc.card.period, region_code: county.region_code, value: county.value }] })
    await api(leader.page, `/api/v1/ind/follows/${follow.id}`, undefined, 'DELETE')
    assert.deepEqual(leader.errors, [])
    assert.deepEqual(clerk.errors, [])
  } finally {
    await leader.context.close()
    await clerk.context.close()
  }
})

test('批示: the leader writes on a widget, the department replies, the leader closes it', async () => {
  const leader = await newPage(browser)
  const clerk = await newPage(browser)
  const content = `请市生态环境局跟进分析原因并提出措施（测试${Date.now().toString(36)}）`
  const answer = `已组织分析，正在落实整改（测试回复${Date.now().toString(36)}）`
  try {
    await login(leader.page, 'city.leader')
    await leader.page.waitForURL(`${BASE}/`)
    const dash = await openPcDashboard(leader.page)
    const w = dash.widgets[0]
    await widgetMenu(leader.page, w.id, 'widget-instruct')
    await leader.page.getByTestId('instruct-dialog').waitFor()
    await leader.page.getByTestId('instruct-department').click()
    await leader.page.getByRole('option', { name: '云浮市生态环境局', exact: true }).click()
    await field(leader.page, 'instruct-content').fill(content)
    const issued = leader.page.waitForResponse((r) => r.url().endsWith('/api/v1/ind/instructions') && r.request().method() === 'POST')
    await leader.page.getByTestId('instruct-submit').click()
    const res = await issued
    assert.equal(res.status(), 201, await res.text())
    const ins = await res.json()
    assert.equal(ins.department_name, '云浮市生态环境局')
    assert.equal(ins.target, `widget:${TOPIC}/${w.id}`)
    assert.equal(ins.status, 'open')

    // The department's clerk replies from 待我办理.
    await login(clerk.page, 'city.clerk')
    await clerk.page.waitForURL(`${BASE}/`)
    await clerk.page.goto(`${BASE}/ind/instructions`)
    await clerk.page.getByRole('tab', { name: '待我办理' }).click()
    const row = clerk.page.getByTestId('instr-table').locator('tr', { hasText: content })
    await row.getByTestId('instr-open').click()
    const drawer = clerk.page.getByTestId('instr-drawer')
    await drawer.locator('.content', { hasText: content }).waitFor()
    await field(clerk.page, 'instr-reply-input').fill(answer)
    const replied = clerk.page.waitForResponse((r) => r.url().endsWith(`/api/v1/ind/instructions/${ins.id}/reply`))
    await clerk.page.getByTestId('instr-reply').click()
    assert.ok((await replied).ok())
    await clerk.page.getByTestId('instr-detail-status').getByText('已回复').waitFor()

    // The leader closes it from 我下达的; the log reads 下达 → 回复 → 办结.
    await leader.page.goto(`${BASE}/ind/instructions`)
    await leader.page.getByRole('tab', { name: '我下达的' }).click()
    const mine = leader.page.getByTestId('instr-table').locator('tr', { hasText: content })
    await mine.getByTestId('instr-status-tag').getByText('已回复').waitFor()
    await mine.getByTestId('instr-open').click()
    await leader.page.getByTestId('instr-log').getByText(answer).waitFor()
    const closed = leader.page.waitForResponse((r) => r.url().endsWith(`/api/v1/ind/instructions/${ins.id}/close`))
    await leader.page.getByTestId('instr-close').click()
    assert.ok((await closed).ok())
    await leader.page.getByTestId('instr-detail-status').getByText('已办结').waitFor()
    const log = leader.page.getByTestId('instr-log').getByTestId('instr-log-action')
    await log.nth(2).waitFor()
    assert.deepEqual((await log.allTextContents()).map((s) => s.trim()), ['下达', '回复', '办结'])
    const final = await api(leader.page, `/api/v1/ind/instructions/${ins.id}`)
    assert.equal(final.status, 'closed')
    assert.deepEqual(final.log.map((l) => l.action), ['issue', 'reply', 'close'])
    assert.deepEqual(leader.errors, [])
    assert.deepEqual(clerk.errors, [])
  } finally {
    await leader.context.close()
    await clerk.context.close()
  }
})

test('关联搜索: 空气 and the pinyin initials kqzl find indicators', async () => {
  const { context, page, errors } = await newPage(browser)
  try {
    await login(page, 'city.leader')
    await page.waitForURL(`${BASE}/`)
    await page.getByTestId('menu-ind-search').click()
    await page.waitForURL(`${BASE}/ind/search`)
    for (const q of ['空气', 'kqzl']) {
      const expected = await api(page, `/api/v1/ind/search?q=${encodeURIComponent(q)}`)
      assert.ok(expected.indicators.length > 0, `${q} finds indicators`)
      await field(page, 'ind-search-input').fill(q)
      const answered = page.waitForResponse((r) => r.url().includes('/api/v1/ind/search?') && new URL(r.url()).searchParams.get('q') === q)
      await page.getByTestId('ind-search-submit').click()
      await answered
      const hits = page.getByTestId('ind-search-hit')
      await hits.first().waitFor()
      assert.equal(await hits.count(), expected.indicators.length)
      const first = expected.indicators[0].indicator
      await page.getByTestId('ind-search-indicators').getByText(first.name, { exact: true }).first().waitFor()
      if (q === 'kqzl') assert.ok(expected.indicators.some((h) => h.indicator.name.includes('空气')), 'kqzl matches 空气质量')
    }
    // A hit opens the indicator detail with its related indicators.
    await page.getByTestId('ind-search-hit').first().locator('.hit-name').click()
    await page.waitForURL(/\/ind\/indicator\//)
    await page.getByTestId('detail-name').waitFor()
    await page.getByTestId('detail-related').waitFor()
    assert.deepEqual(errors, [])
  } finally {
    await context.close()
  }
})

test('生成统计报告: the 青年创业 dashboard and the indicator page show the 行业统计报告 with the API numbers', async () => {
  const { context, page, errors } = await newPage(browser)
  try {
    await login(page, 'city.leader')
    await page.waitForURL(`${BASE}/`)
    const youth = '/api/v1/ind/topics/youth/dashboard'
    const answer = page.waitForResponse((r) => new URL(r.url()).pathname === youth && r.request().method() === 'GET')
    await page.goto(`${BASE}/ind/topic/youth`)
    const dash = await (await answer).json()
    const w = dash.widgets.find((x) => x.by === 'category' && x.indicators.length > 0)
    assert.ok(w, '青年创业 has a widget by category (行业分布)')
    const code = w.indicators[0].code
    const reportPath = `/api/v1/ind/indicators/${code}/report`
    const isReport = (r) => new URL(r.url()).pathname === reportPath && r.request().method() === 'GET'

    // The header button opens the report of that indicator for the dashboard's region and period.
    const loaded = page.waitForResponse(isReport)
    await page.getByTestId('ind-report').click()
    const res = await loaded
    assert.ok(res.ok(), `report ${res.status()}`)
    const q = new URL(res.url()).searchParams
    assert.equal(q.get('region'), dash.region_code)
    // The same report fetched by the test: the page must show these numbers.
    const expected = await api(page, `${reportPath}?${q}`)
    assert.ok(expected.rows.length > 0, 'the report has category rows')
    const unit = expected.indicator.unit ?? ''

    const report = page.getByTestId('report-dialog').getByTestId('ind-report')
    await report.getByTestId('report-title').getByText(expected.title, { exact: true }).waitFor()
    const text = await report.innerText()
    assert.ok(text.includes('统计报告'), 'the title names a 统计报告')
    assert.ok(text.includes('排名前三'), 'the text names the top three')
    assert.deepEqual((await report.getByTestId('report-paragraph').allTextContents()).map((s) => s.trim()), expected.paragraphs)

    const rows = report.getByTestId('report-row')
    assert.equal(await rows.count(), expected.rows.length)
    for (let i = 0; i < expected.rows.length; i++) {
      const e = expected.rows[i]
      const row = rows.nth(i)
      assert.equal((await row.getByTestId('report-category').textContent()).trim(), e.category)
      assert.equal((await row.getByTestId('report-value').textContent()).trim(), e.value === null ? '—' : `${shown(e.value)}${unit}`)
      assert.equal((await row.getByTestId('report-share').textContent()).trim(), e.share === null ? '—' : `${shown(e.share)}%`)
    }
    // The by-region table, when lower levels have data.
    if (expected.regions.length) {
      const regions = report.getByTestId('report-region')
      assert.equal(await regions.count(), expected.regions.length)
      for (let i = 0; i < expected.regions.length; i++) {
        const p = expected.regions[i]
        const row = report.locator(`[data-testid="report-region"][data-region="${p.region_code}"]`)
        assert.ok((await row.innerText()).includes(p.region_name))
        assert.equal((await row.getByTestId('report-region-value').textContent()).trim(), p.value === null ? '—' : `${shown(p.value)}${unit}`)
      }
    }
    // One watermark overlay (the report's takes over the page's) naming the viewer.
    const me = await api(page, '/api/v1/auth/me')
    assert.equal(await page.getByTestId('ind-watermark').count(), 1)
    assert.ok((await page.locator('[data-testid="ind-watermark"] svg text').allTextContents()).join('\n').includes(me.username))

    // 打印/PDF: audited (kind pdf, target indicator:<code>) before the browser prints the report only.
    await page.evaluate(() => {
      window.__printed = []
      window.print = () => window.__printed.push(document.body.className)
    })
    const audited = page.waitForResponse((r) => r.url().endsWith('/api/v1/ind/exports/audit') && r.request().method() === 'POST')
    await page.getByTestId('report-print').click()
    const audit = await audited
    assert.equal(audit.status(), 204)
    const body = audit.request().postDataJSON()
    assert.equal(body.kind, 'pdf')
    assert.equal(body.target, `indicator:${code}`)
    await page.waitForFunction(() => window.__printed.length === 1)
    assert.ok((await page.evaluate(() => window.__printed[0])).includes('ind-print-report'))

    // The indicator page offers the same report for the indicator.
    await page.goto(`${BASE}/ind/indicator/${code}?region=${dash.region_code}&period=${q.get('period') ?? ''}`)
    await page.getByTestId('detail-name').waitFor()
    const again = page.waitForResponse(isReport)
    await page.getByTestId('detail-report').click()
    assert.ok((await again).ok())
    const second = page.getByTestId('report-dialog').getByTestId('ind-report')
    await second.getByTestId('report-paragraph').first().waitFor()
    assert.ok((await second.innerText()).includes('排名前三'))
    assert.equal(await second.getByTestId('report-row').count(), expected.rows.length)
    assert.deepEqual(errors, [])
  } finally {
    await context.close()
  }
})

test('专题设计: an administrator designs a topic with a bar widget, previews it and deletes it', async () => {
  const { context, page, errors } = await newPage(browser)
  const code = `e2e_design_${Math.random().toString(36).slice(2, 8)}`
  const status = (path) => page.evaluate(async (p) => (await fetch(p, { headers: { 'X-Requested-With': 'tongguan' }, credentials: 'same-origin' })).status, path)
  try {
    await login(page, 'data.admin')
    await page.waitForURL(`${BASE}/`)
    await page.getByTestId('menu-ind-design').click()
    await page.waitForURL(`${BASE}/ind/design`)
    await page.getByTestId('design-table').waitFor()

    // The topic, one group, one widget: 柱形图 of env_aqi by region, the indicator found by the remote search.
    await page.getByTestId('design-create').click()
    const drawer = page.getByTestId('design-drawer')
    await field(page, 'topic-code').fill(code)
    await field(page, 'topic-name').fill(`E2E 设计 ${code}`)
    await field(page, 'topic-description').fill('端到端测试创建的专题')
    await page.getByTestId('group-add').click()
    await field(page, 'group-name-0').fill('空气')
    await page.getByTestId('widget-add-0').click()
    await field(page, 'widget-title-0-0').fill('各县区AQI')
    await page.getByTestId('widget-chart-0-0').click()
    await page.locator('.el-select-dropdown__item:visible', { hasText: '柱形图' }).click()
    await page.getByTestId('widget-by-0-0').click()
    await page.locator('.el-select-dropdown__item:visible', { hasText: '按区域' }).click()
    const searched = page.waitForResponse((r) => new URL(r.url()).pathname === '/api/v1/ind/indicators' && new URL(r.url()).searchParams.get('q') === 'env_aqi')
    await page.getByTestId('widget-indicators-0-0').click()
    await field(page, 'widget-indicators-0-0').pressSequentially('env_aqi')
    await searched
    await page.locator('.el-select-dropdown__item:visible').filter({ has: page.locator('.opt-code', { hasText: /^env_aqi$/ }) }).click()
    await drawer.getByText('分组与组件').click()

    const saved = page.waitForResponse((r) => new URL(r.url()).pathname === '/api/v1/ind/topics' && r.request().method() === 'POST')
    await page.getByTestId('design-save').click()
    const res = await saved
    assert.ok(res.ok(), `create ${res.status()} ${await res.text()}`)

    // The API has the topic with that widget.
    const topic = await api(page, `/api/v1/ind/topics/${code}`)
    assert.equal(topic.groups.length, 1)
    assert.equal(topic.groups[0].widgets.length, 1)
    const w = topic.groups[0].widgets[0]
    assert.equal(w.chart, 'bar')
    assert.equal(w.by, 'region')
    assert.deepEqual(w.indicators, ['env_aqi'])
    assert.equal(w.title, '各县区AQI')

    // 预览: the dashboard draws the bar chart.
    await page.getByTestId('design-preview').click()
    await page.waitForURL(`${BASE}/ind/topic/${code}`)
    await page.getByTestId('ind-topic-name').getByText(topic.name, { exact: true }).waitFor()
    await page.locator(`[data-testid="widget-${w.id}"] canvas`).first().waitFor()

    // Deleted through the UI, the topic is gone.
    await page.goto(`${BASE}/ind/design`)
    await page.getByTestId(`design-delete-${code}`).click()
    const deleted = page.waitForResponse((r) => new URL(r.url()).pathname === `/api/v1/ind/topics/${code}` && r.request().method() === 'DELETE')
    await page.locator('.el-message-box').getByRole('button', { name: '删除' }).click()
    assert.ok((await deleted).ok())
    await page.getByTestId(`design-delete-${code}`).waitFor({ state: 'detached' })
    assert.equal(await status(`/api/v1/ind/topics/${code}`), 404)
    assert.deepEqual(errors, [])
  } finally {
    await context.close()
  }
})
