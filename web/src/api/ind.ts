// 掌上数窗 (云治慧): indicator library, values, topic dashboards and the five abilities (follows,
// search, comments, instructions, exports).
import { ApiError, rawRequest, request, saveBlob } from './http'
import type { Page, PageParams } from './types'
import type { components } from './types.gen'

const P = '/api/v1/ind'

export type Frequency = 'day' | 'month' | 'quarter' | 'year'
export type Direction = 'up' | 'down' | 'none'
export type Agg = 'sum' | 'avg' | 'stock'
export type ChartType = 'card' | 'carousel' | 'bar' | 'dual' | 'pareto' | 'funnel' | 'line' | 'pie' | 'rank'
export type WidgetBy = 'period' | 'region' | 'category'
export type Light = 'green' | 'yellow' | 'red'

// The HTTP shapes come from the generated OpenAPI schemas (types.gen.ts); the string fields that are
// enumerations there are narrowed to their values here, and nested shapes to the narrowed ones.
type S = components['schemas']

export type CatalogNode = Omit<S['CatalogNode'], 'kind' | 'children'> & { kind: 'topic' | 'group'; children: CatalogNode[] }
export type IndicatorCategories = S['Categories']
export type Indicator = Omit<S['Indicator'], 'frequency' | 'agg' | 'direction' | 'chart'> & { frequency: Frequency; agg: Agg; direction: Direction; chart: ChartType }
/** An indicator as created or edited (`version` is required when editing). */
export type IndicatorInput = Omit<S['IndicatorInput'], 'frequency' | 'agg' | 'direction' | 'chart'> & { frequency: Frequency; agg: Agg; direction?: Direction; chart?: ChartType }

export type Relation = 'leading' | 'lagging' | 'part_of' | 'same_topic' | 'has_part'
export type RelatedIndicator = Omit<S['Related'], 'relation' | 'indicator'> & { relation: Relation; indicator: Indicator }

/** 标签属性定义 of the library (GET /attr-defs). */
export interface IndAttrDef {
  code: string
  name: string
  kind: 'text' | 'enum'
  options: string[]
}

export type Point = Omit<S['Point'], 'light'> & { light?: Light | null }
export type Series = Omit<S['SeriesData'], 'indicator' | 'points'> & { indicator: Indicator; points: Point[] }
export type Breakdown = Omit<S['Breakdown'], 'indicator' | 'points' | 'by'> & { indicator: Indicator; points: Point[]; by: 'region' | 'category' }
export type ValueRow = S['ValueRow']

export interface ValueImportError {
  row: number
  field: string
  message: string
}
/** The answer of a value load (POST /values, /values/import): nothing is written when any row is wrong. */
export interface ValueImportReport {
  total: number
  valid: number
  imported: number
  errors: ValueImportError[]
  dry_run: boolean
}

export type TopicBrief = S['TopicBrief']
export type WidgetSpan = Required<S['Span']>
export type Widget = Omit<S['Widget'], 'chart' | 'by'> & { chart: ChartType; by: WidgetBy }
export type TopicGroup = Omit<S['Group'], 'widgets'> & { widgets?: Widget[] }
export type Topic = Omit<S['Topic'], 'groups'> & { groups: TopicGroup[] }
/** A topic as created or edited (专题设计); `version` (the one read) is required when editing. */
export type TopicInput = S['TopicInput']
export type IndicatorBrief = Omit<S['IndicatorBrief'], 'frequency' | 'direction'> & { frequency: Frequency; direction: Direction }
export type WidgetSeries = S['SeriesLine']
export type WidgetCard = Omit<S['Card'], 'light'> & { light?: Light | null }
/** One widget's data: x labels and codes with series (charts) or cards (card, carousel). `drillable`
 *  (by=region) tells which x regions have lower-level data; `period` is a breakdown's period. */
export type WidgetData = Omit<S['WidgetData'], 'chart' | 'by' | 'indicators' | 'cards'> & {
  chart: ChartType
  by: WidgetBy
  indicators: IndicatorBrief[]
  cards: WidgetCard[]
}
export type RegionRef = S['RegionRef']
export type Dashboard = Omit<S['Dashboard'], 'topic' | 'widgets'> & { topic: Topic; widgets: WidgetData[] }

export type Follow = Omit<S['Follow'], 'kind' | 'direction' | 'light'> & { kind: 'indicator' | 'topic'; direction: Direction; light?: Light | null }
export type FollowInput = Omit<S['FollowInput'], 'kind'> & { kind: 'indicator' | 'topic' }

export type SearchHit = Omit<S['IndicatorHit'], 'indicator'> & { indicator: Indicator }
export type SearchResult = Omit<S['SearchResult'], 'indicators' | 'related'> & { indicators: SearchHit[]; related: Indicator[] }

export type Comment = Omit<S['Comment'], 'replies'> & { replies: Comment[] }
export type CommentInput = Omit<S['CommentInput'], 'scope'> & { scope: 'region' | 'dept' }

export type InstructionStatus = 'open' | 'replied' | 'closed'
export type InstructionLog = Omit<S['InstructionStep'], 'action'> & { action: 'issue' | 'reply' | 'return' | 'close' }
export type InstructionContext = S['InstructionContext']
export type Instruction = Omit<S['Instruction'], 'status' | 'log'> & {
  status: InstructionStatus
  log: InstructionLog[]
  /** Not sent (yet): the UI decides from author_id and the department when absent. */
  can_reply?: boolean
  can_close?: boolean
}
export type DeptRef = S['DeptRef']

/** One category of a distribution report: its value, its share of the total (%) and 同比 (the
 *  server always sends the three, null when unknown). */
export type DistributionRow = Required<S['DistributionRow']>
/** GET /indicators/{code}/report: the generated statistics report of an indicator's category
 *  distribution (IND-14 青年创业 行业统计报告): the text paragraph by paragraph, the category rows
 *  (largest first) and the indicator by sub-region for the same period. */
export type DistributionReport = Omit<S['DistributionReport'], 'indicator' | 'rows' | 'regions'> & { indicator: Indicator; rows: DistributionRow[]; regions: Point[] }
export type InstructionInput = S['InstructionInput']

export interface IndicatorQuery extends PageParams {
  q?: string
  catalog_id?: number
  topic?: string
  tag?: string
  key_only?: boolean
}
export interface InstructionQuery extends PageParams {
  box?: 'issued' | 'todo' | 'all'
  status?: InstructionStatus | ''
}

/** A download (the server names the file; `fallback` when it does not). */
async function download(path: string, query: Record<string, string | undefined>, fallback: string): Promise<void> {
  const res = await rawRequest(path, { query })
  const cd = res.headers.get('Content-Disposition') ?? ''
  const star = /filename\*=UTF-8''([^;]+)/i.exec(cd)
  const plain = /filename="?([^";]+)"?/i.exec(cd)
  const name = star ? decodeURIComponent(star[1]) : plain ? plain[1] : fallback
  saveBlob(await res.blob(), name)
}

export const indApi = {
  // Library
  catalog: () => request<CatalogNode[]>(`${P}/catalog`),
  indicators: (q: IndicatorQuery = {}) =>
    request<Page<Indicator>>(`${P}/indicators`, { query: { ...q, key_only: q.key_only ? 'true' : undefined } }),
  indicator: (code: string) => request<Indicator>(`${P}/indicators/${encodeURIComponent(code)}`),
  createIndicator: (i: IndicatorInput) => request<Indicator>(`${P}/indicators`, { method: 'POST', body: i }),
  updateIndicator: (code: string, i: IndicatorInput) => request<Indicator>(`${P}/indicators/${encodeURIComponent(code)}`, { method: 'PUT', body: i }),
  removeIndicator: (code: string) => request<void>(`${P}/indicators/${encodeURIComponent(code)}`, { method: 'DELETE' }),
  related: (code: string) => request<RelatedIndicator[]>(`${P}/indicators/${encodeURIComponent(code)}/related`),
  attrDefs: () => request<IndAttrDef[]>(`${P}/attr-defs`),
  /** Replaces the whole list of 标签属性定义. */
  setAttrDefs: (defs: IndAttrDef[]) => request<IndAttrDef[]>(`${P}/attr-defs`, { method: 'PUT', body: defs }),

  // Values
  series: (code: string, q: { region?: string; from?: string; to?: string; category?: string } = {}) =>
    request<Series>(`${P}/indicators/${encodeURIComponent(code)}/series`, { query: { ...q } }),
  breakdown: (code: string, q: { region?: string; period?: string; by?: 'region' | 'category' } = {}) =>
    request<Breakdown>(`${P}/indicators/${encodeURIComponent(code)}/breakdown`, { query: { ...q } }),
  loadValues: (source: string, rows: ValueRow[]) => request<ValueImportReport>(`${P}/values`, { method: 'POST', body: { source, rows } }),
  /** Validates (dryRun) or loads an .xlsx/CSV file (the raw bytes, named by `filename`). A 422
   *  still carries the row report; other failures throw (the caller shows the message). */
  async importValues(file: File, dryRun: boolean): Promise<ValueImportReport> {
    try {
      return await request<ValueImportReport>(`${P}/values/import`, { method: 'POST', file, query: { filename: file.name, dry_run: String(dryRun) }, silent: true })
    } catch (e) {
      const r = e instanceof ApiError ? (e.report as Partial<ValueImportReport> | undefined) : undefined
      if (r && Array.isArray(r.errors) && typeof r.total === 'number') return r as ValueImportReport
      throw e
    }
  },
  downloadTemplate: () => download(`${P}/values/template`, {}, '指标数据导入模板.xlsx'),
  /** The server-side Excel/CSV export (watermarked and audited by the server). */
  exportIndicator: (code: string, q: { region?: string; from?: string; to?: string; format?: 'xlsx' | 'csv' }, name: string) =>
    download(`${P}/indicators/${encodeURIComponent(code)}/export`, { ...q }, `${name}.${q.format ?? 'xlsx'}`),
  /** Records a client-side export (PNG, PDF) in the audit trail. */
  auditExport: (kind: 'png' | 'pdf', target: string, title: string) =>
    request<void>(`${P}/exports/audit`, { method: 'POST', body: { kind, target, title } }),

  /** The generated distribution report (indicators with categories). */
  report: (code: string, q: { region?: string; period?: string } = {}) =>
    request<DistributionReport>(`${P}/indicators/${encodeURIComponent(code)}/report`, { query: { ...q } }),

  // Topics and dashboards
  topics: () => request<TopicBrief[]>(`${P}/topics`),
  topic: (code: string) => request<Topic>(`${P}/topics/${encodeURIComponent(code)}`),
  createTopic: (t: TopicInput) => request<Topic>(`${P}/topics`, { method: 'POST', body: t }),
  updateTopic: (code: string, t: TopicInput) => request<Topic>(`${P}/topics/${encodeURIComponent(code)}`, { method: 'PUT', body: t }),
  removeTopic: (code: string) => request<void>(`${P}/topics/${encodeURIComponent(code)}`, { method: 'DELETE' }),
  dashboard: (code: string, q: { region?: string; period?: string } = {}) =>
    request<Dashboard>(`${P}/topics/${encodeURIComponent(code)}/dashboard`, { query: { ...q } }),

  // Follows
  follows: () => request<Follow[]>(`${P}/follows`),
  follow: (f: FollowInput, silent = false) => request<Follow>(`${P}/follows`, { method: 'POST', body: f, silent }),
  updateFollow: (id: number, t: { yellow?: number | null; red?: number | null }) =>
    request<Follow>(`${P}/follows/${id}`, { method: 'PUT', body: t }),
  unfollow: (id: number) => request<void>(`${P}/follows/${id}`, { method: 'DELETE' }),

  // Search
  search: (q: string) => request<SearchResult>(`${P}/search`, { query: { q } }),

  // Comments
  comments: (target: string, p: PageParams = {}) => request<Page<Comment>>(`${P}/comments`, { query: { target, ...p } }),
  comment: (c: CommentInput) => request<Comment>(`${P}/comments`, { method: 'POST', body: c }),
  removeComment: (id: number) => request<void>(`${P}/comments/${id}`, { method: 'DELETE' }),

  // Instructions
  instructions: (q: InstructionQuery = {}) => request<Page<Instruction>>(`${P}/instructions`, { query: { ...q } }),
  instruction: (id: number) => request<Instruction>(`${P}/instructions/${id}`),
  instruct: (i: InstructionInput) => request<Instruction>(`${P}/instructions`, { method: 'POST', body: i }),
  reply: (id: number, content: string, version: number) =>
    request<Instruction>(`${P}/instructions/${id}/reply`, { method: 'POST', body: { content, version } }),
  returnInstruction: (id: number, content: string, version: number) =>
    request<Instruction>(`${P}/instructions/${id}/return`, { method: 'POST', body: { content, version } }),
  close: (id: number, content: string, version: number) =>
    request<Instruction>(`${P}/instructions/${id}/close`, { method: 'POST', body: { content, version } }),
  instructionDepartments: () => request<DeptRef[]>(`${P}/instruction-departments`),

  // Options of the library's edit form from the other modules (quiet: a user without dept:read or
  // role:read gets an empty list and keeps the current values).
  departmentOptions: async (): Promise<{ id: number; name: string }[]> =>
    (await request<Page<{ id: number; name: string }>>('/api/v1/departments', { query: { page_size: 500 }, silent: true }).catch(() => ({ items: [] }))).items,
  roleOptions: async (): Promise<{ code: string; name: string }[]> =>
    (await request<Page<{ code: string; name: string }>>('/api/v1/roles', { query: { page_size: 500 }, silent: true }).catch(() => ({ items: [] }))).items,
}

// ---- Labels and formatting shared by the PC, phone and big-screen pages ----

export const FREQUENCY_LABELS: Record<Frequency, string> = { day: '日', month: '月', quarter: '季', year: '年' }
export const DIRECTION_LABELS: Record<Direction, string> = { up: '越大越好', down: '越小越好', none: '无方向' }
export const AGG_LABELS: Record<Agg, string> = { sum: '累加', avg: '均值', stock: '时点' }
export const CHART_LABELS: Record<ChartType, string> = {
  card: '指标卡', carousel: '幻灯片', bar: '柱状图', dual: '双轴图', pareto: '帕累托图', funnel: '漏斗图', line: '折线图', pie: '饼图', rank: '排名',
}
export const RELATION_LABELS: Record<Relation, string> = { leading: '先行指标', lagging: '滞后指标', part_of: '构成', has_part: '分项', same_topic: '同专题' }
export const LIGHT_LABELS: Record<Light, string> = { green: '正常', yellow: '黄色预警', red: '红色预警' }
export const LIGHT_COLORS: Record<Light, string> = { green: '#22a06b', yellow: '#e6a23c', red: '#e5484d' }
export const STATUS_LABELS: Record<InstructionStatus, string> = { open: '办理中', replied: '已回复', closed: '已办结' }
export const ACTION_LABELS: Record<InstructionLog['action'], string> = { issue: '下达', reply: '回复', return: '退回', close: '办结' }

/** A value for display: grouped digits, at most 2 decimals. */
export function fmtValue(v: number | null | undefined, digits = 2): string {
  if (v === null || v === undefined || Number.isNaN(v)) return '—'
  return v.toLocaleString('zh-CN', { maximumFractionDigits: digits })
}

/** A 同比/环比 change with its sign and unit ("%" or "百分点"). */
export function fmtChange(v: number | null | undefined, unit = '%'): string {
  if (v === null || v === undefined || Number.isNaN(v)) return '—'
  const s = v > 0 ? '+' : ''
  return `${s}${v.toLocaleString('zh-CN', { maximumFractionDigits: 2 })}${unit === '百分点' ? '个百分点' : '%'}`
}

/** Whether a change is good, bad or neutral for an indicator of this direction. */
export function changeTone(v: number | null | undefined, direction: Direction): 'good' | 'bad' | 'flat' {
  if (v === null || v === undefined || v === 0 || direction === 'none') return 'flat'
  return (v > 0) === (direction === 'up') ? 'good' : 'bad'
}

/** A period string for display: 2025 → 2025年, 2025Q3 → 2025年第3季度, 2025-10 → 2025年10月, 2025-10-03 → 2025年10月3日. */
export function fmtPeriod(p: string | null | undefined): string {
  if (!p) return '—'
  let m = /^(\d{4})$/.exec(p)
  if (m) return `${m[1]}年`
  m = /^(\d{4})Q([1-4])$/.exec(p)
  if (m) return `${m[1]}年第${m[2]}季度`
  m = /^(\d{4})-(\d{2})$/.exec(p)
  if (m) return `${m[1]}年${Number(m[2])}月`
  m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(p)
  if (m) return `${m[1]}年${Number(m[2])}月${Number(m[3])}日`
  return p
}

export function periodFrequency(p: string): Frequency {
  if (/^\d{4}$/.test(p)) return 'year'
  if (/^\d{4}Q[1-4]$/.test(p)) return 'quarter'
  if (/^\d{4}-\d{2}-\d{2}$/.test(p)) return 'day'
  return 'month'
}

/** `count` periods ending with `latest`, newest first (for the period pickers). */
export function periodsBefore(latest: string, count: number): string[] {
  const out: string[] = []
  const f = periodFrequency(latest)
  if (f === 'year') {
    const y = Number(latest)
    for (let i = 0; i < count; i++) out.push(String(y - i))
  } else if (f === 'quarter') {
    let y = Number(latest.slice(0, 4))
    let q = Number(latest.slice(5))
    for (let i = 0; i < count; i++) {
      out.push(`${y}Q${q}`)
      if (--q === 0) {
        q = 4
        y--
      }
    }
  } else if (f === 'month') {
    let y = Number(latest.slice(0, 4))
    let m = Number(latest.slice(5, 7))
    for (let i = 0; i < count; i++) {
      out.push(`${y}-${String(m).padStart(2, '0')}`)
      if (--m === 0) {
        m = 12
        y--
      }
    }
  } else {
    const d = new Date(`${latest}T00:00:00Z`)
    for (let i = 0; i < count; i++) {
      out.push(d.toISOString().slice(0, 10))
      d.setUTCDate(d.getUTCDate() - 1)
    }
  }
  return out
}

/** The start of a trend window of `n` periods ending with `latest` (for the series API's `from`). */
export function periodWindowStart(latest: string, n: number): string {
  const list = periodsBefore(latest, n)
  return list[list.length - 1]
}

/** The light an indicator's value gets from follow thresholds (as the server computes it). */
export function lightOf(value: number | null | undefined, direction: Direction, yellow: number | null, red: number | null): Light | null {
  if (value === null || value === undefined) return null
  if (direction === 'down') {
    if (red !== null && value > red) return 'red'
    if (yellow !== null && value > yellow) return 'yellow'
  } else {
    if (red !== null && value < red) return 'red'
    if (yellow !== null && value < yellow) return 'yellow'
  }
  return yellow === null && red === null ? null : 'green'
}

/** Topics whose dashboard header offers the distribution report (生成统计报告) of their first
 *  indicator shown by category: 青年创业's 行业统计报告 (IND-14). */
export const REPORT_TOPICS: readonly string[] = ['youth']

/** Targets of comments, instructions and audited exports. */
export const targets = {
  indicator: (code: string) => `indicator:${code}`,
  topic: (code: string) => `topic:${code}`,
  widget: (topic: string, widget: string) => `widget:${topic}/${widget}`,
}

/** The region codes that lie inside a scope region (city 445300 covers 4453…). */
export function inScope(code: string, scope: string): boolean {
  const prefix = scope.length === 6 && scope.endsWith('00') ? scope.slice(0, 4) : scope
  return code.startsWith(prefix)
}
