import { reactive } from 'vue'
import { ElMessage, ElMessageBox } from 'element-plus'
import { ApiError } from '../api/http'

/** A dialog form's save: field errors from the server land next to their fields. */
export function useSaveDialog() {
  const errs = reactive<Record<string, string>>({})
  const dialog = reactive({ visible: false, id: 0, saving: false })
  async function save(run: () => Promise<unknown>, after: () => Promise<unknown>): Promise<void> {
    Object.keys(errs).forEach((k) => delete errs[k])
    dialog.saving = true
    try {
      await run()
      ElMessage.success('已保存')
      dialog.visible = false
      await after()
    } catch (e) {
      if (e instanceof ApiError) for (const d of e.details) errs[d.field] = d.message
    } finally {
      dialog.saving = false
    }
  }
  return { errs, dialog, save }
}

/** Asks before a destructive action, runs it, tells the user, then reloads. */
export async function confirmThen(message: string, title: string, action: string, run: () => Promise<unknown>, after: () => Promise<unknown>): Promise<void> {
  const ok = await ElMessageBox.confirm(message, title, { type: 'warning', confirmButtonText: action, cancelButtonText: '取消' }).catch(() => false)
  if (!ok) return
  await run()
  ElMessage.success(`已${action}`)
  await after()
}
