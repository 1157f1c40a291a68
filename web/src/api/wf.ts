// Workflow engine (流程中心): the caller's tasks, workflow instances and their actions, the workflow
// definitions and the working calendar. Shapes are hand-written from the HTTP contract
// (notes/inv-api-spec.md), times are epoch milliseconds, dates 'YYYY-MM-DD'.
import { ApiError, rawRequest, request } from './http'
import type { Page, PageParams } from './types'

const P = '/api/v1/wf'

export type WfStatus = 'running' | 'completed' | 'terminated'
export interface WfSummaryItem { label: string; value: string }
export interface WfInstance {
  id: number
  definition: string
  def_name: string
  def_version: number
  business_type: string
  business_id: number
  title: string
  /** Business facts for the phone approval page. */
  summary: WfSummaryItem[]
  region_code: string
  region_name: string
  state: string
  state_name: string
  status: WfStatus
  /** 流转 awaiting confirmation. */
  pending_region: string | null
  pending_region_name: string | null
  /** Optimistic lock: sent back with every act. */
  version: number
  initiator_id: number
  initiator_name: string
  created_at: number
  updated_at: number
}

export type TaskKind = 'todo' | 'cc'
export type TaskStatus = 'open' | 'done' | 'cancelled' | 'delegated'
/** 催办/临期提醒 (remind), 黄牌 (overdue), 红牌 (long overdue). */
export type Card = 'none' | 'remind' | 'yellow' | 'red'
export interface WfTask {
  id: number
  instance_id: number
  kind: TaskKind
  step: string
  step_name: string
  title: string
  business_type: string
  business_id: number
  region_code: string
  region_name: string
  assignee_id: number
  assignee_name: string
  status: TaskStatus
  delegated_from_name: string | null
  due_at: number | null
  due_date: string | null
  card: Card
  /** Times 催办. */
  urged: number
  created_at: number
  handled_at: number | null
  /** The action name taken. */
  result: string | null
  instance_version: number
}

export interface WfChange { field: string; label: string; before: string | null; after: string | null }
export interface WfAttachment { id: number; name: string }
export interface WfLogEntry {
  seq: number
  at: number
  actor_id: number | null
  actor_name: string
  actor_role: string
  action: string
  action_name: string
  from_state: string
  from_name: string
  to_state: string
  to_name: string
  comment: string
  attachments: WfAttachment[]
  changes: WfChange[]
}

/** The kinds of the contract, and `resolve` (办理完毕交回: the delegate hands a 委派 task back), which
 *  the engine also sends. */
export type WfActionKind =
  | 'transition' | 'return' | 'withdraw' | 'terminate' | 'urge' | 'cc' | 'transfer' | 'delegate' | 'add_signer' | 'transfer_region' | 'confirm' | 'reject_transfer'
  | 'resolve'
export interface WfReturnTarget { state: string; name: string }
export interface WfAvailable {
  /** Transition code from the definition, or one of the generic operations. */
  action: string
  /** Chinese button text. */
  name: string
  kind: WfActionKind
  comment_required: boolean
  /** For kind 'return' (previous step, any earlier step, initiator). */
  return_targets: WfReturnTarget[]
  /** transfer / delegate / add_signer: pick one user; cc: pick several (user_ids). */
  needs_user: boolean
  /** transfer_region: pick a target county. */
  needs_region: boolean
}
export type FieldPerm = 'edit' | 'read' | 'hidden'
export interface WfView {
  instance: WfInstance
  /** What this caller may do now. */
  actions: WfAvailable[]
  /** Per business field for the caller at this step. */
  field_perms: Record<string, FieldPerm>
  /** Who holds the step now (with due dates and cards). */
  open_tasks: WfTask[]
  my_task: WfTask | null
  /** Every step, oldest first. */
  log: WfLogEntry[]
}
export interface WfActInput {
  action: string
  version: number
  comment?: string
  /** return: which earlier step. */
  target_state?: string
  /** transfer / delegate / add_signer. */
  user_id?: number
  /** cc (抄送) and 知会. */
  user_ids?: number[]
  /** transfer_region: target county code. */
  region?: string
  /** File ids (from POST /api/v1/inv/files). */
  attachments?: number[]
}
export interface WfCandidate { id: number; name: string; region_name: string; department_name: string | null; roles: string }

export type WfStateKind = 'start' | 'task' | 'end' | 'transfer'
export type AssigneeLevel = 'own' | 'city' | 'target' | 'initiator'
export type WfMode = 'any' | 'all' | 'sequential'
export interface WfStateDef {
  code: string
  name: string
  kind: WfStateKind
  assignee: { role: string; role_name: string; level: AssigneeLevel } | null
  mode: WfMode
  limit: { days: number; working: boolean } | null
  remind_before_days: number
  red_after_days: number
  on_timeout: 'remind' | 'escalate'
  fields: { editable: string[]; readonly: string[]; hidden: string[] }
}
export interface WfTransitionDef {
  from: string
  to: string
  action: string
  name: string
  kind: string
  roles: string[]
  require_fields: string[]
  require_attachments: string[]
}
export interface WfDefinition {
  code: string
  name: string
  version: number
  business_type: string
  initial: string
  states: WfStateDef[]
  transitions: WfTransitionDef[]
  versions: number[]
  running: number
}

export type CalendarKind = 'holiday' | 'workday'
export interface CalendarDay { date: string; kind: CalendarKind; name: string }
export interface CalendarYear { year: number; days: CalendarDay[]; source: string }

export type TaskBox = 'todo' | 'done' | 'cc'
export interface TaskQuery extends PageParams {
  box: TaskBox
  business_type?: string
  /** Title contains. */
  q?: string
  /** remind, yellow or red (the server refuses 'none'). */
  card?: Exclude<Card, 'none'> | ''
}
export interface TaskCounts { todo: number; cc_unread: number; overdue: number }

/** A county of the city (the target of a 流转), from GET /api/v1/inv/options. */
export interface County { code: string; name: string }

export const wfApi = {
  tasks: (q: TaskQuery) => request<Page<WfTask>>(`${P}/tasks`, { query: { ...q, card: q.card || undefined } }),
  /** The badge counts; silent: a hint, never an error toast. */
  counts: () => request<TaskCounts>(`${P}/tasks/counts`, { silent: true }),
  /** Marks a 抄送 as read. */
  markRead: (taskId: number) => request<void>(`${P}/tasks/${taskId}/read`, { method: 'POST', silent: true }),
  instance: (id: number) => request<WfView>(`${P}/instances/${id}`),
  /** Acts on an instance; `extra` (e.g. attachments of the business page) is merged into the body.
   *  Silent: the caller explains a 409 `wf.conflict` (reload and retry) and shows the other errors
   *  with `errorText`. */
  act: (id: number, body: WfActInput, extra?: Record<string, unknown>) =>
    request<WfView>(`${P}/instances/${id}/act`, { method: 'POST', body: { ...extra, ...body }, silent: true }),
  candidates: (id: number, q?: string, region?: string) =>
    request<WfCandidate[]>(`${P}/instances/${id}/candidates`, { query: { q, region } }),
  definitions: () => request<WfDefinition[]>(`${P}/definitions`),
  definition: (code: string, version?: number) => request<WfDefinition>(`${P}/definitions/${encodeURIComponent(code)}`, { query: { version } }),
  calendar: (year: number) => request<CalendarYear>(`${P}/calendar`, { query: { year } }),
  setDay: (date: string, kind: CalendarKind, name: string) => request<CalendarDay>(`${P}/calendar/${date}`, { method: 'PUT', body: { kind, name } }),
  clearDay: (date: string) => request<void>(`${P}/calendar/${date}`, { method: 'DELETE' }),
  /** The deadline calculator: `days` working or natural days after `from`. */
  addDays: (from: string, days: number, working: boolean) =>
    request<{ due: string }>(`${P}/calendar/add`, { query: { from, days, working: String(working) } }),
  /** The counties a project may be handed over to (流转). */
  async counties(): Promise<County[]> {
    const res = await rawRequest('/api/v1/inv/options', { silent: true })
    const o = (await res.json()) as { counties?: County[] }
    return o.counties ?? []
  },
}

/** True when the server refused an act because someone else acted first. */
export function isConflict(e: unknown): boolean {
  return e instanceof ApiError && e.status === 409 && e.code === 'wf.conflict'
}

/** The message of a failed request with its field errors, for silent calls. */
export function errorText(e: unknown): string {
  if (e instanceof ApiError) return e.message + (e.details.length ? '：' + e.details.map((d) => d.message).join('；') : '')
  return '操作失败'
}

// ---- Display helpers ----

const CST = 8 * 3600 * 1000
/** Epoch milliseconds as Beijing time `YYYY-MM-DD HH:mm` (China has no daylight saving time). */
export function fmtTime(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '—'
  return new Date(ms + CST).toISOString().slice(0, 16).replace('T', ' ')
}
/** Epoch milliseconds as the Beijing date `YYYY-MM-DD`. */
export function fmtDay(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '—'
  return new Date(ms + CST).toISOString().slice(0, 10)
}
/** Today in Beijing, `YYYY-MM-DD`. */
export function todayCst(): string {
  return fmtDay(Date.now())
}

export const CARD_LABELS: Record<Card, string> = { none: '正常', remind: '临期', yellow: '黄牌', red: '红牌' }
export const CARD_TYPES: Record<Exclude<Card, 'none'>, 'info' | 'warning' | 'danger'> = { remind: 'info', yellow: 'warning', red: 'danger' }
export const STATUS_LABELS: Record<WfStatus, string> = { running: '办理中', completed: '已办结', terminated: '已终止' }
export const TASK_STATUS_LABELS: Record<TaskStatus, string> = { open: '待办', done: '已办', cancelled: '已取消', delegated: '已委托' }
export const MODE_LABELS: Record<WfMode, string> = { any: '或签', all: '会签', sequential: '依次' }
export const LEVEL_LABELS: Record<AssigneeLevel, string> = { own: '本县区', city: '市级', target: '流转目标县区', initiator: '发起人' }
export const STATE_KIND_LABELS: Record<WfStateKind, string> = { start: '开始', task: '办理', end: '结束', transfer: '流转' }
export const TIMEOUT_LABELS: Record<WfStateDef['on_timeout'], string> = { remind: '提醒', escalate: '上报' }

/** 「N个工作日」/「N个自然日」, or 不限. */
export function fmtLimit(limit: WfStateDef['limit']): string {
  return limit ? `${limit.days}个${limit.working ? '工作日' : '自然日'}` : '不限'
}

/** Actions that are done by submitting a business form rather than by a bare act (招商项目: a
 *  material's 提交 moves the workflow, and the act alone is refused until the material is in). */
export function formDrivenAction(businessType: string, action: string): boolean {
  return businessType === 'inv_project' && /^submit_(filing|signing|production)$/.test(action)
}

/** The PC page of a task's business object, when there is one. */
export function businessRoute(businessType: string, businessId: number): string | null {
  if (businessType === 'inv_project') return `/inv/projects/${businessId}`
  return null
}
