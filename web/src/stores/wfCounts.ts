import { defineStore } from 'pinia'
import { wfApi } from '../api/wf'

/** The caller's workflow counts behind the 待办 badges (PC header, phone tab bar). */
export const useWfCounts = defineStore('wfCounts', {
  state: () => ({ todo: 0, cc_unread: 0, overdue: 0 }),
  actions: {
    async refresh(): Promise<void> {
      try {
        this.$patch(await wfApi.counts())
      } catch {
        /* the badge is a hint; the inbox shows errors */
      }
    },
  },
})
