import type { Directive } from 'vue'
import { useAuth } from '../stores/auth'

/** `v-access="'user:create'"` removes the element when the user lacks the permission. The server
 *  checks every request; this only keeps the UI honest. */
export const vAccess: Directive<HTMLElement, string | string[]> = {
  mounted(el, binding) {
    const auth = useAuth()
    const need = Array.isArray(binding.value) ? binding.value : [binding.value]
    if (!need.every((p) => auth.hasPerm(p))) el.remove()
  },
}
