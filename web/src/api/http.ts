// The one request client: JSON over fetch, same-origin cookie session, the CSRF header on every
// request, and the server's Chinese `message` shown to the user on failure.
import type { FieldError } from './types'

export class ApiError extends Error {
  constructor(
    public status: number,
    public code: string,
    message: string,
    public details: FieldError[] = [],
    /** The whole error body, for endpoints that explain a 4xx with more than the error shape. */
    public report?: unknown,
  ) {
    super(message)
  }
}

export interface RequestOptions {
  method?: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE'
  body?: unknown
  /** A file sent as-is (uploads). */
  file?: Blob
  query?: Record<string, string | number | undefined | null>
  /** Do not show the error message automatically (the caller handles it). */
  silent?: boolean
}

/** The header every API request carries (the server refuses state-changing requests without it, a
 *  CSRF guard). Requests made outside this client (e.g. MapLibre's tile loads) add it too. */
export const API_HEADERS: Readonly<Record<string, string>> = { 'X-Requested-With': 'tongguan' }

/** Answers that mean "finish signing in first": the UI routes to the password or dynamic-password page. */
export const AUTH_STEP_CODES = ['auth.password_change_required', 'auth.password_expired', 'auth.mfa_required']

type Notifier = (message: string) => void
type AuthHandler = (err: ApiError) => void

let notify: Notifier = (m) => console.warn(m)
let onAuthError: AuthHandler = () => {}

/** The UI layer installs how errors are shown and where 401/403 redirect. */
export function configureHttp(n: Notifier, a: AuthHandler): void {
  notify = n
  onAuthError = a
}

export function buildUrl(path: string, query?: RequestOptions['query']): string {
  const params = new URLSearchParams()
  for (const [k, v] of Object.entries(query ?? {})) {
    if (v !== undefined && v !== null && v !== '') params.set(k, String(v))
  }
  const qs = params.toString()
  return qs ? `${path}?${qs}` : path
}

export async function rawRequest(path: string, opts: RequestOptions = {}): Promise<Response> {
  const headers: Record<string, string> = { ...API_HEADERS, Accept: 'application/json' }
  let body: string | undefined
  let payload: BodyInit | undefined
  if (opts.file) {
    headers['Content-Type'] = opts.file.type || 'application/octet-stream'
    payload = opts.file
  } else if (opts.body !== undefined) {
    headers['Content-Type'] = 'application/json'
    body = JSON.stringify(opts.body)
    payload = body
  }
  const res = await fetch(buildUrl(path, opts.query), {
    method: opts.method ?? 'GET',
    headers,
    body: payload,
    credentials: 'same-origin',
  })
  if (!res.ok) {
    let code = 'http.' + res.status
    let message = `请求失败（${res.status}）`
    let details: FieldError[] = []
    let report: unknown
    try {
      const e = await res.json()
      report = e
      code = e.code ?? code
      message = e.message ?? message
      details = Array.isArray(e.details) ? e.details : []
    } catch {
      /* not JSON */
    }
    const err = new ApiError(res.status, code, message, details, report)
    // A wrong dynamic password is a 401 of its own: the session is still there.
    const unauthenticated = res.status === 401 && code !== 'auth.mfa_invalid'
    const authish = unauthenticated || AUTH_STEP_CODES.includes(code)
    if (authish) onAuthError(err)
    // Redirects explain themselves; no error toast for them.
    if (!opts.silent && !(unauthenticated && path !== '/api/v1/auth/login') && !AUTH_STEP_CODES.includes(code)) {
      const detail = details.length ? '：' + details.map((d) => d.message).join('；') : ''
      notify(message + detail)
    }
    throw err
  }
  return res
}

export async function request<T>(path: string, opts: RequestOptions = {}): Promise<T> {
  const res = await rawRequest(path, opts)
  if (res.status === 204) return undefined as T
  return (await res.json()) as T
}

/** Saves a downloaded file in the browser. */
export function saveBlob(blob: Blob, name: string): void {
  const a = document.createElement('a')
  a.href = URL.createObjectURL(blob)
  a.download = name
  a.click()
  URL.revokeObjectURL(a.href)
}
