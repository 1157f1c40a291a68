import { defineStore } from 'pinia'
import { authApi } from '../api'
import type { Me } from '../api/types'

export const useAuth = defineStore('auth', {
  state: () => ({ me: null as Me | null, loaded: false }),
  getters: {
    perms: (s): Set<string> => new Set(s.me?.permissions ?? []),
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
    async login(username: string, password: string): Promise<Me> {
      const out = await authApi.login(username, password)
      this.me = out.user
      this.loaded = true
      return out.user
    },
    async logout(): Promise<void> {
      try {
        await authApi.logout()
      } finally {
        this.me = null
        this.loaded = true
      }
    },
  },
})
