// Who may do what on a 领导批示 (the server decides again on every request).
import type { Instruction } from '../../api/ind'
import type { Me } from '../../api/types'

export function isAuthor(i: Instruction, me: Me | null): boolean {
  if (!me) return false
  if (i.author_id !== undefined) return i.author_id === me.id
  return me.permissions.includes('ind:instruct') && i.author_name === me.display_name
}

/** The department's users reply while the instruction is open. */
export function canReply(i: Instruction, me: Me | null): boolean {
  if (i.can_reply !== undefined) return i.can_reply
  return !!me && me.permissions.includes('ind:handle') && me.department?.id === i.department_id && i.status === 'open'
}

/** The author closes an open or replied instruction, or returns a reply. */
export function canClose(i: Instruction, me: Me | null): boolean {
  if (i.can_close !== undefined) return i.can_close && i.status !== 'closed'
  return isAuthor(i, me) && i.status !== 'closed'
}
export function canReturn(i: Instruction, me: Me | null): boolean {
  return canClose(i, me) && i.status === 'replied'
}
