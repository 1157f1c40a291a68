/** Formats an RFC 3339 time for display in China Standard Time. */
export function fmt(t?: string | null): string {
  if (!t) return '—'
  const d = new Date(t)
  if (Number.isNaN(d.getTime())) return t
  return d.toLocaleString('zh-CN', { hour12: false, timeZone: 'Asia/Shanghai' })
}
