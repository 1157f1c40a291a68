import type { Directive } from 'vue'

// `v-row-testid="'inv-row'"` on an el-table gives each data row (not the expanded rows) a
// data-testid, for automation: el-table offers no row attributes. Rows are re-marked whenever the
// table's body changes.
const observers = new WeakMap<HTMLElement, MutationObserver>()

function mark(el: HTMLElement, id: string): void {
  el.querySelectorAll<HTMLTableRowElement>('.el-table__body tr.el-table__row').forEach((tr) => {
    if (tr.dataset.testid !== id) tr.dataset.testid = id
  })
}

export const vRowTestid: Directive<HTMLElement, string> = {
  mounted(el, binding) {
    mark(el, binding.value)
    const obs = new MutationObserver(() => mark(el, binding.value))
    obs.observe(el, { childList: true, subtree: true })
    observers.set(el, obs)
  },
  updated(el, binding) {
    mark(el, binding.value)
  },
  beforeUnmount(el) {
    observers.get(el)?.disconnect()
    observers.delete(el)
  },
}
