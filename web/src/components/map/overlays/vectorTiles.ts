// Points from the layer's Mapbox Vector Tiles (source-layer = the layer's code): raw points carry
// `id`; where a tile holds too many, thinned cells carry `count` (and `id` when the cell has one).
//   矢量瓦片 — the raw points; a click shows the feature.
//   散点图   — circles coloured and sized by value: `count` of thinned cells; zoomed in (at most
//              1,000 features in view) by the layer's category attribute, read by a spatial query.
import { reactive } from 'vue'
import type { ExpressionSpecification, MapLayerMouseEvent, Map as MlMap } from 'maplibre-gl'
import { mapApi } from '../../../api'
import { showFeatureById } from '../popup'
import { OVERLAY_ANCHOR } from '../style'
import type { MapOverlay, OverlayContext } from './types'
import { debounce, removeAll, viewBbox } from './util'

abstract class TileOverlay implements MapOverlay {
  protected ctx: OverlayContext | null = null
  protected abstract readonly key: string
  protected get src(): string {
    return `tg-ov-${this.key}`
  }
  protected get lyr(): string {
    return `tg-ov-${this.key}`
  }

  attach(ctx: OverlayContext): void {
    if (!ctx.layer) return
    this.ctx = ctx
    const { map, layer } = ctx
    map.addSource(this.src, { type: 'vector', tiles: [mapApi.tileUrl(layer.id)], minzoom: 0, maxzoom: 16 })
    this.addLayer(map, layer.code, typeof layer.style.color === 'string' ? layer.style.color : '#e6553a')
    map.on('click', this.lyr, this.onClick)
    map.on('mouseenter', this.lyr, this.onEnter)
    map.on('mouseleave', this.lyr, this.onLeave)
  }

  detach(): void {
    const map = this.ctx?.map
    if (map) {
      map.off('click', this.lyr, this.onClick)
      map.off('mouseenter', this.lyr, this.onEnter)
      map.off('mouseleave', this.lyr, this.onLeave)
      map.getCanvas().style.cursor = ''
      removeAll(map, [this.lyr], [this.src])
    }
    this.ctx = null
  }

  protected abstract addLayer(map: MlMap, sourceLayer: string, color: string): void

  private readonly onClick = (e: MapLayerMouseEvent) => {
    const ctx = this.ctx
    const f = e.features?.[0]
    if (!ctx || !f || !ctx.canPick()) return
    const id = Number(f.properties.id)
    const count = Number(f.properties.count ?? 1)
    if (Number.isFinite(id) && count <= 1) void showFeatureById(ctx.map, e.lngLat, id, ctx.layer)
    else ctx.map.easeTo({ center: e.lngLat, zoom: Math.min(ctx.map.getZoom() + 2, 18) })
  }
  private readonly onEnter = () => {
    if (this.ctx?.canPick()) this.ctx.map.getCanvas().style.cursor = 'pointer'
  }
  private readonly onLeave = () => {
    if (this.ctx) this.ctx.map.getCanvas().style.cursor = ''
  }
}

export class RawTilesOverlay extends TileOverlay {
  protected readonly key = 'tiles'
  protected addLayer(map: MlMap, sourceLayer: string, color: string): void {
    map.addLayer(
      {
        id: this.lyr,
        type: 'circle',
        source: this.src,
        'source-layer': sourceLayer,
        paint: {
          'circle-color': color,
          'circle-radius': ['interpolate', ['linear'], ['zoom'], 6, 1.6, 12, 3.5, 16, 6],
          'circle-stroke-color': '#ffffff',
          'circle-stroke-width': ['interpolate', ['linear'], ['zoom'], 8, 0, 12, 1],
          'circle-opacity': 0.85,
        },
      },
      OVERLAY_ANCHOR,
    )
  }
}

/** Colours of attribute values in the scatter (the 11th value on shares the last colour). */
const VALUE_COLORS = ['#5470c6', '#91cc75', '#fac858', '#ee6666', '#73c0de', '#3ba272', '#fc8452', '#9a60b4', '#ea7ccc', '#909399']
/** At most this many features in view get their attribute value (two pages of the query). */
const VALUE_LIMIT = 1000

export class ScatterOverlay extends TileOverlay {
  protected readonly key = 'scatter'
  /** What the colours mean now: thinned-cell counts, or an attribute's values in view. */
  readonly state = reactive({ by: 'count' as 'count' | 'value', field: '', legend: [] as { color: string; label: string }[], loading: false })
  private readonly values = new Map<string, number>()
  private gen = 0
  private readonly refresh = debounce(() => void this.colourByValue(), 300)

  attach(ctx: OverlayContext): void {
    super.attach(ctx)
    if (!this.ctx) return
    const f = ctx.layer?.attr_schema.find((a) => a.name === 'category') ?? ctx.layer?.attr_schema.find((a) => a.type === 'text')
    this.state.field = f?.label ?? ''
    ctx.map.on('moveend', this.refresh)
    void this.colourByValue()
  }

  detach(): void {
    this.gen++
    this.refresh.cancel()
    this.ctx?.map.off('moveend', this.refresh)
    super.detach()
  }

  protected addLayer(map: MlMap, sourceLayer: string): void {
    const v: ExpressionSpecification = ['coalesce', ['get', 'count'], 1]
    const byCount: ExpressionSpecification = ['step', v, '#4e9af1', 3, '#39b98a', 8, '#e6c229', 20, '#f08c35', 50, '#d9363e']
    const valueIndex: ExpressionSpecification = ['to-number', ['coalesce', ['feature-state', 'v'], -1]]
    map.addLayer(
      {
        id: this.lyr,
        type: 'circle',
        source: this.src,
        'source-layer': sourceLayer,
        paint: {
          // A point whose attribute value is known (feature state `v`) takes the value's colour.
          'circle-color': ['case', ['>=', valueIndex, 0], ['to-color', ['at', ['min', ['max', valueIndex, 0], VALUE_COLORS.length - 1], ['literal', VALUE_COLORS]]], byCount],
          'circle-radius': [
            'interpolate', ['linear'], ['zoom'],
            8, ['interpolate', ['linear'], v, 1, 2.5, 10, 5, 50, 8, 200, 12],
            14, ['interpolate', ['linear'], v, 1, 5, 10, 7, 50, 10, 200, 14],
          ],
          'circle-opacity': 0.85,
          'circle-stroke-color': '#ffffff',
          'circle-stroke-width': 0.6,
        },
      },
      OVERLAY_ANCHOR,
    )
  }

  /** Zoomed in far enough (≤ VALUE_LIMIT features in view): colour the points by the layer's
   *  category attribute, read with a spatial query of the view. Otherwise by count. */
  private async colourByValue(): Promise<void> {
    const ctx = this.ctx
    const layer = ctx?.layer
    const attr = layer?.attr_schema.find((a) => a.name === 'category') ?? layer?.attr_schema.find((a) => a.type === 'text')
    if (!ctx || !layer || !attr) return
    const gen = ++this.gen
    const bbox = viewBbox(ctx.map)
    this.state.loading = true
    try {
      const first = await mapApi.query(layer.id, { shape: { type: 'rect', bbox }, page: 1, page_size: 500 }, true)
      if (gen !== this.gen) return
      let items = first.items
      if (first.total > VALUE_LIMIT) items = []
      else if (first.total > first.items.length) {
        const second = await mapApi.query(layer.id, { shape: { type: 'rect', bbox }, page: 2, page_size: 500 }, true)
        if (gen !== this.gen) return
        items = [...items, ...second.items]
      }
      const target = { source: this.src, sourceLayer: layer.code }
      ctx.map.removeFeatureState(target)
      for (const f of items) {
        const raw = f.properties[attr.name]
        const key = raw === undefined || raw === null || raw === '' ? '未填写' : String(raw)
        if (!this.values.has(key)) this.values.set(key, Math.min(this.values.size, VALUE_COLORS.length - 1))
        ctx.map.setFeatureState({ ...target, id: f.id }, { v: this.values.get(key) })
      }
      if (items.length) {
        const shown = new Set(items.map((f) => String(f.properties[attr.name] ?? '未填写')))
        this.state.by = 'value'
        this.state.legend = [...this.values].filter(([k]) => shown.has(k)).map(([label, i]) => ({ label, color: VALUE_COLORS[i] }))
      } else {
        this.state.by = 'count'
        this.state.legend = SCATTER_LEGEND
      }
    } catch {
      /* colours stay by count */
    } finally {
      if (gen === this.gen) this.state.loading = false
    }
  }
}

/** The legend of the count colours (value = points a thinned circle stands for). */
export const SCATTER_LEGEND: { color: string; label: string }[] = [
  { color: '#4e9af1', label: '1–2' },
  { color: '#39b98a', label: '3–7' },
  { color: '#e6c229', label: '8–19' },
  { color: '#f08c35', label: '20–49' },
  { color: '#d9363e', label: '≥50' },
]
