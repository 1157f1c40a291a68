// The soft tokens kept on this device (the phone is the user's token). They survive logout: the
// server's Clear-Site-Data and our own cleanup wipe the rest of the browser storage.
import type { OtpToken } from './otp'

export const OTP_TOKENS_KEY = 'tg.otp.tokens'

export function loadTokens(): OtpToken[] {
  try {
    const v: unknown = JSON.parse(localStorage.getItem(OTP_TOKENS_KEY) ?? '[]')
    return Array.isArray(v) ? (v as OtpToken[]).filter((t) => t && typeof t.secret === 'string') : []
  } catch {
    return []
  }
}

export function saveTokens(tokens: OtpToken[]): void {
  if (tokens.length) localStorage.setItem(OTP_TOKENS_KEY, JSON.stringify(tokens))
  else localStorage.removeItem(OTP_TOKENS_KEY)
}

/** Clears local and session storage except the soft tokens. */
export function clearStorageKeepingTokens(saved: string | null = localStorage.getItem(OTP_TOKENS_KEY)): void {
  try {
    sessionStorage.clear()
    localStorage.clear()
    if (saved) localStorage.setItem(OTP_TOKENS_KEY, saved)
  } catch {
    /* storage unavailable (private mode): nothing to clear */
  }
}
