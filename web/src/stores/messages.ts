import { defineStore } from 'pinia'
import { messagesApi } from '../api'

/** The unread count behind the header bell. */
export const useMessages = defineStore('messages', {
  state: () => ({ unread: 0 }),
  actions: {
    async refresh(): Promise<void> {
      try {
        this.unread = await messagesApi.unreadCount()
      } catch {
        /* the badge is a hint; the list page shows errors */
      }
    },
  },
})
