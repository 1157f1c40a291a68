import { defineStore } from 'pinia'
import { authApi } from '../api'
import type { LoginOutput, Me } from '../api/types'
import { clearStorageKeepingTokens, OTP_TOKENS_KEY } from '../utils/softTokens'

/** What the signed-in user must do before the system opens: change the password, then prove the
 *  second factor. null when nothing is pending. */
export function pendingStep(me: Me | null): 'password' | 'mfa' | null {
  if (!me) return null
  if (me.must_change_password || me.password_expired) return 'password'
  if (me.mfa_required && me.aal < 2) return 'mfa'
  return null
}

export const useAuth = defineStore('auth', {
  state: () => ({ me: null as Me | null, loaded: false }),
  getters: {
    perms: (s): Set<string> => new Set(s.me?.permissions ?? []),
    pending: (s): 'password' | 'mfa' | null => pendingStep(s.me),
  },
  actions: {
    hasPerm(code?: string): boolean {
      return !code || this.perms.has(code)
    },
    /** Loads the current user once; null when not signed in. */
    async load(force = false): Promise<Me | null> {
      if (this.loaded && !force) return this.me
      try {
        this.me = await authApi.me()
      } catch {
        this.me = null
      }
      this.loaded = true
      return this.me
    },
    /** A new session (login or second factor): the server replaced the cookie, we replace the user. */
    applySession(out: LoginOutput): Me {
      this.me = out.user
      this.loaded = true
      return out.user
    },
    async login(username: string, password: string, otpCode?: string): Promise<Me> {
      return this.applySession(await authApi.login(username, password, otpCode))
    },
    async verifyMfa(code: string): Promise<Me> {
      return this.applySession(await authApi.mfaVerify(code))
    },
    async logout(): Promise<void> {
      // The server answers with Clear-Site-Data (storage): keep the soft tokens of this device.
      const tokens = localStorage.getItem(OTP_TOKENS_KEY)
      try {
        await authApi.logout()
      } finally {
        this.me = null
        this.loaded = true
        clearStorageKeepingTokens(tokens)
      }
    },
  },
})
