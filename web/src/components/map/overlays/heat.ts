// 热力: a MapLibre heatmap fed by the server's heat grid for the viewport (weight = points per cell).
import type { GeoJSONSource } from 'maplibre-gl'
import type { FeatureCollection, Point } from 'geojson'
import { mapApi } from '../../../api'
import { OVERLAY_ANCHOR } from '../style'
import type { MapOverlay, OverlayContext } from './types'
import { debounce, removeAll, serverZoom, viewBbox } from './util'

const SRC = 'tg-ov-heat'
const LYR = 'tg-ov-heat'

export class HeatOverlay implements MapOverlay {
  private ctx: OverlayContext | null = null
  private gen = 0
  private readonly refresh = debounce(() => void this.load(), 200)

  attach(ctx: OverlayContext): void {
    this.ctx = ctx
    const { map } = ctx
    map.addSource(SRC, { type: 'geojson', data: { type: 'FeatureCollection', features: [] } })
    map.addLayer(
      {
        id: LYR,
        type: 'heatmap',
        source: SRC,
        paint: {
          // Set from the cells' `weight` on every load (scaled to the heaviest cell in view).
          'heatmap-weight': ['get', 'weight'],
          'heatmap-intensity': ['interpolate', ['linear'], ['zoom'], 6, 0.8, 14, 1.6],
          'heatmap-radius': ['interpolate', ['linear'], ['zoom'], 6, 12, 10, 22, 14, 36],
          'heatmap-opacity': 0.85,
          'heatmap-color': [
            'interpolate', ['linear'], ['heatmap-density'],
            0, 'rgba(33,102,172,0)', 0.15, '#4393c3', 0.35, '#92c5de', 0.55, '#fddbc7', 0.75, '#ef8a62', 1, '#b2182b',
          ],
        },
      },
      OVERLAY_ANCHOR,
    )
    map.on('moveend', this.refresh)
    void this.load()
  }

  detach(): void {
    this.gen++
    this.refresh.cancel()
    if (this.ctx) {
      this.ctx.map.off('moveend', this.refresh)
      removeAll(this.ctx.map, [LYR], [SRC])
    }
    this.ctx = null
  }

  private async load(): Promise<void> {
    const ctx = this.ctx
    if (!ctx?.layer) return
    const gen = ++this.gen
    try {
      const cells = await mapApi.heat(ctx.layer.id, viewBbox(ctx.map), serverZoom(ctx.map))
      if (gen !== this.gen) return
      const max = cells.reduce((m, c) => Math.max(m, c.weight), 2)
      ctx.map.setPaintProperty(LYR, 'heatmap-weight', ['interpolate', ['linear'], ['get', 'weight'], 0, 0, 1, 0.12, max, 1])
      const data: FeatureCollection<Point> = {
        type: 'FeatureCollection',
        features: cells.map((c) => ({ type: 'Feature', properties: { weight: c.weight }, geometry: { type: 'Point', coordinates: [c.lon, c.lat] } })),
      }
      ctx.map.getSource<GeoJSONSource>(SRC)?.setData(data)
    } catch {
      /* shown by the API client */
    }
  }
}
