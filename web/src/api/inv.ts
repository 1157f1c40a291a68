// 招商引资项目管理: projects from 首接 to 达标达产, their materials and attachments, 项目统一代码,
// 流转 between counties, history imports and statistics (/api/v1/inv). The workflow behind each
// project is the shared engine's (/api/v1/wf: `wfApi` and its types in ./wf).
import { ApiError, rawRequest, request, saveBlob } from './http'
import type { Page, PageParams } from './types'
import type { WfChange, WfView } from './wf'

const P = '/api/v1/inv'

export type Stage =
  | 'draft'
  | 'county_review'
  | 'negotiating'
  | 'filing_review'
  | 'filed'
  | 'sign_review'
  | 'signed'
  | 'production_review'
  | 'producing'
  | 'transfer'
  | 'terminated'

export interface ProjectInput {
  name: string
  /** 投资方 */
  investor: string
  /** 投资方所在地 */
  investor_origin?: string | null
  /** GB/T 4754 大类, e.g. 'C39' (see options.industries) */
  industry_code: string
  /** 投资额（万元）, > 0 */
  amount: number
  /** 用地（亩） */
  land_area?: number | null
  /** 预计年产值（万元） */
  expected_output?: number | null
  /** 预计年税收（万元） */
  expected_tax?: number | null
  contact_name: string
  /** 11-digit mobile or area-code landline */
  contact_phone: string
  /** one of options.sources */
  source: string
  /** YYYY-MM-DD, not in the future */
  first_contact_date: string
  /** county; defaults to the caller's county (city staff must choose) */
  region_code?: string
  remark?: string | null
}

export interface Project extends Required<ProjectInput> {
  id: number
  /** 项目统一代码 */
  code: string | null
  industry_name: string
  region_name: string
  stage: Stage
  stage_name: string
  /** imported history (旧数据) */
  is_legacy: boolean
  instance_id: number | null
  /** optimistic lock for PUT/DELETE/code */
  version: number
  created_by_name: string
  created_at: number
  updated_at: number
  signed_at: string | null
  produced_at: string | null
}

export type MaterialKind = 'filing' | 'signing' | 'supplement' | 'production'

export interface FileRef {
  id: number
  name: string
  size: number
  content_type: string
  doc_type: string
  uploaded_at: number
}

export interface Material {
  id: number
  kind: MaterialKind
  status: 'draft' | 'submitted'
  data: Record<string, string | number | null>
  files: FileRef[]
  notified: { id: number; name: string }[]
  created_by_name: string
  updated_at: number
  submitted_at: number | null
}

export type TransferStatus = 'pending' | 'confirmed' | 'returned'

export interface Transfer {
  id: number
  project_id: number
  project_name: string
  from_region: string
  from_name: string
  to_region: string
  to_name: string
  status: TransferStatus
  reason: string
  reply: string | null
  created_at: number
  created_by_name: string
  handled_at: number | null
  handled_by_name: string | null
}

export interface ProjectDetail {
  project: Project
  workflow: WfView | null
  materials: Material[]
  transfers: Transfer[]
}

export interface ChangeEntry {
  id: number
  at: number
  actor_name: string
  action: string
  action_name: string
  changes: WfChange[]
}

export interface InvImportError {
  row: number
  field: string
  message: string
}

/** The answer of a history import: nothing is written when any row is wrong. */
export interface InvImportReport {
  total: number
  valid: number
  imported: number
  errors: InvImportError[]
  dry_run: boolean
}

export interface Stat {
  key: string
  name: string
  count: number
  amount: number
}

export interface InvStats {
  total: { count: number; amount: number }
  by_region: Stat[]
  by_industry: Stat[]
  by_stage: Stat[]
  by_month: Stat[]
}

export interface InvIndustry {
  code: string
  name: string
  section: string
}

export interface InvOptions {
  sources: string[]
  stages: { code: Stage; name: string }[]
  counties: { code: string; name: string }[]
  industries: InvIndustry[]
  doc_types: string[]
  max_file_mb: number
  file_types: string[]
}

/** The list filters (also those of the Excel export). */
export interface ProjectFilters {
  q?: string
  industry?: string
  region?: string
  stage?: Stage | ''
  amount_min?: number | null
  amount_max?: number | null
  date_from?: string
  date_to?: string
  legacy?: boolean
}
export type ProjectQuery = ProjectFilters & PageParams

export interface CodeQuery extends PageParams {
  q?: string
  /** undefined: all; true: with a code; false: without */
  has_code?: boolean | null
}

export interface TransferQuery extends PageParams {
  dir?: 'in' | 'out' | 'all'
  status?: TransferStatus | ''
}

export interface StatsQuery {
  region?: string
  date_from?: string
  date_to?: string
}

export interface MaterialInput {
  data: Record<string, string | number | null>
  file_ids: number[]
  /** 暂存 = false; 提交 / 知会并提交 = true */
  submit: boolean
  /** 知会: the users told of the submission */
  notify_user_ids?: number[]
  /** the workflow instance's version */
  version: number
}

type Query = Record<string, string | number | undefined | null>

function boolParam(v: boolean | null | undefined): string | undefined {
  return v === true ? 'true' : v === false ? 'false' : undefined
}

function filterQuery(f: ProjectFilters & PageParams): Query {
  return {
    q: f.q,
    industry: f.industry,
    region: f.region,
    stage: f.stage,
    amount_min: f.amount_min,
    amount_max: f.amount_max,
    date_from: f.date_from,
    date_to: f.date_to,
    // The switch is "only legacy": off means every project, not "no legacy ones".
    legacy: f.legacy ? 'true' : undefined,
    page: f.page,
    page_size: f.page_size,
  }
}

/** A download (the server names the file; `fallback` when it does not). */
async function download(path: string, query: Query, fallback: string): Promise<void> {
  const res = await rawRequest(path, { query })
  const cd = res.headers.get('Content-Disposition') ?? ''
  const star = /filename\*=UTF-8''([^;]+)/i.exec(cd)
  const plain = /filename="?([^";]+)"?/i.exec(cd)
  const name = star ? decodeURIComponent(star[1]) : plain ? plain[1] : fallback
  saveBlob(await res.blob(), name)
}

let optionsCache: Promise<InvOptions> | null = null

export const invApi = {
  options: () => request<InvOptions>(`${P}/options`),
  /** The options, loaded once per page load (a failure is retried on the next call). */
  cachedOptions(): Promise<InvOptions> {
    if (!optionsCache) {
      optionsCache = invApi.options().catch((e: unknown) => {
        optionsCache = null
        throw e
      })
    }
    return optionsCache
  },

  // Projects
  projects: (q: ProjectQuery = {}) => request<Page<Project>>(`${P}/projects`, { query: filterQuery(q) }),
  project: (id: number, silent = false) => request<ProjectDetail>(`${P}/projects/${id}`, { silent }),
  /** 暂存 (submit=false) or 提交审核 (submit=true: to 县区在谈审核). Errors are the caller's to show. */
  createProject: (p: ProjectInput, submit: boolean) =>
    request<ProjectDetail>(`${P}/projects`, { method: 'POST', body: { ...p, submit }, silent: true }),
  /** 409 `inv.conflict` when `version` is stale. Errors are the caller's to show. */
  updateProject: (id: number, p: ProjectInput, version: number) =>
    request<ProjectDetail>(`${P}/projects/${id}`, { method: 'PUT', body: { ...p, version }, silent: true }),
  removeProject: (id: number, version: number, reason: string) =>
    request<void>(`${P}/projects/${id}`, { method: 'DELETE', body: { version, reason } }),
  changes: (id: number, p: PageParams = {}) => request<Page<ChangeEntry>>(`${P}/projects/${id}/changes`, { query: { ...p } }),

  // Materials and attachments
  /** 暂存 / 提交 / 知会并提交 of one material. Errors are the caller's to show. */
  saveMaterial: (id: number, kind: MaterialKind, m: MaterialInput) =>
    request<ProjectDetail>(`${P}/projects/${id}/materials/${kind}`, { method: 'PUT', body: m, silent: true }),
  uploadFile: (file: File, docType: string) =>
    request<FileRef>(`${P}/files`, { method: 'POST', file, query: { filename: file.name, doc_type: docType } }),
  fileUrl: (id: number) => `${P}/files/${id}`,
  downloadFile: (f: FileRef) => download(`${P}/files/${f.id}`, {}, f.name),

  // 项目统一代码 (errors — 422 inv.code_format, 409 inv.code_taken — are the caller's to show)
  setCode: (id: number, code: string, version: number) =>
    request<Project>(`${P}/projects/${id}/code`, { method: 'PUT', body: { code, version }, silent: true }),
  removeCode: (id: number, version: number) => request<Project>(`${P}/projects/${id}/code`, { method: 'DELETE', body: { version } }),
  codes: (q: CodeQuery = {}) =>
    request<Page<Project>>(`${P}/codes`, { query: { q: q.q, has_code: boolParam(q.has_code), page: q.page, page_size: q.page_size } }),

  // 流转, statistics
  transfers: (q: TransferQuery = {}) => request<Page<Transfer>>(`${P}/transfers`, { query: { ...q } }),
  stats: (q: StatsQuery = {}) => request<InvStats>(`${P}/stats`, { query: { ...q } }),

  // Excel
  exportProjects: (f: ProjectFilters) => download(`${P}/export`, filterQuery(f), '招商引资项目.xlsx'),
  downloadTemplate: () => download(`${P}/import/template`, {}, '招商引资旧数据导入模板.xlsx'),
  /** Validates (dryRun) or imports a history .xlsx. A 422 still carries the row report; other
   *  failures throw (the caller shows the message). */
  async importProjects(file: File, dryRun: boolean): Promise<InvImportReport> {
    try {
      return await request<InvImportReport>(`${P}/import`, { method: 'POST', file, query: { filename: file.name, dry_run: String(dryRun) }, silent: true })
    } catch (e) {
      const r = e instanceof ApiError ? (e.report as Partial<InvImportReport> | undefined) : undefined
      if (r && Array.isArray(r.errors) && typeof r.total === 'number') return r as InvImportReport
      throw e
    }
  },
}

/** The workflow definition and business type of the projects. */
export const INV_WORKFLOW = 'inv_project'

// ---- Labels and formatting shared by the project pages ----

export const PROJECT_FIELD_LABELS: Record<keyof ProjectInput, string> = {
  name: '项目名称',
  investor: '投资方',
  investor_origin: '投资方所在地',
  industry_code: '所属行业',
  amount: '投资额（万元）',
  land_area: '用地（亩）',
  expected_output: '预计年产值（万元）',
  expected_tax: '预计年税收（万元）',
  contact_name: '联系人',
  contact_phone: '联系电话',
  source: '项目来源',
  first_contact_date: '首接日期',
  region_code: '所属县区',
  remark: '备注',
}

export const STAGE_TAG: Record<Stage, 'primary' | 'success' | 'info' | 'warning' | 'danger'> = {
  draft: 'info',
  county_review: 'warning',
  negotiating: 'primary',
  filing_review: 'warning',
  filed: 'primary',
  sign_review: 'warning',
  signed: 'success',
  production_review: 'warning',
  producing: 'success',
  transfer: 'warning',
  terminated: 'danger',
}

export const TRANSFER_STATUS_LABELS: Record<TransferStatus, string> = { pending: '待确认', confirmed: '已接收', returned: '已退回' }
export const TRANSFER_STATUS_TAG: Record<TransferStatus, 'warning' | 'success' | 'danger'> = { pending: 'warning', confirmed: 'success', returned: 'danger' }

export interface MaterialField {
  key: string
  label: string
  type: 'text' | 'textarea' | 'date' | 'number'
  required: boolean
  /** numbers that must be > 0 */
  positive?: boolean
}

/** The four materials, in order, with the stage at which each may be filled in and submitted. */
export const MATERIAL_KINDS: { kind: MaterialKind; name: string; stage: Stage }[] = [
  { kind: 'filing', name: '评审备案资料', stage: 'negotiating' },
  { kind: 'signing', name: '签约信息', stage: 'filed' },
  { kind: 'supplement', name: '补充签约信息', stage: 'signed' },
  { kind: 'production', name: '达标达产信息', stage: 'signed' },
]

export const MATERIAL_FIELDS: Record<MaterialKind, MaterialField[]> = {
  filing: [
    { key: 'summary', label: '项目简介', type: 'textarea', required: true },
    { key: 'review_date', label: '评审日期', type: 'date', required: true },
    { key: 'opinion', label: '评审意见', type: 'textarea', required: false },
  ],
  signing: [
    { key: 'sign_date', label: '签约日期', type: 'date', required: true },
    { key: 'contract_amount', label: '合同投资额（万元）', type: 'number', required: true, positive: true },
    { key: 'party', label: '签约主体', type: 'text', required: true },
    { key: 'contract_no', label: '合同编号', type: 'text', required: false },
  ],
  supplement: [
    { key: 'sign_date', label: '补充签约日期', type: 'date', required: true },
    { key: 'content', label: '补充内容', type: 'textarea', required: true },
    { key: 'amount_change', label: '投资额变化（万元）', type: 'number', required: false },
  ],
  production: [
    { key: 'project_name', label: '项目名称', type: 'text', required: true },
    { key: 'evidence', label: '达标达产佐证', type: 'textarea', required: true },
    { key: 'production_date', label: '达产日期', type: 'date', required: false },
    { key: 'other', label: '其他', type: 'textarea', required: false },
  ],
}

/** 项目统一代码: YYYY-AAAAAA-II-TT-NNNNNN (year, division code, GB/T 4754 大类 number, type 01/02/03, serial). */
export const CODE_FORMAT = 'YYYY-AAAAAA-II-TT-NNNNNN'
export const CODE_PATTERN = /^\d{4}-\d{6}-\d{2}-0[123]-\d{6}$/

/** 11-digit mobile, or a landline with its area code (0xx-xxxxxxxx, optional extension). */
export const PHONE_PATTERN = /^(1[3-9]\d{9}|0\d{2,3}-?\d{7,8}(-\d{1,6})?)$/

/** Today in Beijing time as YYYY-MM-DD. */
export function todayBeijing(): string {
  return new Date(Date.now() + 8 * 3600 * 1000).toISOString().slice(0, 10)
}

/** An epoch-millisecond time in Beijing time, `YYYY-MM-DD HH:mm` (as on the workflow pages; China
 *  has no daylight saving time). */
export function fmtTime(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '—'
  const d = new Date(ms + 8 * 3600 * 1000)
  if (Number.isNaN(d.getTime())) return '—'
  return d.toISOString().slice(0, 16).replace('T', ' ')
}

/** A stage (or step) name split into its name and the work it holds: '已签约（补充签约、达标达产）'
 *  → { main: '已签约', note: '（补充签约、达标达产）' }; names without a trailing （…） have no note. */
export function stageParts(name: string): { main: string; note: string } {
  const m = /^(.+?)(（[^（）]+）)$/.exec(name ?? '')
  return m ? { main: m[1], note: m[2] } : { main: name ?? '', note: '' }
}

/** A number with grouped digits (at most 2 decimals). */
export function fmtNum(v: number | string | null | undefined, digits = 2): string {
  if (v === null || v === undefined || v === '') return '—'
  const n = typeof v === 'number' ? v : Number(v)
  if (Number.isNaN(n)) return String(v)
  return n.toLocaleString('zh-CN', { maximumFractionDigits: digits })
}

export function fmtSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toLocaleString('zh-CN', { maximumFractionDigits: 1 })} KB`
  return `${(bytes / 1024 / 1024).toLocaleString('zh-CN', { maximumFractionDigits: 1 })} MB`
}

/** Whether a file is of an accepted type: options.file_types may list extensions ('pdf', '.pdf') or
 *  MIME types ('application/pdf'). */
export function fileTypeAllowed(file: File, types: string[]): boolean {
  if (!types.length) return true
  const ext = (file.name.split('.').pop() ?? '').toLowerCase()
  return types.some((t) => {
    const v = t.trim().toLowerCase()
    if (v.includes('/')) return v === file.type.toLowerCase()
    return v.replace(/^\./, '') === ext
  })
}

/** The `accept` attribute for a file input from options.file_types. */
export function acceptAttr(types: string[]): string {
  return types.map((t) => (t.includes('/') || t.startsWith('.') ? t : `.${t}`)).join(',')
}

/** Industries grouped by their section (for grouped selects). */
export function industryGroups(list: InvIndustry[]): { section: string; items: InvIndustry[] }[] {
  const out: { section: string; items: InvIndustry[] }[] = []
  for (const i of list) {
    let g = out.find((x) => x.section === i.section)
    if (!g) out.push((g = { section: i.section, items: [] }))
    g.items.push(i)
  }
  return out
}
