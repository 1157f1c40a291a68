// Widget data built in the browser from the series and breakdown answers (the indicator detail draws
// them with the same IndChart as the dashboards).
import type { Breakdown, ChartType, Indicator, IndicatorBrief, Series, WidgetData } from '../../api/ind'
import { fmtPeriod } from '../../api/ind'

export function briefOf(i: Indicator): IndicatorBrief {
  return {
    code: i.code,
    name: i.name,
    unit: i.unit,
    definition: i.definition,
    source: i.source,
    frequency: i.frequency,
    updated_at: i.updated_at,
    direction: i.direction,
    yoy_unit: i.yoy_unit || (i.unit === '%' ? '百分点' : '%'),
    is_demo: i.is_demo,
  }
}

/** The trend of one indicator (a line, or bars for sums). */
export function seriesWidget(s: Series, chart?: ChartType): WidgetData {
  const i = s.indicator
  const c: ChartType = chart ?? (i.agg === 'sum' ? 'bar' : 'line')
  return {
    id: `series-${i.code}`,
    title: i.name,
    chart: c,
    by: 'period',
    indicators: [briefOf(i)],
    x: s.points.map((p) => fmtPeriod(p.period)),
    x_codes: s.points.map((p) => p.period),
    series: [{ code: i.code, name: i.name, unit: i.unit, values: s.points.map((p) => p.value ?? null), yoy: s.points.map((p) => p.yoy ?? null) }],
    cards: [],
    drillable: [],
    group: '',
    span: { small: 24, medium: 12, large: 8 },
  }
}

/** The breakdown of one indicator by sub-region (ranked bars) or by category (pie). */
export function breakdownWidget(b: Breakdown): WidgetData {
  const i = b.indicator
  const byRegion = b.by === 'region'
  return {
    id: `breakdown-${i.code}-${b.by}`,
    title: i.name,
    chart: byRegion ? 'rank' : 'pie',
    by: b.by,
    indicators: [briefOf(i)],
    x: b.points.map((p) => (byRegion ? p.region_name : p.category || '合计')),
    x_codes: b.points.map((p) => (byRegion ? p.region_code : p.category)),
    series: [{ code: i.code, name: i.name, unit: i.unit, values: b.points.map((p) => p.value ?? null), yoy: b.points.map((p) => p.yoy ?? null) }],
    cards: [],
    drillable: byRegion ? b.points.map((p) => p.has_children) : [],
    group: '',
    span: { small: 24, medium: 12, large: 8 },
  }
}
