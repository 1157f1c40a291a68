// Typed API modules, one object per context.
import { ApiError, request, rawRequest, saveBlob } from './http'
import { sealPassword } from './envelope'
import type {
  AttrDef, AuditRecord, BoundaryCollection, HeatCell, JudgeRequest, Judgment, Layer, MapCluster, MapFeature, QueryRequest, Department, ImportReport, DepartmentInput, IntegrityReport, KeysView, LoginChallenge, LoginOutput, LoginRequest, Me,
  Message, MfaStatus, NewUser, OtpEnrollment, Page, PageParams, PermissionDef, PolicySettings, Region, Role, RoleInput, RotateResult,
  SecurityLabel, SystemInfo, UnmaskedPhone, User, UserUpdate, VerifyReport,
} from './types'

export const systemApi = {
  info: () => request<SystemInfo>('/api/v1/system/info', { silent: true }),
}

export const authApi = {
  challenge: () => request<LoginChallenge>('/api/v1/auth/challenge', { silent: true }),
  /** Signs in with the password sealed in an SM2 envelope around a fresh single-use nonce; the
   *  optional dynamic password makes it a one-step login at assurance level 2. */
  async login(username: string, password: string, otpCode?: string): Promise<LoginOutput> {
    const challenge = await authApi.challenge()
    const body: LoginRequest = { username, cipher: sealPassword(password, challenge) }
    if (otpCode) body.otp_code = otpCode
    return request<LoginOutput>('/api/v1/auth/login', { method: 'POST', body, silent: true })
  },
  logout: () => request<void>('/api/v1/auth/logout', { method: 'POST', silent: true }),
  me: () => request<Me>('/api/v1/auth/me', { silent: true }),
  changePassword: (old_password: string, new_password: string) =>
    request<void>('/api/v1/auth/password', { method: 'POST', body: { old_password, new_password }, silent: true }),
  /** Starts binding a soft token (the seed is shown once). */
  mfaEnroll: () => request<OtpEnrollment>('/api/v1/auth/mfa/enroll', { method: 'POST', silent: true }),
  /** Confirms the binding or steps up: the answer is a new session at assurance level 2. */
  mfaVerify: (code: string) => request<LoginOutput>('/api/v1/auth/mfa/verify', { method: 'POST', body: { code }, silent: true }),
}

export const regionsApi = {
  get: (code: string) => request<Region>(`/api/v1/regions/${code}`),
  children: (code: string, p: PageParams = {}) => request<Page<Region>>(`/api/v1/regions/${code}/children`, { query: { ...p } }),
  ancestors: (code: string) => request<Region[]>(`/api/v1/regions/${code}/ancestors`),
  search: (q: string, p: PageParams & { level?: string } = {}) => request<Page<Region>>('/api/v1/regions', { query: { q, ...p } }),
  createGroup: (parent_code: string, name: string) => request<Region>('/api/v1/regions', { method: 'POST', body: { parent_code, name } }),
  rename: (code: string, name: string) => request<Region>(`/api/v1/regions/${code}`, { method: 'PATCH', body: { name } }),
  remove: (code: string) => request<void>(`/api/v1/regions/${code}`, { method: 'DELETE' }),
}

export interface DepartmentQuery extends PageParams { q?: string; region_code?: string }
export const departmentsApi = {
  list: (q: DepartmentQuery) => request<Page<Department>>('/api/v1/departments', { query: { ...q } }),
  create: (d: DepartmentInput) => request<Department>('/api/v1/departments', { method: 'POST', body: d }),
  update: (id: number, d: DepartmentInput) => request<Department>(`/api/v1/departments/${id}`, { method: 'PUT', body: d }),
  remove: (id: number) => request<void>(`/api/v1/departments/${id}`, { method: 'DELETE' }),
}

export interface UserQuery extends PageParams { q?: string; region_code?: string; department_id?: number; status?: string; role?: string; phone?: string }
export const usersApi = {
  list: (q: UserQuery) => request<Page<User>>('/api/v1/users', { query: { ...q } }),
  create: (u: NewUser) => request<User>('/api/v1/users', { method: 'POST', body: u }),
  update: (id: number, u: UserUpdate) => request<User>(`/api/v1/users/${id}`, { method: 'PUT', body: u }),
  resetPassword: (id: number, password: string) => request<void>(`/api/v1/users/${id}/reset-password`, { method: 'POST', body: { password } }),
  lock: (id: number) => request<User>(`/api/v1/users/${id}/lock`, { method: 'POST' }),
  unlock: (id: number) => request<User>(`/api/v1/users/${id}/unlock`, { method: 'POST' }),
  remove: (id: number) => request<void>(`/api/v1/users/${id}`, { method: 'DELETE' }),
  grant: (id: number, roles: string[]) => request<User>(`/api/v1/users/${id}/roles`, { method: 'PUT', body: { roles } }),
  /** Security labels (安全标记): the account's clearance as a subject and its label as an object. */
  setLabels: (id: number, clearance: SecurityLabel, label: SecurityLabel) =>
    request<User>(`/api/v1/users/${id}/security-labels`, { method: 'PUT', body: { clearance, label }, silent: true }),
  /** The clear phone number, for a holder of pii:unmask who states why (audited). */
  unmaskPhone: (id: number, reason: string) =>
    request<UnmaskedPhone>(`/api/v1/users/${id}/unmask`, { method: 'POST', body: { reason }, silent: true }),
  /** Validates (dryRun) or imports an .xlsx/CSV file. A 422 still carries the row report. */
  async importFile(file: Blob, dryRun: boolean): Promise<ImportReport> {
    try {
      return await request<ImportReport>('/api/v1/users/import', { method: 'POST', file, query: { dry_run: String(dryRun) }, silent: true })
    } catch (e) {
      if (e instanceof ApiError && e.report) return e.report as ImportReport
      throw e
    }
  },
  async downloadTemplate(): Promise<void> {
    const res = await rawRequest('/api/v1/users/import-template')
    saveBlob(await res.blob(), '用户导入模板.xlsx')
  },
}

export const rolesApi = {
  list: (p: PageParams = {}) => request<Page<Role>>('/api/v1/roles', { query: { ...p } }),
  create: (r: RoleInput) => request<Role>('/api/v1/roles', { method: 'POST', body: r }),
  update: (id: number, r: RoleInput) => request<Role>(`/api/v1/roles/${id}`, { method: 'PUT', body: r }),
  remove: (id: number) => request<void>(`/api/v1/roles/${id}`, { method: 'DELETE' }),
  permissions: () => request<PermissionDef[]>('/api/v1/permissions'),
}

export interface AuditQuery extends PageParams { actor?: string; action?: string; result?: string; from?: string; to?: string }
export const auditApi = {
  list: (q: AuditQuery) => request<Page<AuditRecord>>('/api/v1/audit', { query: { ...q } }),
  verify: () => request<VerifyReport>('/api/v1/audit/verify'),
  /** Downloads the Excel export with the same filters. */
  async exportExcel(q: AuditQuery): Promise<void> {
    const res = await rawRequest('/api/v1/audit/export', { query: { ...q, page: undefined, page_size: undefined } })
    saveBlob(await res.blob(), `审计日志-${new Date().toISOString().slice(0, 10)}.xlsx`)
  },
}

export const securityApi = {
  policy: () => request<PolicySettings>('/api/v1/security/policy'),
  savePolicy: (p: PolicySettings) => request<PolicySettings>('/api/v1/security/policy', { method: 'PUT', body: p, silent: true }),
  keys: () => request<KeysView>('/api/v1/security/keys'),
  rotate: (purpose: string) => request<RotateResult>(`/api/v1/security/keys/${encodeURIComponent(purpose)}/rotate`, { method: 'POST' }),
  mfa: (p: PageParams = {}) => request<Page<MfaStatus>>('/api/v1/security/mfa', { query: { ...p } }),
  resetMfa: (userId: number) => request<void>(`/api/v1/security/mfa/${userId}/reset`, { method: 'POST' }),
  verifyIntegrity: () => request<IntegrityReport>('/api/v1/security/integrity/verify', { method: 'POST' }),
}

export interface MessageQuery extends PageParams { unread?: boolean }
export const messagesApi = {
  list: (q: MessageQuery = {}) => request<Page<Message>>('/api/v1/messages', { query: { ...q, unread: q.unread ? 'true' : undefined } }),
  /** The unread count for the header badge (quiet: a failure only hides the badge). */
  unreadCount: async (): Promise<number> =>
    (await request<Page<Message>>('/api/v1/messages', { query: { unread: 'true', page_size: 1 }, silent: true })).total,
  markRead: (id: number) => request<void>(`/api/v1/messages/${id}/read`, { method: 'POST' }),
}

export interface LayerQuery extends PageParams { q?: string }
/** A feature as created or edited (`version` is required when editing). */
export interface FeatureInput {
  name: string
  properties: Record<string, unknown>
  geometry: { type: string; coordinates: unknown }
  crs?: string
  region_code?: string
  version?: number
}
/** A layer as created or edited (style is free-form JSON; `version` is required when editing). */
export interface LayerInput {
  code: string
  name: string
  geometry_type: string
  description: string
  attr_schema: AttrDef[]
  style: Record<string, unknown>
  region_code?: string
  visible_roles: string[]
  version?: number
}
export interface FeatureQuery extends PageParams { q?: string; region_code?: string }
/** A viewport as the cluster and heat endpoints take it: [min_lon, min_lat, max_lon, max_lat] (WGS-84). */
export type Bbox = [number, number, number, number]

/** 全域智图: layers, features, spatial queries and judgments, aggregates and boundaries (map:read). */
export const mapApi = {
  layers: (q: LayerQuery = {}) => request<Page<Layer>>('/api/v1/map/layers', { query: { ...q } }),
  layer: (id: number) => request<Layer>(`/api/v1/map/layers/${id}`),
  features: (id: number, q: FeatureQuery = {}) => request<Page<MapFeature>>(`/api/v1/map/layers/${id}/features`, { query: { ...q } }),
  feature: (id: number) => request<MapFeature>(`/api/v1/map/features/${id}`),
  /** 空间查询, paged. `silent` leaves the error message to the caller (e.g. background statistics). */
  query: (id: number, req: QueryRequest, silent = false) =>
    request<Page<MapFeature>>(`/api/v1/map/layers/${id}/query`, { method: 'POST', body: req, silent }),
  judge: (req: JudgeRequest) => request<Judgment[]>('/api/v1/map/judge', { method: 'POST', body: req }),
  clusters: (id: number, bbox: Bbox, zoom: number) =>
    request<MapCluster[]>(`/api/v1/map/layers/${id}/clusters`, { query: { bbox: bbox.join(','), zoom: Math.round(zoom * 100) / 100 } }),
  heat: (id: number, bbox: Bbox, zoom: number) =>
    request<HeatCell[]>(`/api/v1/map/layers/${id}/heat`, { query: { bbox: bbox.join(','), zoom: Math.round(zoom * 100) / 100 } }),
  boundaries: (level?: string) => request<BoundaryCollection>('/api/v1/map/boundaries', { query: { level } }),
  /** Features (map:write). */
  createFeature: (layerId: number, f: FeatureInput) => request<MapFeature>(`/api/v1/map/layers/${layerId}/features`, { method: 'POST', body: f }),
  updateFeature: (id: number, f: FeatureInput) => request<MapFeature>(`/api/v1/map/features/${id}`, { method: 'PUT', body: f }),
  removeFeature: (id: number) => request<void>(`/api/v1/map/features/${id}`, { method: 'DELETE' }),
  /** 图层管理 (map:layer). */
  createLayer: (l: LayerInput) => request<Layer>('/api/v1/map/layers', { method: 'POST', body: l }),
  updateLayer: (id: number, l: LayerInput) => request<Layer>(`/api/v1/map/layers/${id}`, { method: 'PUT', body: l }),
  removeLayer: (id: number) => request<void>(`/api/v1/map/layers/${id}`, { method: 'DELETE' }),
  importBoundaries: (file: Blob) =>
    request<{ loaded: number; replaced: number }>('/api/v1/map/boundaries/import', { method: 'POST', file }),
  /** The vector-tile URL template of a layer (absolute: MapLibre fetches tiles from its workers). */
  tileUrl: (id: number) => `${location.origin}/api/v1/map/tiles/${id}/{z}/{x}/{y}.mvt`,
}
