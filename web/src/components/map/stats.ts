// Counts of a selection's features by two attributes, for the pie and bar charts. Exact in every
// case, without loading huge results:
//  - up to PAGE_THROUGH features: every page is read and counted (cheap for the server: one page
//    at a time from its index; at most 20 requests of 500);
//  - more: the values seen in the first page are counted one by one with an extra `eq` filter (the
//    server's totals; each such query walks every match, so this is kept for large selections),
//    and whatever is left of the total is shown as 其他.
import { mapApi } from '../../api'
import { ApiError } from '../../api/http'
import type { AttrFilter, MapFeature, QueryRequest } from '../../api/types'

export type StatsQuery = Omit<QueryRequest, 'page' | 'page_size'>

export interface CountRow {
  name: string
  value: number
}

export interface SelectionStats {
  total: number
  pie: CountRow[]
  bar: CountRow[]
  /** How the counts were made: every feature read, or per-value totals. */
  method: 'pages' | 'filters'
}

/** The server's largest page. */
const PAGE = 500
const PAGE_THROUGH = 10_000
/** Requests in flight at once (the server has few cores to spare). */
const PARALLEL = 2

export const EMPTY_VALUE = '未填写'
export const OTHER_VALUE = '其他'

type Value = string | number | boolean

function label(v: unknown): string {
  if (v === null || v === undefined || v === '') return EMPTY_VALUE
  if (typeof v === 'boolean') return v ? '是' : '否'
  return String(v)
}

function countBy(items: MapFeature[], field: string): CountRow[] {
  const m = new Map<string, number>()
  for (const f of items) {
    const k = label(f.properties[field])
    m.set(k, (m.get(k) ?? 0) + 1)
  }
  return [...m].map(([name, value]) => ({ name, value })).sort((a, b) => b.value - a.value)
}

/** Runs tasks with at most `n` in flight; stops starting new ones once `alive()` turns false. */
async function pool<T>(tasks: (() => Promise<T>)[], n: number, alive: () => boolean): Promise<T[]> {
  const out: T[] = new Array(tasks.length)
  let next = 0
  async function worker(): Promise<void> {
    while (next < tasks.length && alive()) {
      const i = next++
      out[i] = await tasks[i]()
    }
  }
  await Promise.all(Array.from({ length: Math.min(n, tasks.length) }, worker))
  return out
}

/** Thrown when a newer computation has replaced this one. */
export class Superseded extends Error {}

export async function selectionStats(
  layerId: number,
  q: StatsQuery,
  pieField: string,
  barField: string,
  alive: () => boolean,
  onTotal: (total: number) => void = () => {},
): Promise<SelectionStats> {
  const check = () => {
    if (!alive()) throw new Superseded()
  }
  const first = await mapApi.query(layerId, { ...q, page: 1, page_size: PAGE }, true)
  check()
  const total = first.total
  onTotal(total)
  const size = first.page_size || PAGE
  if (total <= first.items.length || total <= PAGE_THROUGH) {
    const pages = Math.ceil(total / size)
    const rest = await pool(
      Array.from({ length: Math.max(0, pages - 1) }, (_, i) => () => mapApi.query(layerId, { ...q, page: i + 2, page_size: size }, true)),
      PARALLEL,
      alive,
    )
    check()
    const items = [first.items, ...rest.map((p) => p.items)].flat()
    return { total, pie: countBy(items, pieField), bar: countBy(items, barField), method: 'pages' }
  }
  const byValue = async (field: string): Promise<CountRow[]> => {
    const values = new Map<string, Value>()
    for (const f of first.items) {
      const v = f.properties[field]
      if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') values.set(label(v), v)
    }
    const entries = [...values]
    const totals = await pool(
      entries.map(([, v]) => async () => {
        const filters: AttrFilter[] = [...(q.filters ?? []), { field, op: 'eq', value: v }]
        return (await mapApi.query(layerId, { ...q, filters, page: 1, page_size: 1 }, true)).total
      }),
      PARALLEL,
      alive,
    )
    check()
    const rows = entries.map(([name], i) => ({ name, value: totals[i] })).filter((r) => r.value > 0)
    const rest = total - rows.reduce((s, r) => s + r.value, 0)
    if (rest > 0) rows.push({ name: OTHER_VALUE, value: rest })
    return rows.sort((a, b) => b.value - a.value)
  }
  const pie = await byValue(pieField)
  const bar = barField === pieField ? pie : await byValue(barField)
  return { total, pie, bar, method: 'filters' }
}

/** The server's message for a failed computation. */
export function statsError(e: unknown): string {
  return e instanceof ApiError ? e.message : '统计失败，请稍后重试'
}
