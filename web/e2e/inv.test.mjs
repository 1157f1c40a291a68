// 招商引资 in a browser: one project through its whole life, each step done by the person whose
// step it is — 首接 (暂存, edit, 提交审核) by 云城区's staff, 退回 with a reason by the county leader
// and the resubmission from 我的待办, the leader's approval on the phone, an amount change in 在谈
// (修改日志 with before/after), 流转 to 云安区 and its confirmation there, 评审备案资料 with a PDF,
// the leader's approval, 签约信息, 市投促 复核, 补充签约信息 and 达标达产信息, and 市投促's final
// approval: the stage shows 达标达产 and the steps and the timeline list every step in order.
// Expectations come from the API's answers, not from demo numbers.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { BASE, DEMO_PASSWORD, field, launch, newPage, login } from './helpers.mjs'

let browser
/** username → { context, page, errors } (PC sessions, signed in once) */
const sessions = new Map()
before(async () => {
  browser = await launch()
})
after(async () => {
  for (const s of sessions.values()) await s.context.close()
  await browser?.close()
})

const stamp = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 5)}`
const NAME = `E2E 云城电子元件项目 ${stamp}`
const REASON_RETURN = `请补充投资方所在地和备注（测试退回 ${stamp}）`
const REASON_TRANSFER = `项目选址调整至云安区（测试流转 ${stamp}）`
/** Today in Beijing (the server's calendar). */
const TODAY = new Date(Date.now() + 8 * 3600 * 1000).toISOString().slice(0, 10)
const PDF = Buffer.from('%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n')

/** What the steps share: the project and its workflow instance. */
const S = { id: 0, instance: 0, amount: 8800, newAmount: 9650 }

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

/** A PC session of a demo account, signed in once and kept for the file. */
async function as(username) {
  let s = sessions.get(username)
  if (!s) {
    s = await newPage(browser)
    s.page.setDefaultTimeout(15_000)
    sessions.set(username, s)
    await login(s.page, username)
    await s.page.waitForURL(`${BASE}/`)
  }
  return s
}

/** Waits for the answer of an API call (method, exact path or a test on the path). */
function answer(page, method, path) {
  return page.waitForResponse((r) => {
    if (r.request().method() !== method) return false
    const p = new URL(r.url()).pathname
    return typeof path === 'string' ? p === path : path.test(p)
  })
}

/** The JSON of an answer that must be a success. */
async function ok(resPromise, what) {
  const res = await resPromise
  const text = await res.text()
  assert.ok(res.ok(), `${what}: ${res.status()} ${text}`)
  return text ? JSON.parse(text) : null
}

/** Picks an option of an el-select (typing first into a filterable one). */
async function choose(page, testId, text, typed) {
  await page.getByTestId(testId).click()
  if (typed) await field(page, testId).pressSequentially(typed)
  await page.locator('.el-select-dropdown__item:visible', { hasText: text }).first().click()
}

/** Types a date into an el-date-picker. */
async function pickDate(page, testId, date) {
  const input = field(page, testId)
  await input.click()
  await input.fill(date)
  await input.press('Enter')
  await page.keyboard.press('Escape')
}

const projectPath = () => `/api/v1/inv/projects/${S.id}`
const actPath = () => `/api/v1/wf/instances/${S.instance}/act`

/** Opens the project's detail page, checks it shows the project as the API has it, and returns that. */
async function openDetail(page, tab) {
  // The project is read through the API after the navigation, not caught from the page's traffic:
  // the page's own reload after an action can answer a waiter, and the navigation then discards
  // that answer's body (a race seen twice in CI).
  await page.goto(`${BASE}/inv/projects/${S.id}${tab ? `?tab=${tab}` : ''}`)
  const d = await api(page, projectPath())
  await page.getByTestId('inv-detail-name').getByText(d.project.name, { exact: true }).waitFor()
  await page.locator(`[data-testid="inv-stage"][data-stage="${d.project.stage}"]`).waitFor()
  return d
}

/** Clicks a workflow action of the WfActionPanel, fills its dialog and returns the WfView answered. */
async function act(page, action, { comment, region, returnTo } = {}) {
  await page.getByTestId(`wf-act-${action}`).click()
  const dialog = page.locator('[data-testid="wf-act-dialog"]:visible')
  await dialog.getByTestId('wf-act-confirm').waitFor()
  if (returnTo) await choose(page, 'wf-return-target', returnTo)
  if (region) await choose(page, 'wf-region', region)
  if (comment) await field(page, 'wf-comment').fill(comment)
  const acted = answer(page, 'POST', actPath())
  await dialog.getByTestId('wf-act-confirm').click()
  const res = await acted
  const body = await res.json()
  assert.ok(res.ok(), `${action}: ${res.status()} ${JSON.stringify(body)}`)
  assert.equal(res.request().postDataJSON().action, action)
  return body
}

/** Opens a material's tab (material-driven steps have no action button: submitting the material moves
 *  the workflow), fills its fields, attaches a PDF (when given) and submits it; returns the ProjectDetail answered. */
async function submitMaterial(page, kind, values, file) {
  await page.getByTestId(`inv-tab-${kind}`).click()
  const form = page.locator(`[data-testid="inv-mat-${kind}"][data-editable="true"]`)
  await form.waitFor()
  for (const [key, v] of Object.entries(values)) {
    const id = `inv-mat-field-${kind}-${key}`
    if (/^\d{4}-\d{2}-\d{2}$/.test(String(v))) await pickDate(page, id, v)
    else await field(page, id).fill(String(v))
  }
  if (file) {
    await choose(page, `inv-upload-doc-type-${kind}`, file.docType)
    const uploaded = answer(page, 'POST', '/api/v1/inv/files')
    await page.getByTestId(`inv-upload-${kind}`).setInputFiles({ name: file.name, mimeType: 'application/pdf', buffer: PDF })
    const ref = await ok(uploaded, `upload for ${kind}`)
    assert.equal(ref.name, file.name)
    assert.equal(ref.doc_type, file.docType)
    await page.getByTestId(`inv-files-${kind}`).getByText(file.name, { exact: true }).waitFor()
  }
  const saved = answer(page, 'PUT', `${projectPath()}/materials/${kind}`)
  await page.getByTestId(`inv-mat-submit-${kind}`).click()
  const res = await saved
  const body = await res.json()
  assert.ok(res.ok(), `submit ${kind}: ${res.status()} ${JSON.stringify(body)}`)
  const sent = res.request().postDataJSON()
  assert.equal(sent.submit, true)
  const m = body.materials.find((x) => x.kind === kind && x.status === 'submitted')
  assert.ok(m, `the ${kind} material is submitted`)
  for (const [key, v] of Object.entries(values)) assert.equal(String(m.data[key]), String(v), `${kind}.${key}`)
  if (file) assert.ok(m.files.some((f) => f.name === file.name), `${kind} keeps its attachment`)
  await page.locator(`[data-testid="inv-stage"][data-stage="${body.project.stage}"]`).waitFor()
  return body
}

async function mobileLogin(page, username) {
  await page.goto(`${BASE}/m/login`)
  await page.locator('input[name="username"]').fill(username)
  await page.locator('input[name="password"]').fill(DEMO_PASSWORD)
  await page.getByRole('button', { name: '登录' }).click()
  await page.waitForURL(/\/m\/me/)
}

/** The steps build on each other: after a failed one the rest are skipped. */
let broken = ''
function step(name, fn) {
  test(name, async (t) => {
    if (broken) return t.skip(`an earlier step failed: ${broken}`)
    try {
      await fn()
    } catch (e) {
      broken = name
      throw e
    }
  })
}

function noErrors(...users) {
  for (const u of users) assert.deepEqual(sessions.get(u)?.errors ?? [], [], `console errors of ${u}`)
}

step('首接: 云城区 staff create a draft (暂存), edit it and submit it for county review', async () => {
  const { page } = await as('yc.inv')
  await page.goto(`${BASE}/inv/projects`)
  await page.getByTestId('inv-table').waitFor()
  await page.getByTestId('inv-new').click()
  await page.waitForURL(`${BASE}/inv/projects/new`)

  await field(page, 'inv-f-name').fill(NAME)
  await choose(page, 'inv-f-industry_code', 'C39 ', 'C39')
  await field(page, 'inv-f-investor').fill('广州某电子科技有限公司')
  await field(page, 'inv-f-amount').fill(String(S.amount))
  await field(page, 'inv-f-contact_name').fill('李经理')
  await field(page, 'inv-f-contact_phone').fill('13922220001')
  const options = await api(page, '/api/v1/inv/options')
  const source = options.sources[1] ?? options.sources[0]
  await choose(page, 'inv-f-source', source)
  await pickDate(page, 'inv-f-first_contact_date', TODAY)

  const created = answer(page, 'POST', '/api/v1/inv/projects')
  await page.getByTestId('inv-save-draft').click()
  const res = await created
  const d = await res.json()
  assert.equal(res.status(), 201, JSON.stringify(d))
  assert.equal(res.request().postDataJSON().submit, false)
  assert.equal(d.project.stage, 'draft')
  assert.equal(d.project.name, NAME)
  assert.equal(d.project.industry_code, 'C39')
  assert.equal(d.project.amount, S.amount)
  assert.equal(d.project.source, source)
  assert.equal(d.project.first_contact_date, TODAY)
  assert.equal(d.project.region_code, '445302')
  assert.ok(d.project.instance_id, 'a workflow instance is started')
  S.id = d.project.id
  S.instance = d.project.instance_id
  await page.waitForURL(`${BASE}/inv/projects/${S.id}`)
  await page.locator('[data-testid="inv-stage"][data-stage="draft"]').waitFor()
  // The list has it as a draft.
  const listed = await api(page, `/api/v1/inv/projects?q=${encodeURIComponent(NAME)}`)
  assert.deepEqual(listed.items.map((p) => [p.id, p.stage]), [[S.id, 'draft']])

  // 编辑: add where the investor comes from.
  await page.getByTestId('inv-edit').click()
  await page.waitForURL(`${BASE}/inv/projects/${S.id}/edit`)
  await page.waitForFunction((n) => document.querySelector('input[data-testid="inv-f-name"], [data-testid="inv-f-name"] input')?.value === n, NAME)
  await field(page, 'inv-f-investor_origin').fill('广东省广州市')
  const updated = answer(page, 'PUT', projectPath())
  await page.getByTestId('inv-save').click()
  const u = await ok(updated, 'edit draft')
  assert.equal(u.project.investor_origin, '广东省广州市')
  assert.equal(u.project.stage, 'draft')
  await page.waitForURL(`${BASE}/inv/projects/${S.id}`)

  // 提交审核 from the detail page.
  await page.locator('[data-testid="inv-stage"][data-stage="draft"]').waitFor()
  const view = await act(page, 'submit')
  assert.equal(view.instance.state, 'county_review')
  await page.locator('[data-testid="inv-stage"][data-stage="county_review"]').waitFor()
  noErrors('yc.inv')
})

step('退回: the county leader returns it with a reason; the staff member finds it in 我的待办 and resubmits', async () => {
  const lead = (await as('yc.invlead')).page
  const tasks = answer(lead, 'GET', '/api/v1/wf/tasks')
  await lead.goto(`${BASE}/inv/review`)
  await ok(tasks, 'review tasks')
  const row = lead.getByTestId('inv-review-table').locator('tr', { hasText: NAME })
  const loaded = answer(lead, 'GET', projectPath())
  await row.getByTestId('inv-review-open').click()
  const shown = await ok(loaded, 'project in the drawer')
  const drawer = lead.getByTestId('inv-review-drawer')
  await drawer.getByTestId('inv-review-stage').getByText(shown.project.stage_name).waitFor()
  // The fields the step hides from the reviewer (the phone) are not shown.
  const phoneLabel = drawer.locator('.el-descriptions__label', { hasText: '联系电话' })
  assert.equal(await phoneLabel.count(), shown.workflow.field_perms.contact_phone === 'hidden' ? 0 : 1)
  const view = await act(lead, 'return', { comment: REASON_RETURN })
  assert.equal(view.instance.state, 'draft')
  const last = view.log[view.log.length - 1]
  assert.equal(last.action, 'return')
  assert.equal(last.comment, REASON_RETURN)
  // The drawer closes and the task leaves 待审核.
  await row.waitFor({ state: 'detached' })

  // 我的待办 of the staff member lists the returned project; it opens the project.
  const staff = (await as('yc.inv')).page
  const inbox = answer(staff, 'GET', '/api/v1/wf/tasks')
  await staff.goto(`${BASE}/wf/inbox`)
  const box = await ok(inbox, 'inbox')
  const mine = box.items.find((t) => t.instance_id === S.instance)
  assert.ok(mine, 'the returned project is a todo of the staff member')
  assert.equal(mine.step, 'draft')
  const taskRow = staff.getByTestId('wf-task-table').locator('tr', { hasText: NAME })
  await taskRow.getByText(mine.step_name).waitFor()
  const opened = answer(staff, 'GET', projectPath())
  await taskRow.getByTestId('wf-task-row').click()
  await staff.waitForURL(`${BASE}/inv/projects/${S.id}`)
  await ok(opened, 'project from the inbox')
  await staff.locator('[data-testid="inv-stage"][data-stage="draft"]').waitFor()
  // The reason is in 审核记录.
  await staff.getByTestId('inv-tab-review').click()
  await staff.getByTestId('wf-log-comment').getByText(REASON_RETURN).waitFor()

  const again = await act(staff, 'submit', { comment: '已补充，请审核' })
  assert.equal(again.instance.state, 'county_review')
  await staff.locator('[data-testid="inv-stage"][data-stage="county_review"]').waitFor()
  noErrors('yc.inv', 'yc.invlead')
})

step('phone: the county leader approves the county review on /m/wf/task', async () => {
  const phone = await newPage(browser, { width: 390, height: 844 })
  try {
    const { page, errors } = phone
    await mobileLogin(page, 'yc.invlead')
    const loaded = answer(page, 'GET', `/api/v1/wf/instances/${S.instance}`)
    await page.goto(`${BASE}/m/wf/task/${S.instance}`)
    const view = await ok(loaded, 'instance on the phone')
    assert.equal(view.instance.state, 'county_review')
    await page.getByTestId('m-wf-title').getByText(NAME, { exact: true }).waitFor()
    const approve = view.actions.find((a) => a.kind === 'transition')
    assert.equal(approve.action, 'approve')
    const button = page.getByTestId('m-wf-approve')
    assert.equal((await button.innerText()).trim(), approve.name)
    // The summary shows the project's facts.
    for (const s of view.instance.summary) await page.locator('[data-testid="m-wf-summary"]', { hasText: s.label }).getByText(s.value, { exact: true }).waitFor()
    await field(page, 'm-wf-comment').fill('同意推进')
    const acted = answer(page, 'POST', actPath())
    await button.click()
    const res = await acted
    const after = await res.json()
    assert.ok(res.ok(), JSON.stringify(after))
    assert.equal(res.request().postDataJSON().action, 'approve')
    assert.equal(after.instance.state, 'negotiating')
    await page.getByTestId('m-wf-state').getByText(after.instance.state_name, { exact: true }).waitFor()
    await page.getByTestId('m-wf-approve').waitFor({ state: 'detached' })
    assert.deepEqual(errors, [])
  } finally {
    await phone.context.close()
  }
})

step('修改日志: the staff member changes the amount in 在谈; the log shows it before and after', async () => {
  const { page } = await as('yc.inv')
  const d = await openDetail(page)
  assert.equal(d.project.stage, 'negotiating')
  assert.equal(d.workflow.field_perms.amount, 'edit')
  await page.getByTestId('inv-edit').click()
  await page.waitForURL(`${BASE}/inv/projects/${S.id}/edit`)
  const amount = field(page, 'inv-f-amount')
  await page.waitForFunction(() => document.querySelector('[data-testid="inv-f-amount"] input, input[data-testid="inv-f-amount"]')?.value !== '')
  await amount.fill(String(S.newAmount))
  const updated = answer(page, 'PUT', projectPath())
  await page.getByTestId('inv-save').click()
  const u = await ok(updated, 'edit amount')
  assert.equal(u.project.amount, S.newAmount)
  await page.waitForURL(`${BASE}/inv/projects/${S.id}`)

  const changes = answer(page, 'GET', `${projectPath()}/changes`)
  await page.getByTestId('inv-tab-changes').click()
  const log = await ok(changes, 'changes')
  const entry = log.items.find((e) => e.changes.some((c) => c.field === 'amount'))
  assert.ok(entry, 'an entry changes the amount')
  const c = entry.changes.find((x) => x.field === 'amount')
  assert.ok(c.before !== null && c.after !== null, 'before and after are given')
  assert.equal(Number(c.before), S.amount)
  assert.equal(Number(c.after), S.newAmount)
  const rows = page.getByTestId('inv-changes').getByTestId('inv-change-row')
  await rows.first().waitFor()
  assert.equal(await rows.count(), log.items.length)
  const row = rows.nth(log.items.indexOf(entry))
  assert.ok((await row.innerText()).includes(c.label), 'the row names the field')
  await row.locator('.el-table__expand-icon').click()
  const diff = page.locator('[data-testid="inv-diff-row"][data-field="amount"]')
  await diff.waitFor()
  assert.equal((await diff.locator('td.before').innerText()).trim(), c.before)
  assert.equal((await diff.locator('td.after').innerText()).trim(), c.after)
  noErrors('yc.inv')
})

step('流转: 云城区 hands the project to 云安区, which confirms it; both keep the history', async () => {
  const yc = (await as('yc.inv')).page
  await openDetail(yc)
  const view = await act(yc, 'transfer_region', { region: '云安区', comment: REASON_TRANSFER })
  assert.equal(view.instance.state, 'transfer')
  assert.equal(view.instance.pending_region, '445303')

  const ya = (await as('ya.inv')).page
  const incoming = answer(ya, 'GET', '/api/v1/inv/transfers')
  await ya.goto(`${BASE}/inv/transfers`)
  const inList = await ok(incoming, 'transfers in')
  const t = inList.items.find((x) => x.project_id === S.id)
  assert.ok(t, 'the transfer is listed as incoming')
  assert.equal(t.status, 'pending')
  assert.equal(t.reason, REASON_TRANSFER)
  assert.equal(t.to_region, '445303')
  const row = ya.getByTestId('inv-transfer-table').locator('tr.el-table__row', { hasText: NAME })
  await row.getByText(REASON_TRANSFER).waitFor()
  await row.getByTestId('inv-transfer-confirm').click()
  const box = ya.locator('.el-message-box')
  await box.waitFor()
  await box.locator('textarea').fill('同意接收')
  const acted = answer(ya, 'POST', actPath())
  await box.getByRole('button', { name: '确认接收' }).click()
  const res = await acted
  const after = await res.json()
  assert.ok(res.ok(), JSON.stringify(after))
  assert.equal(res.request().postDataJSON().action, 'confirm')
  assert.equal(after.instance.state, 'negotiating')
  assert.equal(after.instance.region_code, '445303')
  await row.getByTestId('inv-transfer-status-tag').and(ya.locator('[data-status="confirmed"]')).waitFor()

  // The project is 云安区's now.
  const d = await api(ya, projectPath())
  assert.equal(d.project.region_code, '445303')
  assert.equal(d.project.region_name, '云安区')
  assert.equal(d.project.stage, 'negotiating')

  // 云城区 still sees it in 流出.
  const out = answer(yc, 'GET', '/api/v1/inv/transfers')
  await yc.goto(`${BASE}/inv/transfers`)
  await ok(out, 'transfers (in)')
  const outAnswer = answer(yc, 'GET', '/api/v1/inv/transfers')
  await yc.getByTestId('inv-transfer-tab-out').click()
  const outList = await ok(outAnswer, 'transfers out')
  const o = outList.items.find((x) => x.project_id === S.id)
  assert.ok(o, 'the transfer stays in 流出')
  assert.equal(o.status, 'confirmed')
  const outRow = yc.getByTestId('inv-transfer-table').locator('tr.el-table__row', { hasText: NAME })
  await outRow.locator('[data-testid="inv-transfer-status-tag"][data-status="confirmed"]').waitFor()
  assert.ok((await outRow.innerText()).includes('云城区'))
  assert.ok((await outRow.innerText()).includes('云安区'))
  noErrors('yc.inv', 'ya.inv')
})

step('云安区 to 达标达产: 评审备案, approval, 签约, 市投促 复核, 补充签约, 达标达产 and the final approval', async () => {
  const staff = (await as('ya.inv')).page
  const lead = (await as('ya.invlead')).page
  const city = (await as('city.inv')).page

  // 评审备案资料 with a PDF.
  let d = await openDetail(staff)
  assert.equal(d.project.region_code, '445303')
  await staff.locator('.facts', { hasText: '所属县区' }).getByText(d.project.region_name, { exact: true }).waitFor()
  d = await submitMaterial(
    staff,
    'filing',
    { summary: '年产电子元件5000万件，建设标准厂房三栋。', review_date: TODAY, opinion: '同意备案' },
    { name: `评审报告-${stamp}.pdf`, docType: '评审报告' }
  )
  assert.equal(d.project.stage, 'filing_review')

  // The 云安区 leader approves on 县区在谈项目审核.
  const tasks = answer(lead, 'GET', '/api/v1/wf/tasks')
  await lead.goto(`${BASE}/inv/review`)
  await ok(tasks, 'review tasks')
  const row = lead.getByTestId('inv-review-table').locator('tr', { hasText: NAME })
  const loaded = answer(lead, 'GET', projectPath())
  await row.getByTestId('inv-review-open').click()
  await ok(loaded, 'project in the drawer')
  const drawer = lead.getByTestId('inv-review-drawer')
  // The submitted material and its attachment are shown to the reviewer.
  await drawer.locator('a.file-link', { hasText: `评审报告-${stamp}.pdf` }).waitFor()
  let view = await act(lead, 'approve', { comment: '评审资料齐全，同意' })
  assert.equal(view.instance.state, 'filed')
  await row.waitFor({ state: 'detached' })

  // 签约信息 with the agreement.
  await openDetail(staff)
  d = await submitMaterial(
    staff,
    'signing',
    { sign_date: TODAY, contract_amount: S.newAmount, party: '云安区人民政府', contract_no: `YA-${stamp}` },
    { name: `投资协议-${stamp}.pdf`, docType: '投资协议' }
  )
  assert.equal(d.project.stage, 'sign_review')

  // 市投促 复核通过 on the detail page.
  await openDetail(city)
  view = await act(city, 'approve', { comment: '签约信息复核无误' })
  assert.equal(view.instance.state, 'signed')
  await city.locator('[data-testid="inv-stage"][data-stage="signed"]').waitFor()

  // 补充签约信息 (no state change) and 达标达产信息.
  await openDetail(staff)
  d = await submitMaterial(staff, 'supplement', { sign_date: TODAY, content: '追加二期用地20亩。', amount_change: 1200 })
  assert.equal(d.project.stage, 'signed')
  d = await submitMaterial(
    staff,
    'production',
    { evidence: '2026年产值达到协议约定标准，纳税达标。', production_date: TODAY },
    { name: `达产佐证-${stamp}.pdf`, docType: '达产佐证' },
  )
  assert.equal(d.project.stage, 'production_review')
  assert.equal(d.materials.find((m) => m.kind === 'production').data.project_name, NAME)

  // 市投促 approves: 达标达产.
  await openDetail(city)
  view = await act(city, 'approve', { comment: '达标达产，审核通过' })
  assert.equal(view.instance.state, 'producing')
  assert.equal(view.instance.status, 'completed')
  const done = await openDetail(city)
  assert.equal(done.project.stage, 'producing')
  await city.getByTestId('inv-stage').getByText(done.project.stage_name, { exact: true }).waitFor()

  // The whole log, in order, from the API.
  const inst = await api(city, `/api/v1/wf/instances/${S.instance}`)
  const actions = inst.log.map((e) => e.action)
  const expected = ['start', 'submit', 'return', 'submit', 'approve', 'transfer_region', 'confirm', 'submit_filing', 'approve', 'submit_signing', 'approve', 'supplement', 'submit_production', 'approve']
  let at = -1
  for (const a of expected) {
    const next = actions.indexOf(a, at + 1)
    assert.ok(next > at, `log has ${a} after position ${at}: ${actions.join(', ')}`)
    at = next
  }
  const path = inst.log.filter((e) => e.from_state !== e.to_state).map((e) => e.to_state)
  assert.deepEqual(path, ['county_review', 'draft', 'county_review', 'negotiating', 'transfer', 'negotiating', 'filing_review', 'filed', 'sign_review', 'signed', 'production_review', 'producing'])
  const seqs = inst.log.map((e) => e.seq)
  assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b), 'oldest first')

  // StageSteps: every stage finished.
  const def = await api(city, `/api/v1/wf/definitions/inv_project?version=${inst.instance.def_version}`)
  const stages = def.states.filter((s) => s.kind !== 'transfer')
  const steps = city.getByTestId('stage-steps')
  await steps.waitFor()
  assert.equal(await steps.locator('.el-step').count(), stages.length)
  assert.deepEqual((await steps.locator('.el-step__title').allTextContents()).map((s) => s.trim()), stages.map((s) => s.name))
  assert.equal(await steps.locator('.el-step__head.is-success').count(), stages.length)

  // 审核记录: every log entry, in order.
  await city.getByTestId('inv-tab-review').click()
  const entries = city.getByTestId('wf-log-entry')
  await entries.first().waitFor()
  assert.equal(await entries.count(), inst.log.length)
  assert.deepEqual(await entries.evaluateAll((els) => els.map((e) => e.getAttribute('data-action'))), actions)
  noErrors('ya.inv', 'ya.invlead', 'city.inv')

  // The finished project cannot be deleted (only drafts and projects in negotiation can): the page
  // offers no 删除, and the project stays as test data (its name says E2E).
  assert.equal(await city.getByTestId('inv-delete').count(), 0)
})
