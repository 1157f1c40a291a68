// A topic dashboard's data for the PC, phone and big-screen pages: loads GET /topics/{code}/dashboard
// for the chosen region and period, pairs each widget's data with its layout (span), and remembers
// the latest period (the answer to a load without a period) for the period pickers.
import { computed, ref, shallowRef, watch, type Ref } from 'vue'
import { indApi, periodFrequency, periodsBefore, type Dashboard, type Frequency, type Widget, type WidgetData, type WidgetSpan } from '../../api/ind'

export interface PlacedWidget {
  /** The layout with every span resolved. */
  widget: Omit<Widget, 'span'> & { span: WidgetSpan }
  data: WidgetData
}
export interface PlacedGroup {
  code: string
  name: string
  items: PlacedWidget[]
}

const DEFAULT_SPAN: WidgetSpan = { small: 24, medium: 12, large: 8 }

export function useDashboard(code: Ref<string>, region: Ref<string>, period: Ref<string>) {
  const dash = shallowRef<Dashboard | null>(null)
  const loading = ref(false)
  const failed = ref('')
  const latest = ref('')
  let gen = 0

  async function load(): Promise<void> {
    if (!code.value) return
    const my = ++gen
    loading.value = true
    try {
      const d = await indApi.dashboard(code.value, { region: region.value || undefined, period: period.value || undefined })
      if (my !== gen) return
      dash.value = d
      failed.value = ''
      if (!period.value || !latest.value) latest.value = mainPeriod(d) || d.period || ''
    } catch (e) {
      if (my === gen) failed.value = e instanceof Error ? e.message : '加载失败'
    } finally {
      if (my === gen) loading.value = false
    }
  }

  /** Groups in display order with their widgets' data (widgets without data are left out). */
  const groups = computed<PlacedGroup[]>(() => {
    const d = dash.value
    if (!d) return []
    const byId = new Map(d.widgets.map((w) => [w.id, w]))
    const placed = new Set<string>()
    const out: PlacedGroup[] = d.topic.groups.map((g) => ({
      code: g.code,
      name: g.name,
      items: (g.widgets ?? []).flatMap((w) => {
        const data = byId.get(w.id)
        if (!data) return []
        placed.add(w.id)
        return [{ widget: { ...w, span: { ...DEFAULT_SPAN, ...(data.span ?? {}), ...(w.span ?? {}) } }, data }]
      }),
    }))
    const rest = d.widgets.filter((w) => !placed.has(w.id))
    if (rest.length) {
      out.push({
        code: '_other',
        name: '其他',
        items: rest.map((data) => ({ widget: { id: data.id, title: data.title, chart: data.chart, indicators: data.indicators.map((i) => i.code), by: data.by, window: 12, span: { ...DEFAULT_SPAN, ...(data.span ?? {}) } }, data })),
      })
    }
    return out.filter((g) => g.items.length)
  })

  const periodOptions = computed(() => {
    const top = latest.value || dash.value?.period
    if (!top) return []
    const f = periodFrequency(top)
    return periodsBefore(top, f === 'year' ? 8 : f === 'quarter' ? 12 : f === 'day' ? 60 : 36)
  })

  /** The period the page names: the one chosen, else the latest of the topic's main frequency (a
   *  topic of monthly indicators with one daily chart reads "2026年10月", not the last day). */
  const shownPeriod = computed(() => (period.value || (dash.value ? mainPeriod(dash.value) : '') || dash.value?.period || ''))

  watch([code, region, period], () => void load())
  return { dash, loading, failed, latest, groups, periodOptions, shownPeriod, load }
}

/** The latest period of the dashboard's most common indicator frequency, from what its widgets show
 *  (card periods, breakdown periods, the last period of trends). */
export function mainPeriod(d: Dashboard): string {
  const count = new Map<Frequency, number>()
  for (const w of d.widgets) for (const i of w.indicators) count.set(i.frequency, (count.get(i.frequency) ?? 0) + 1)
  const main = [...count.entries()].sort((a, b) => b[1] - a[1])[0]?.[0]
  if (!main) return ''
  let best = ''
  const offer = (p: string | null | undefined) => {
    if (p && periodFrequency(p) === main && p > best) best = p
  }
  for (const w of d.widgets) {
    for (const c of w.cards) offer(c.period)
    offer(w.period)
    if (w.by === 'period') offer(w.x_codes[w.x_codes.length - 1])
  }
  return best
}
