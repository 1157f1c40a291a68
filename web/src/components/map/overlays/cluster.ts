// 聚合: server-side grid clusters for the viewport, refreshed when the map stops moving; a circle
// per cluster sized by its count, with the count written in it (HTML markers: no glyphs needed).
import type { Map as MlMap, Marker } from 'maplibre-gl'
import { maplibregl } from '../maplibre'
import { mapApi } from '../../../api'
import type { MapCluster } from '../../../api/types'
import { showFeatureById } from '../popup'
import type { MapOverlay, OverlayContext } from './types'
import { debounce, serverZoom, viewBbox } from './util'

export class ClusterOverlay implements MapOverlay {
  private ctx: OverlayContext | null = null
  private markers: Marker[] = []
  private gen = 0
  private readonly refresh = debounce(() => void this.load(), 200)

  attach(ctx: OverlayContext): void {
    this.ctx = ctx
    ctx.map.on('moveend', this.refresh)
    void this.load()
  }

  detach(): void {
    this.gen++
    this.refresh.cancel()
    this.ctx?.map.off('moveend', this.refresh)
    this.clear()
    this.ctx = null
  }

  private clear(): void {
    for (const m of this.markers) m.remove()
    this.markers = []
  }

  private async load(): Promise<void> {
    const ctx = this.ctx
    if (!ctx?.layer) return
    const gen = ++this.gen
    let list: MapCluster[]
    try {
      list = await mapApi.clusters(ctx.layer.id, viewBbox(ctx.map), serverZoom(ctx.map))
    } catch {
      return
    }
    if (gen !== this.gen) return
    this.clear()
    const max = list.reduce((m, c) => Math.max(m, c.count), 1)
    for (const c of list) this.markers.push(this.marker(ctx.map, c, max))
  }

  private marker(map: MlMap, c: MapCluster, max: number): Marker {
    const el = document.createElement('div')
    const size = c.count === 1 ? 14 : Math.round(24 + 30 * Math.sqrt(c.count / max))
    el.className = 'tg-cluster' + (c.count === 1 ? ' tg-cluster-single' : '')
    el.style.width = el.style.height = `${size}px`
    el.textContent = c.count === 1 ? '' : c.count >= 10000 ? `${(c.count / 10000).toFixed(1)}万` : String(c.count)
    el.title = c.count === 1 ? '点击查看详情' : `${c.count} 个要素，点击放大`
    el.addEventListener('click', (e) => {
      e.stopPropagation()
      if (!this.ctx?.canPick()) return
      if (c.count > 1) map.easeTo({ center: [c.lon, c.lat], zoom: Math.min(map.getZoom() + 2, map.getMaxZoom()) })
      else if (c.id !== null) void showFeatureById(map, [c.lon, c.lat], c.id, this.ctx?.layer ?? null)
    })
    return new maplibregl.Marker({ element: el }).setLngLat([c.lon, c.lat]).addTo(map)
  }
}
