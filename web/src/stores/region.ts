import { defineStore } from 'pinia'

const KEY = 'tg.region'

/** The region the user is looking at: inside their scope, remembered per browser. */
export const useRegion = defineStore('region', {
  state: () => ({ code: '' as string }),
  actions: {
    /** Resets to the scope root unless the remembered region lies inside the scope. */
    init(scopeCode: string): void {
      const saved = localStorage.getItem(KEY) ?? ''
      const prefix = scopeCode.endsWith('00') && scopeCode.length === 6 ? scopeCode.slice(0, 4) : scopeCode
      this.code = saved.startsWith(prefix) ? saved : scopeCode
    },
    set(code: string): void {
      this.code = code
      localStorage.setItem(KEY, code)
    },
  },
})
