// ECharts options for a dashboard widget (WidgetData) of every chart type but the cards, shared by
// the PC, phone and big-screen pages. Pure functions: IndChart.vue owns the instance.
import type { Direction, IndicatorBrief, WidgetData, WidgetSeries } from '../../api/ind'
import { fmtValue } from '../../api/ind'

export type ChartTheme = 'light' | 'dark'
export type ChartSize = 'small' | 'medium' | 'large'

export const PALETTE_LIGHT = ['#2f6bff', '#22a06b', '#f5a524', '#e5484d', '#14b8c6', '#8e5cf7', '#fc8452', '#3ba272', '#ea7ccc', '#909399']
export const PALETTE_DARK = ['#3aa0ff', '#36e2a0', '#ffcf4a', '#ff6b6b', '#4fe3f0', '#b18cff', '#ff9a5a', '#7de38b', '#ff8fd0', '#a0aec0']

/** Whether the widget's x axis is a category axis that a click maps to one x value. */
export function isCartesian(chart: WidgetData['chart']): boolean {
  return chart === 'bar' || chart === 'dual' || chart === 'pareto' || chart === 'line' || chart === 'rank'
}

interface Look {
  text: string
  sub: string
  axis: string
  split: string
  font: number
  palette: string[]
}

function look(theme: ChartTheme, size: ChartSize): Look {
  const dark = theme === 'dark'
  return {
    text: dark ? '#d8e6ff' : '#303133',
    sub: dark ? '#8fa8cc' : '#909399',
    axis: dark ? '#3a5680' : '#dcdfe6',
    split: dark ? 'rgba(80,120,180,0.25)' : '#ebeef5',
    font: size === 'large' ? 14 : size === 'small' ? 11 : 12,
    palette: dark ? PALETTE_DARK : PALETTE_LIGHT,
  }
}

/** The grid every cartesian widget uses: fixed pixel margins (labels inside), so a click maps to a
 *  category predictably on every screen. */
export function gridFor(data: WidgetData, size: ChartSize) {
  const legend = data.series.length > 1 || data.chart === 'pareto' || data.chart === 'dual'
  const big = size === 'large'
  if (data.chart === 'rank') return { left: big ? 110 : 88, right: big ? 60 : 52, top: legend ? 30 : 12, bottom: 20, outerBoundsMode: 'none' as const }
  const rightAxis = data.chart === 'dual' || data.chart === 'pareto'
  return {
    left: big ? 64 : 52,
    right: rightAxis ? (big ? 64 : 52) : 16,
    top: legend ? (big ? 54 : 50) : big ? 34 : 30,
    bottom: manyLabels(data) ? (big ? 64 : 56) : big ? 36 : 30,
    outerBoundsMode: 'none' as const,
  }
}

function manyLabels(data: WidgetData): boolean {
  return data.x.length > 6 || data.x.some((s) => s.length > 4)
}

function unitOf(s: WidgetSeries | undefined, ind: IndicatorBrief[]): string {
  if (!s) return ''
  return s.unit || ind.find((i) => i.code === s.code)?.unit || ''
}

function tooltipValue(v: unknown, unit: string): string {
  return typeof v === 'number' ? `${fmtValue(v)}${unit ? ' ' + unit : ''}` : '—'
}

/** A short label for the x axis: periods lose the year when they all share it. */
export function shortX(data: WidgetData): string[] {
  if (data.by !== 'period') return data.x
  const codes = data.x_codes.length === data.x.length ? data.x_codes : data.x
  if (!codes.length) return data.x
  const sameYear = codes.every((c) => c.slice(0, 4) === codes[0].slice(0, 4))
  if (codes.every((c) => /^\d{4}-\d{2}$/.test(c))) return codes.map((c) => (sameYear ? `${Number(c.slice(5))}月` : `${c.slice(2, 4)}/${c.slice(5)}`))
  if (codes.every((c) => /^\d{4}-\d{2}-\d{2}$/.test(c))) return codes.map((c) => `${Number(c.slice(5, 7))}/${Number(c.slice(8))}`)
  if (codes.every((c) => /^\d{4}Q[1-4]$/.test(c))) return codes.map((c) => (sameYear ? `${c.slice(4)}` : `${c.slice(2, 4)}${c.slice(4)}`))
  return data.x
}

function axisCommon(l: Look) {
  return {
    axisLine: { lineStyle: { color: l.axis } },
    axisTick: { show: false },
    axisLabel: { color: l.sub, fontSize: l.font },
    splitLine: { lineStyle: { color: l.split } },
    nameTextStyle: { color: l.sub, fontSize: l.font - 1 },
  }
}

export function buildOption(data: WidgetData, theme: ChartTheme, size: ChartSize): Record<string, unknown> {
  const l = look(theme, size)
  const base = {
    color: l.palette,
    backgroundColor: 'transparent',
    textStyle: { color: l.text, fontSize: l.font },
    animationDuration: 500,
    tooltip: {
      confine: true,
      backgroundColor: theme === 'dark' ? 'rgba(8,24,52,0.92)' : '#fff',
      borderColor: theme === 'dark' ? '#2a5caa' : '#e4e7ed',
      textStyle: { color: l.text, fontSize: l.font },
    },
  }
  const legend = { top: 0, textStyle: { color: l.sub, fontSize: l.font }, itemWidth: 12, itemHeight: 8, type: 'scroll' as const }
  const xs = shortX(data)
  const s0 = data.series[0]
  const unit0 = unitOf(s0, data.indicators)

  switch (data.chart) {
    case 'pie': {
      const slices = pieSlices(data)
      return {
        ...base,
        tooltip: { ...base.tooltip, trigger: 'item', formatter: (p: { name: string; value: number; percent: number }) => `${p.name}：${tooltipValue(p.value, slices.unit)}（${p.percent}%）` },
        legend: { ...legend, top: undefined, bottom: 0 },
        series: [
          {
            type: 'pie',
            radius: size === 'small' ? ['30%', '58%'] : ['36%', '64%'],
            center: ['50%', '46%'],
            label: { color: l.text, fontSize: l.font - 1, formatter: '{b}\n{d}%' },
            labelLine: { length: 6, length2: 6 },
            itemStyle: { borderColor: theme === 'dark' ? '#0b1d3a' : '#fff', borderWidth: 1 },
            data: slices.items,
          },
        ],
      }
    }
    case 'funnel': {
      const slices = pieSlices(data)
      return {
        ...base,
        tooltip: { ...base.tooltip, trigger: 'item', formatter: (p: { name: string; value: number }) => `${p.name}：${tooltipValue(p.value, slices.unit)}` },
        series: [
          {
            type: 'funnel',
            left: '8%',
            right: '8%',
            top: 10,
            bottom: 10,
            sort: 'descending',
            gap: 2,
            label: { position: 'inside', color: '#fff', fontSize: l.font, formatter: (p: { name: string; value: number }) => `${p.name} ${fmtValue(p.value)}` },
            data: slices.items,
          },
        ],
      }
    }
    case 'rank': {
      return {
        ...base,
        tooltip: { ...base.tooltip, trigger: 'axis', axisPointer: { type: 'shadow' }, valueFormatter: (v: unknown) => tooltipValue(v, unit0) },
        legend: data.series.length > 1 ? legend : undefined,
        grid: gridFor(data, size),
        xAxis: { type: 'value', ...axisCommon(l), axisLabel: { show: false }, splitLine: { show: false } },
        yAxis: { type: 'category', inverse: true, data: xs, ...axisCommon(l), axisLabel: { color: l.text, fontSize: l.font, width: gridFor(data, size).left - 12, overflow: 'truncate' } },
        series: data.series.map((s, i) => ({
          name: s.name,
          type: 'bar',
          barMaxWidth: size === 'large' ? 22 : 16,
          data: s.values,
          itemStyle: { borderRadius: [0, 4, 4, 0], color: i === 0 ? rankColor(l) : undefined },
          label: { show: i === 0, position: 'right', color: l.text, fontSize: l.font - 1, formatter: (p: { value: number }) => fmtValue(p.value) },
        })),
      }
    }
    case 'pareto': {
      const values = (s0?.values ?? []).map((v) => v ?? 0)
      const sum = values.reduce((a, b) => a + b, 0)
      let acc = 0
      const cum = values.map((v) => {
        acc += v
        return sum ? Math.round((acc / sum) * 1000) / 10 : 0
      })
      return {
        ...base,
        tooltip: {
          ...base.tooltip,
          trigger: 'axis',
          axisPointer: { type: 'shadow' },
          valueFormatter: undefined,
          formatter: (ps: { seriesIndex: number; name: string; value: number; marker: string; seriesName: string }[]) =>
            [ps[0]?.name, ...ps.map((p) => `${p.marker}${p.seriesName}：${p.seriesIndex === 1 ? `${p.value}%` : tooltipValue(p.value, unit0)}`)].join('<br/>'),
        },
        legend,
        grid: gridFor(data, size),
        xAxis: { type: 'category', data: xs, ...axisCommon(l), axisLabel: { ...axisCommon(l).axisLabel, interval: 0, rotate: manyLabels(data) ? 30 : 0 } },
        yAxis: [
          { type: 'value', name: unit0, ...axisCommon(l) },
          { type: 'value', name: '累计占比', min: 0, max: 100, ...axisCommon(l), splitLine: { show: false }, axisLabel: { ...axisCommon(l).axisLabel, formatter: '{value}%' } },
        ],
        series: [
          { name: s0?.name ?? '', type: 'bar', barMaxWidth: 28, data: s0?.values ?? [], itemStyle: { borderRadius: [3, 3, 0, 0] } },
          { name: '累计占比', type: 'line', yAxisIndex: 1, data: cum, symbolSize: 6, smooth: false, label: { show: size !== 'small', position: 'top', formatter: '{c}%', fontSize: l.font - 2, color: l.sub } },
        ],
      }
    }
    case 'dual': {
      const s1 = data.series[1]
      const unit1 = unitOf(s1, data.indicators)
      return {
        ...base,
        tooltip: {
          ...base.tooltip,
          trigger: 'axis',
          formatter: (ps: { seriesIndex: number; name: string; value: number; marker: string; seriesName: string }[]) =>
            [ps[0]?.name, ...ps.map((p) => `${p.marker}${p.seriesName}：${tooltipValue(p.value, p.seriesIndex === 1 ? unit1 : unit0)}`)].join('<br/>'),
        },
        legend,
        grid: gridFor(data, size),
        xAxis: { type: 'category', data: xs, ...axisCommon(l), axisLabel: { ...axisCommon(l).axisLabel, interval: 'auto', hideOverlap: true, rotate: manyLabels(data) && data.by !== 'period' ? 30 : 0 } },
        yAxis: [
          { type: 'value', name: unit0, ...axisCommon(l) },
          { type: 'value', name: unit1, ...axisCommon(l), splitLine: { show: false } },
        ],
        series: [
          { name: s0?.name ?? '', type: 'bar', barMaxWidth: 26, data: s0?.values ?? [], itemStyle: { borderRadius: [3, 3, 0, 0] } },
          ...(s1 ? [{ name: s1.name, type: 'line', yAxisIndex: 1, data: s1.values, symbolSize: 6, smooth: true }] : []),
        ],
      }
    }
    case 'line':
    case 'bar':
    default: {
      const line = data.chart === 'line'
      return {
        ...base,
        tooltip: { ...base.tooltip, trigger: 'axis', axisPointer: { type: line ? 'line' : 'shadow' }, valueFormatter: (v: unknown) => tooltipValue(v, unit0) },
        legend: data.series.length > 1 ? legend : undefined,
        grid: gridFor(data, size),
        xAxis: {
          type: 'category',
          boundaryGap: !line,
          data: xs,
          ...axisCommon(l),
          axisLabel: { ...axisCommon(l).axisLabel, interval: data.by === 'period' ? 'auto' : 0, hideOverlap: data.by === 'period', rotate: manyLabels(data) && data.by !== 'period' ? 30 : 0 },
        },
        yAxis: { type: 'value', name: unit0, scale: line, ...axisCommon(l) },
        series: data.series.map((s) =>
          line
            ? { name: s.name, type: 'line', data: s.values, smooth: true, symbolSize: 6, areaStyle: data.series.length === 1 ? { opacity: 0.12 } : undefined }
            : { name: s.name, type: 'bar', data: s.values, barMaxWidth: 28, itemStyle: { borderRadius: [3, 3, 0, 0] }, label: { show: data.series.length === 1 && data.x.length <= 8 && size !== 'small', position: 'top', fontSize: l.font - 2, color: l.sub, formatter: (p: { value: number }) => fmtValue(p.value, 1) } },
        ),
      }
    }
  }
}

function rankColor(l: Look) {
  return { type: 'linear', x: 0, y: 0, x2: 1, y2: 0, colorStops: [{ offset: 0, color: l.palette[0] + '66' }, { offset: 1, color: l.palette[0] }] }
}

/** Slices of a pie or funnel: one per x value for one indicator, else one per indicator (its last
 *  value), e.g. a funnel of 受理 → 办结 indicators. `index` is the x index a slice drills to. */
export function pieSlices(data: WidgetData): { items: { name: string; value: number; index: number | null }[]; unit: string } {
  if (data.series.length === 1 || data.by !== 'period') {
    const s = data.series[0]
    return {
      unit: unitOf(s, data.indicators),
      items: data.x.map((name, i) => ({ name, value: s?.values[i] ?? 0, index: i })).filter((d) => d.value !== null),
    }
  }
  return {
    unit: unitOf(data.series[0], data.indicators),
    items: data.series.map((s) => {
      const vals = s.values.filter((v): v is number => v !== null)
      return { name: s.name, value: vals[vals.length - 1] ?? 0, index: null }
    }),
  }
}

/** The direction of an indicator of the widget (for colouring changes). */
export function directionOf(data: WidgetData, code: string): Direction {
  return data.indicators.find((i) => i.code === code)?.direction ?? 'none'
}
