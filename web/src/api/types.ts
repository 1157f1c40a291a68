// Types of the HTTP API, taken from the generated OpenAPI types (types.gen.ts; regenerate with
// `bash scripts/gen-contract.sh`). Only aliases live here.
import type { Geometry, Polygon, MultiPolygon, FeatureCollection } from 'geojson'
import type { components } from './types.gen'

type S = components['schemas']
export type Region = S['Region']
export type Me = S['Me']
export type LoginOutput = S['LoginOutput']
export type User = S['User']
export type SecurityLabel = S['SecurityLabel']
export type NewUser = S['NewUser']
export type UserUpdate = S['UserUpdate']
export type Department = S['Department']
export type DepartmentInput = S['DepartmentInput']
export type Role = S['Role']
export type RoleInput = S['RoleInput']
export type PermissionDef = S['PermissionDef']
export type AuditRecord = S['AuditRecord']
export type VerifyReport = S['VerifyReport']
export type SystemInfo = S['SystemInfo']
export type ErrorBody = S['ErrorBody']
export type FieldError = S['FieldError']
export type ImportReport = S['ImportReport']
export type LoginChallenge = S['LoginChallenge']
export type LoginRequest = S['LoginRequest']
export type OtpEnrollment = S['OtpEnrollment']
export type PolicySettings = S['PolicySettings']
export type KeysView = S['KeysView']
export type KeyInfo = S['KeyInfo']
export type Purpose = S['Purpose']
export type RotateResult = S['RotateResult']
export type MfaStatus = S['MfaStatus']
export type IntegrityReport = S['IntegrityReport']
export type IntegrityProblem = S['IntegrityProblem']
export type Message = S['Message']
export type UnmaskedPhone = S['UnmaskedPhone']

// 全域智图. The generated schemas type free-form JSON as `Record<string, never>`; the map types
// below narrow those fields to what the server really sends (GeoJSON, JSON values).
export type AttrDef = S['AttrDef']
export type Layer = Omit<S['Layer'], 'style'> & { style: Record<string, unknown> }
export type MapFeature = Omit<S['Feature'], 'properties' | 'geometry'> & { properties: Record<string, unknown>; geometry: Geometry }
export type AttrFilterOp = 'eq' | 'ne' | 'gt' | 'lt' | 'contains'
export interface AttrFilter { field: string; op: AttrFilterOp; value: string | number | boolean }
/** A query shape (WGS-84 unless the request names another `crs`). */
export type ShapeInput =
  | { type: 'polygon'; geometry: Polygon | MultiPolygon }
  | { type: 'circle'; center: [number, number]; radius_m: number }
  | { type: 'rect'; bbox: [number, number, number, number] }
  | { type: 'line_buffer'; line: [number, number][]; distance_m: number }
  | { type: 'region'; region_code: string }
export type MatchMode = 'inside' | 'outside'
export type QueryRequest = Omit<S['QueryRequest'], 'shape' | 'filters' | 'mode'> & { shape: ShapeInput; mode?: MatchMode; filters?: AttrFilter[] }
export type JudgeRequest = Omit<S['JudgeRequest'], 'shape' | 'points'> & { points: [number, number][]; shape?: ShapeInput | null }
export type Judgment = S['Judgment']
/** One point cluster of the clusters endpoint: `id` is the feature's when the cluster holds one. */
export interface MapCluster { lon: number; lat: number; count: number; id: number | null }
/** One cell of the heat endpoint. */
export interface HeatCell { lon: number; lat: number; weight: number }
export interface BoundaryProps { code: string; name: string; level: Region['level']; source: string }
export type BoundaryCollection = FeatureCollection<Polygon | MultiPolygon, BoundaryProps>

export interface Page<T> {
  items: T[]
  /** Rows matching; a lower bound when `capped` (the server stopped counting at 10,000). */
  total: number
  page: number
  page_size: number
  capped?: boolean
}

export interface PageParams {
  page?: number
  page_size?: number
}

export const LEVEL_LABELS: Record<Region['level'], string> = {
  city: '市',
  county: '县(市、区)',
  town: '镇(街道)',
  village: '村(社区)',
  group: '组(网格)',
}
