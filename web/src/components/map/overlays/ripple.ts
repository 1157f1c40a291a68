// 波纹点: pulsing markers for the urgent features in view (attribute `urgent` = true, e.g. 紧急事件),
// from a spatial query of the viewport; refreshed when the map stops moving. A layer without an
// `urgent` attribute pulses its first features in view instead.
import { reactive } from 'vue'
import type { GeoJSONSource, MapLayerMouseEvent } from 'maplibre-gl'
import type { FeatureCollection, Geometry } from 'geojson'
import { mapApi } from '../../../api'
import type { AttrFilter, MapFeature } from '../../../api/types'
import { addPulsingDot } from '../icons'
import { showFeature } from '../popup'
import { OVERLAY_ANCHOR } from '../style'
import type { MapOverlay, OverlayContext } from './types'
import { debounce, removeAll, viewBbox } from './util'

const SRC = 'tg-ov-ripple'
const LYR = 'tg-ov-ripple'
/** At most this many pulsing points (one page of the query). */
const LIMIT = 100

export class RippleOverlay implements MapOverlay {
  readonly state = reactive({ total: 0, shown: 0, urgentOnly: true, loading: false })
  private ctx: OverlayContext | null = null
  private gen = 0
  private items: MapFeature[] = []
  private readonly refresh = debounce(() => void this.load(), 250)

  attach(ctx: OverlayContext): void {
    if (!ctx.layer) return
    this.ctx = ctx
    const { map } = ctx
    const img = addPulsingDot(map)
    map.addSource(SRC, { type: 'geojson', data: { type: 'FeatureCollection', features: [] } })
    map.addLayer(
      { id: LYR, type: 'symbol', source: SRC, layout: { 'icon-image': img, 'icon-allow-overlap': true, 'icon-ignore-placement': true } },
      OVERLAY_ANCHOR,
    )
    map.on('moveend', this.refresh)
    map.on('click', LYR, this.onClick)
    void this.load()
  }

  detach(): void {
    this.gen++
    this.refresh.cancel()
    const map = this.ctx?.map
    if (map) {
      map.off('moveend', this.refresh)
      map.off('click', LYR, this.onClick)
      removeAll(map, [LYR], [SRC])
    }
    this.ctx = null
  }

  private async load(): Promise<void> {
    const ctx = this.ctx
    if (!ctx?.layer) return
    const gen = ++this.gen
    const urgent = ctx.layer.attr_schema.some((a) => a.name === 'urgent')
    const filters: AttrFilter[] = urgent ? [{ field: 'urgent', op: 'eq', value: true }] : []
    this.state.loading = true
    try {
      const page = await mapApi.query(ctx.layer.id, { shape: { type: 'rect', bbox: viewBbox(ctx.map) }, filters, page: 1, page_size: LIMIT })
      if (gen !== this.gen) return
      this.items = page.items
      Object.assign(this.state, { total: page.total, shown: page.items.length, urgentOnly: urgent })
      const data: FeatureCollection<Geometry> = {
        type: 'FeatureCollection',
        features: page.items.map((f) => ({ type: 'Feature', id: f.id, properties: { id: f.id }, geometry: f.geometry })),
      }
      ctx.map.getSource<GeoJSONSource>(SRC)?.setData(data)
    } catch {
      /* shown by the API client */
    } finally {
      if (gen === this.gen) this.state.loading = false
    }
  }

  private readonly onClick = (e: MapLayerMouseEvent) => {
    const ctx = this.ctx
    const id = Number(e.features?.[0]?.properties.id)
    const f = this.items.find((x) => x.id === id)
    if (ctx && f && ctx.canPick()) showFeature(ctx.map, e.lngLat, f, ctx.layer)
  }
}
