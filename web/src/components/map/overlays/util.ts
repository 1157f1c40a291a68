import type { Map as MlMap } from 'maplibre-gl'
import type { Bbox } from '../../../api'

/** The visible box [min_lon, min_lat, max_lon, max_lat], clamped to valid coordinates. */
export function viewBbox(map: MlMap): Bbox {
  const b = map.getBounds()
  const r = (v: number) => Math.round(v * 1e6) / 1e6
  return [
    r(Math.max(-180, b.getWest())),
    r(Math.max(-85, b.getSouth())),
    r(Math.min(180, b.getEast())),
    r(Math.min(85, b.getNorth())),
  ]
}

/** The zoom the aggregate endpoints expect (256-px tile levels; MapLibre's are 512-px). */
export function serverZoom(map: MlMap): number {
  return Math.min(22, Math.max(0, map.getZoom() + 1))
}

/** Removes layers and sources if present. */
export function removeAll(map: MlMap, layers: string[], sources: string[] = []): void {
  for (const id of layers) if (map.getLayer(id)) map.removeLayer(id)
  for (const id of sources) if (map.getSource(id)) map.removeSource(id)
}

/** Calls `fn` once moving stops for `ms`. */
export function debounce<A extends unknown[]>(fn: (...a: A) => void, ms: number): ((...a: A) => void) & { cancel(): void } {
  let t: ReturnType<typeof setTimeout> | undefined
  const d = (...a: A) => {
    if (t) clearTimeout(t)
    t = setTimeout(() => fn(...a), ms)
  }
  d.cancel = () => t && clearTimeout(t)
  return d
}

/** Runs a frame loop until stopped. */
export function frameLoop(step: (now: number) => void): () => void {
  let id = 0
  let on = true
  const tick = (now: number) => {
    if (!on) return
    step(now)
    id = requestAnimationFrame(tick)
  }
  id = requestAnimationFrame(tick)
  return () => {
    on = false
    cancelAnimationFrame(id)
  }
}

/** Brings a small demo path into view when it is off screen or too small to see. */
export function ensureVisible(map: MlMap, path: [number, number][]): void {
  let [w, s, e, n] = [Infinity, Infinity, -Infinity, -Infinity]
  for (const [x, y] of path) {
    w = Math.min(w, x)
    e = Math.max(e, x)
    s = Math.min(s, y)
    n = Math.max(n, y)
  }
  const a = map.project([w, n])
  const b = map.project([e, s])
  const c = map.getCanvas()
  const inside = a.x >= 0 && a.y >= 0 && b.x <= c.clientWidth && b.y <= c.clientHeight
  if (!inside || b.x - a.x < 160) map.fitBounds([[w, s], [e, n]], { padding: 80, maxZoom: 14, duration: 800 })
}
