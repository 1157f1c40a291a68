// Small geodesy helpers for drawing (WGS-84 lon/lat, metres), and the demo patrol tracks.
import type { ExpressionSpecification } from 'maplibre-gl'
import type { Feature, LineString, Polygon, Position } from 'geojson'

export type LonLat = [number, number]

const R = 6371008.8
const rad = (d: number) => (d * Math.PI) / 180
const deg = (r: number) => (r * 180) / Math.PI

/** Great-circle distance in metres. */
export function distanceM(a: LonLat, b: LonLat): number {
  const [l1, p1, l2, p2] = [rad(a[0]), rad(a[1]), rad(b[0]), rad(b[1])]
  const h = Math.sin((p2 - p1) / 2) ** 2 + Math.cos(p1) * Math.cos(p2) * Math.sin((l2 - l1) / 2) ** 2
  return 2 * R * Math.asin(Math.min(1, Math.sqrt(h)))
}

/** The point `dist` metres from `from` at `bearing` degrees (clockwise from north). */
export function destination(from: LonLat, dist: number, bearing: number): LonLat {
  const d = dist / R
  const b = rad(bearing)
  const p1 = rad(from[1])
  const l1 = rad(from[0])
  const p2 = Math.asin(Math.sin(p1) * Math.cos(d) + Math.cos(p1) * Math.sin(d) * Math.cos(b))
  const l2 = l1 + Math.atan2(Math.sin(b) * Math.sin(d) * Math.cos(p1), Math.cos(d) - Math.sin(p1) * Math.sin(p2))
  return [deg(l2), deg(p2)]
}

/** Initial bearing from a to b, degrees clockwise from north. */
export function bearing(a: LonLat, b: LonLat): number {
  const [l1, p1, l2, p2] = [rad(a[0]), rad(a[1]), rad(b[0]), rad(b[1])]
  const y = Math.sin(l2 - l1) * Math.cos(p2)
  const x = Math.cos(p1) * Math.sin(p2) - Math.sin(p1) * Math.cos(p2) * Math.cos(l2 - l1)
  return (deg(Math.atan2(y, x)) + 360) % 360
}

/** A circle as a polygon (for display; the server tests the true circle). */
export function circlePolygon(center: LonLat, radiusM: number, steps = 96): Polygon {
  const ring: Position[] = []
  for (let i = 0; i < steps; i++) ring.push(destination(center, radiusM, (360 * i) / steps))
  ring.push(ring[0])
  return { type: 'Polygon', coordinates: [ring] }
}

export function rectPolygon(b: [number, number, number, number]): Polygon {
  const [x1, y1, x2, y2] = b
  return { type: 'Polygon', coordinates: [[[x1, y1], [x2, y1], [x2, y2], [x1, y2], [x1, y1]]] }
}

/** A line width in pixels that covers `metres` on the ground at every zoom (for buffer display). */
export function metresToPixelsExpr(metres: number, lat: number): ExpressionSpecification {
  const atZoom0 = (metres * 512) / (40075016.686 * Math.cos(rad(lat)))
  return ['interpolate', ['exponential', 2], ['zoom'], 0, atZoom0, 24, atZoom0 * 2 ** 24]
}

/** Cumulative lengths of a path, in metres. */
export function cumulative(path: LonLat[]): number[] {
  const out = [0]
  for (let i = 1; i < path.length; i++) out.push(out[i - 1] + distanceM(path[i - 1], path[i]))
  return out
}

/** The point at `t` (0..1) along a path, with the bearing of its segment and the vertices before it. */
export function along(path: LonLat[], cum: number[], t: number): { at: LonLat; bearing: number; index: number } {
  const total = cum[cum.length - 1]
  const d = Math.max(0, Math.min(1, t)) * total
  let i = 1
  while (i < cum.length - 1 && cum[i] < d) i++
  const seg = cum[i] - cum[i - 1] || 1
  const f = (d - cum[i - 1]) / seg
  const a = path[i - 1]
  const b = path[i]
  return { at: [a[0] + (b[0] - a[0]) * f, a[1] + (b[1] - a[1]) * f], bearing: bearing(a, b), index: i }
}

/** The part of a path from its start to `t` (0..1). */
export function pathUntil(path: LonLat[], cum: number[], t: number): LonLat[] {
  const p = along(path, cum, t)
  return [...path.slice(0, p.index), p.at]
}

export function lineFeature(path: LonLat[], props: Record<string, string | number> = {}): Feature<LineString> {
  return { type: 'Feature', properties: props, geometry: { type: 'LineString', coordinates: path } }
}

/** 演示 patrol tracks in 云城区 (lon 112.02–112.08, lat 22.90–22.95): invented routes, not real
 *  patrols. Each line component draws its own so that several can be shown together. */
export const DEMO_TRACKS: Record<string, { name: string; path: LonLat[] }> = {
  patrol: {
    name: '网格巡查轨迹（演示）',
    path: [
      [112.0262, 22.9052], [112.0321, 22.9071], [112.0388, 22.9064], [112.0446, 22.9102], [112.0503, 22.9118],
      [112.0561, 22.9152], [112.0618, 22.9196], [112.0667, 22.9241], [112.0709, 22.9288], [112.0744, 22.9339],
      [112.0762, 22.9391], [112.0711, 22.9433], [112.0638, 22.9452], [112.0559, 22.9447], [112.0487, 22.9421],
      [112.0419, 22.9388], [112.0352, 22.9342], [112.0298, 22.9291], [112.0251, 22.9229], [112.0229, 22.9157],
      [112.0236, 22.9093], [112.0262, 22.9052],
    ],
  },
  river: {
    name: '河道巡河路线（演示）',
    path: [
      [112.0208, 22.9332], [112.0284, 22.9318], [112.0352, 22.9301], [112.0417, 22.9263], [112.0478, 22.9231],
      [112.0541, 22.9214], [112.0609, 22.9222], [112.0672, 22.9248], [112.0731, 22.9260], [112.0791, 22.9247],
    ],
  },
  road: {
    name: '道路巡查路线（演示）',
    path: [
      [112.0402, 22.9012], [112.0414, 22.9086], [112.0431, 22.9159], [112.0452, 22.9227], [112.0471, 22.9296],
      [112.0492, 22.9361], [112.0519, 22.9428], [112.0548, 22.9489],
    ],
  },
  ring: {
    name: '重点区域巡防线（演示）',
    path: [
      [112.0312, 22.9188], [112.0369, 22.9158], [112.0436, 22.9149], [112.0502, 22.9163], [112.0551, 22.9197],
      [112.0572, 22.9248], [112.0556, 22.9301], [112.0509, 22.9338], [112.0441, 22.9352], [112.0374, 22.9339],
      [112.0323, 22.9301], [112.0301, 22.9246], [112.0312, 22.9188],
    ],
  },
  street: {
    name: '街面巡逻路线（演示）',
    path: [
      [112.0246, 22.9455], [112.0318, 22.9437], [112.0387, 22.9441], [112.0452, 22.9468], [112.0521, 22.9479],
      [112.0593, 22.9472], [112.0659, 22.9489], [112.0728, 22.9494],
    ],
  },
}
