import { reactive, ref, type Ref } from 'vue'
import type { Page } from '../api/types'

/** The list-page grammar shared by every CRUD page: filters, a page, a loading flag, reload. */
export function usePagedList<T, F extends object>(fetch: (q: F & { page: number; page_size: number }) => Promise<Page<T>>, filters: F) {
  const items = ref([]) as Ref<T[]>
  const total = ref(0)
  // The server stopped counting at its cap: `total` is a lower bound ("10,000+").
  const capped = ref(false)
  const loading = ref(false)
  const state = reactive({ page: 1, page_size: 20 })
  const query = reactive({ ...filters }) as F

  async function load(): Promise<void> {
    loading.value = true
    try {
      const r = await fetch({ ...(query as F), page: state.page, page_size: state.page_size })
      items.value = r.items
      total.value = r.total
      capped.value = !!r.capped
    } catch {
      items.value = []
      total.value = 0
      capped.value = false
    } finally {
      loading.value = false
    }
  }
  function search(): Promise<void> {
    state.page = 1
    return load()
  }
  function reset(): Promise<void> {
    Object.assign(query as object, filters)
    return search()
  }
  return { items, total, capped, loading, state, query, load, search, reset }
}
