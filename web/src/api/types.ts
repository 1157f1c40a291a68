// Types of the HTTP API, taken from the generated OpenAPI types (types.gen.ts; regenerate with
// `bash scripts/gen-contract.sh`). Only aliases live here.
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

export interface Page<T> {
  items: T[]
  total: number
  page: number
  page_size: number
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
