// The one request client: JSON over fetch, same-origin cookie session, the CSRF header on every
// request, and the server's Chinese `message` shown to the user on failure.
import type { FieldError } from './types'

export class ApiError extends Error {
  constructor(
    public status: number,
    public code: string,
    message: string,
    public details: FieldError[] = [],
  ) {
    super(message)
  }
}

export interface RequestOptions {
  method?: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE'
  body?: unknown
  query?: Record<string, string | number | undefined | null>
  /** Do not show the error message automatically (the caller handles it). */
  silent?: boolean
}

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
  const headers: Record<string, string> = { 'X-Requested-With': 'tongguan', Accept: 'application/json' }
  let body: string | undefined
  if (opts.body !== undefined) {
    headers['Content-Type'] = 'application/json'
    body = JSON.stringify(opts.body)
  }
  const res = await fetch(buildUrl(path, opts.query), {
    method: opts.method ?? 'GET',
    headers,
    body,
    credentials: 'same-origin',
  })
  if (!res.ok) {
    let code = 'http.' + res.status
    let message = `请求失败（${res.status}）`
    let details: FieldError[] = []
    try {
      const e = await res.json()
      code = e.code ?? code
      message = e.message ?? message
      details = e.details ?? []
    } catch {
      /* not JSON */
    }
    const err = new ApiError(res.status, code, message, details)
    const authish = res.status === 401 || code === 'auth.password_change_required'
    if (authish) onAuthError(err)
    if (!opts.silent && !(res.status === 401 && path !== '/api/v1/auth/login')) {
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
