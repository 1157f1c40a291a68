// Drawing query shapes with the mouse (no drawing library): polygon and polyline — click to add
// vertices, double-click (or 完成) to finish; circle — press at the centre and drag; rectangle —
// drag a corner to the opposite one. Esc cancels. Also draws a finished shape for display.
import type { GeoJSONSource, Map as MlMap, MapMouseEvent } from 'maplibre-gl'
import type { Feature, FeatureCollection, Geometry, MultiPolygon, Polygon } from 'geojson'
import type { ShapeInput } from '../../api/types'
import { circlePolygon, distanceM, metresToPixelsExpr, rectPolygon, type LonLat } from './geo'

export type DrawKind = 'polygon' | 'circle' | 'rect' | 'line'

export type Drawn =
  | { kind: 'polygon'; ring: LonLat[] }
  | { kind: 'circle'; center: LonLat; radius_m: number }
  | { kind: 'rect'; bbox: [number, number, number, number] }
  | { kind: 'line'; line: LonLat[]; distance_m: number }
  | { kind: 'region'; code: string; name: string; geometry: Polygon | MultiPolygon }

export const DRAW_LABELS: Record<Drawn['kind'], string> = { polygon: '多边形', circle: '圆形', rect: '矩形', line: '线缓冲区', region: '行政区域' }

const r7 = (v: number) => Math.round(v * 1e7) / 1e7
const pt = (e: MapMouseEvent): LonLat => [r7(e.lngLat.lng), r7(e.lngLat.lat)]

/** The API's query shape for a drawn shape. */
export function toShapeInput(d: Drawn): ShapeInput {
  switch (d.kind) {
    case 'polygon':
      return { type: 'polygon', geometry: { type: 'Polygon', coordinates: [[...d.ring, d.ring[0]]] } }
    case 'circle':
      return { type: 'circle', center: d.center, radius_m: d.radius_m }
    case 'rect':
      return { type: 'rect', bbox: d.bbox }
    case 'line':
      return { type: 'line_buffer', line: d.line, distance_m: d.distance_m }
    case 'region':
      return { type: 'region', region_code: d.code }
  }
}

/** A short description of a drawn shape for people. */
export function describe(d: Drawn): string {
  switch (d.kind) {
    case 'polygon':
      return `多边形（${d.ring.length} 个顶点）`
    case 'circle':
      return `圆形（中心 ${d.center[0].toFixed(6)}, ${d.center[1].toFixed(6)}，半径 ${Math.round(d.radius_m)} 米）`
    case 'rect':
      return `矩形（${d.bbox.map((v) => v.toFixed(5)).join(', ')}）`
    case 'line':
      return `线缓冲区（${d.line.length} 个顶点，缓冲 ${d.distance_m} 米）`
    case 'region':
      return `行政区域（${d.name}）`
  }
}

const SRC = 'tg-draw'
const LAYERS = ['tg-draw-fill', 'tg-draw-buffer', 'tg-draw-line', 'tg-draw-sketch', 'tg-draw-vertex']

function feature(g: Geometry, role: string): Feature {
  return { type: 'Feature', properties: { role }, geometry: g }
}

export class DrawTool {
  /** What is being drawn now, or null. */
  drawing: DrawKind | null = null
  private pts: LonLat[] = []
  private cursor: LonLat | null = null
  private pressed: LonLat | null = null
  private shown: Drawn | null = null

  constructor(
    private readonly map: MlMap,
    private readonly onDone: (d: Drawn) => void,
    private readonly onState: (drawing: DrawKind | null) => void = () => {},
    /** Buffer distance used when a polyline is finished. */
    private readonly bufferM: () => number = () => 500,
  ) {
    map.addSource(SRC, { type: 'geojson', data: { type: 'FeatureCollection', features: [] } })
    map.addLayer({ id: LAYERS[0], type: 'fill', source: SRC, filter: ['in', ['get', 'role'], ['literal', ['area', 'sketch-area']]], paint: { 'fill-color': '#409eff', 'fill-opacity': 0.14 } })
    map.addLayer({
      id: LAYERS[1],
      type: 'line',
      source: SRC,
      filter: ['==', ['get', 'role'], 'buffer'],
      layout: { 'line-cap': 'round', 'line-join': 'round' },
      paint: { 'line-color': '#409eff', 'line-opacity': 0.16, 'line-width': 10 },
    })
    map.addLayer({ id: LAYERS[2], type: 'line', source: SRC, filter: ['in', ['get', 'role'], ['literal', ['area', 'line']]], paint: { 'line-color': '#1c6fd1', 'line-width': 2 } })
    map.addLayer({ id: LAYERS[3], type: 'line', source: SRC, filter: ['==', ['get', 'role'], 'sketch'], paint: { 'line-color': '#1c6fd1', 'line-width': 2, 'line-dasharray': [2, 2] } })
    map.addLayer({ id: LAYERS[4], type: 'circle', source: SRC, filter: ['==', ['get', 'role'], 'vertex'], paint: { 'circle-radius': 4, 'circle-color': '#ffffff', 'circle-stroke-color': '#1c6fd1', 'circle-stroke-width': 2 } })
  }

  start(kind: DrawKind): void {
    this.cancel()
    this.drawing = kind
    this.pts = []
    this.map.doubleClickZoom.disable()
    if (kind === 'circle' || kind === 'rect') this.map.dragPan.disable()
    this.map.getCanvas().style.cursor = 'crosshair'
    // Markers (clusters) must not catch the clicks meant for the shape.
    this.map.getContainer().classList.add('tg-drawing')
    this.map.on('click', this.onClick)
    this.map.on('dblclick', this.onDblClick)
    this.map.on('mousemove', this.onMove)
    this.map.on('mousedown', this.onDown)
    // On the window: a drag may end outside the map (over a panel).
    window.addEventListener('mouseup', this.onUp)
    window.addEventListener('keydown', this.onKey)
    this.onState(kind)
    this.render()
  }

  /** Finishes a polygon or polyline (same as a double-click). */
  finish(): void {
    const kind = this.drawing
    if (kind !== 'polygon' && kind !== 'line') return
    const pts = this.pts.filter((p, i) => i === 0 || distanceM(p, this.pts[i - 1]) > 0.5)
    if (pts.length < (kind === 'polygon' ? 3 : 2)) return
    this.stopDrawing()
    this.done(kind === 'polygon' ? { kind, ring: pts } : { kind, line: pts, distance_m: this.bufferM() })
  }

  cancel(): void {
    if (!this.drawing) return
    this.stopDrawing()
    this.render()
  }

  /** Shows a finished shape (or nothing). */
  show(d: Drawn | null): void {
    this.shown = d
    this.render()
  }

  destroy(): void {
    this.cancel()
    for (const id of LAYERS) if (this.map.getLayer(id)) this.map.removeLayer(id)
    if (this.map.getSource(SRC)) this.map.removeSource(SRC)
  }

  private done(d: Drawn): void {
    this.shown = d
    this.render()
    this.onDone(d)
  }

  private stopDrawing(): void {
    this.drawing = null
    this.pressed = null
    this.cursor = null
    this.map.off('click', this.onClick)
    this.map.off('dblclick', this.onDblClick)
    this.map.off('mousemove', this.onMove)
    this.map.off('mousedown', this.onDown)
    window.removeEventListener('mouseup', this.onUp)
    window.removeEventListener('keydown', this.onKey)
    this.map.dragPan.enable()
    // Re-enabled after the double-click that finished the shape has been handled.
    setTimeout(() => this.map.doubleClickZoom.enable(), 0)
    this.map.getCanvas().style.cursor = ''
    this.map.getContainer().classList.remove('tg-drawing')
    this.onState(null)
  }

  private readonly onClick = (e: MapMouseEvent) => {
    if (this.drawing === 'polygon' || this.drawing === 'line') {
      this.pts.push(pt(e))
      this.render()
    }
  }
  private readonly onDblClick = (e: MapMouseEvent) => {
    e.preventDefault()
    this.finish()
  }
  private readonly onMove = (e: MapMouseEvent) => {
    this.cursor = pt(e)
    if (this.drawing === 'polygon' || this.drawing === 'line' || this.pressed) this.render()
  }
  private readonly onDown = (e: MapMouseEvent) => {
    if ((this.drawing === 'circle' || this.drawing === 'rect') && e.originalEvent.button === 0) {
      e.preventDefault()
      this.pressed = pt(e)
      this.cursor = this.pressed
      this.render()
    }
  }
  private readonly onUp = (e: MouseEvent) => {
    const a = this.pressed
    const kind = this.drawing
    if (!a || (kind !== 'circle' && kind !== 'rect')) return
    const rect = this.map.getCanvas().getBoundingClientRect()
    const ll = this.map.unproject([e.clientX - rect.left, e.clientY - rect.top])
    const b: LonLat = [r7(ll.lng), r7(ll.lat)]
    this.pressed = null
    if (kind === 'circle') {
      const radius = Math.round(distanceM(a, b))
      if (radius < 1) return this.render()
      this.stopDrawing()
      this.done({ kind, center: a, radius_m: radius })
    } else {
      const bbox: [number, number, number, number] = [Math.min(a[0], b[0]), Math.min(a[1], b[1]), Math.max(a[0], b[0]), Math.max(a[1], b[1])]
      if (bbox[0] === bbox[2] || bbox[1] === bbox[3]) return this.render()
      this.stopDrawing()
      this.done({ kind, bbox })
    }
  }
  private readonly onKey = (e: KeyboardEvent) => {
    if (e.key === 'Escape') this.cancel()
    else if (e.key === 'Enter') this.finish()
  }

  private render(): void {
    const fs: Feature[] = []
    if (this.drawing) {
      const c = this.cursor
      if (this.drawing === 'polygon' || this.drawing === 'line') {
        const line = c ? [...this.pts, c] : this.pts
        if (this.drawing === 'polygon' && line.length >= 3) fs.push(feature({ type: 'Polygon', coordinates: [[...line, line[0]]] }, 'sketch-area'))
        if (line.length >= 2) fs.push(feature({ type: 'LineString', coordinates: this.drawing === 'polygon' && line.length >= 3 ? [...line, line[0]] : line }, 'sketch'))
        for (const p of this.pts) fs.push(feature({ type: 'Point', coordinates: p }, 'vertex'))
      } else if (this.pressed && c) {
        const g = this.drawing === 'circle' ? circlePolygon(this.pressed, Math.max(1, distanceM(this.pressed, c))) : rectPolygon([Math.min(this.pressed[0], c[0]), Math.min(this.pressed[1], c[1]), Math.max(this.pressed[0], c[0]), Math.max(this.pressed[1], c[1])])
        fs.push(feature(g, 'sketch-area'), feature({ type: 'LineString', coordinates: g.coordinates[0] }, 'sketch'), feature({ type: 'Point', coordinates: this.pressed }, 'vertex'))
      }
    } else if (this.shown) {
      fs.push(...shapeFeatures(this.shown))
      if (this.shown.kind === 'line') {
        this.map.setPaintProperty(LAYERS[1], 'line-width', metresToPixelsExpr(this.shown.distance_m * 2, this.shown.line[0][1]))
      }
    }
    const data: FeatureCollection = { type: 'FeatureCollection', features: fs }
    this.map.getSource<GeoJSONSource>(SRC)?.setData(data)
  }
}

/** The map features that show a finished shape. */
function shapeFeatures(d: Drawn): Feature[] {
  switch (d.kind) {
    case 'polygon': {
      const ring = [...d.ring, d.ring[0]]
      return [feature({ type: 'Polygon', coordinates: [ring] }, 'area')]
    }
    case 'circle':
      return [feature(circlePolygon(d.center, d.radius_m), 'area'), feature({ type: 'Point', coordinates: d.center }, 'vertex')]
    case 'rect':
      return [feature(rectPolygon(d.bbox), 'area')]
    case 'line':
      return [feature({ type: 'LineString', coordinates: d.line }, 'buffer'), feature({ type: 'LineString', coordinates: d.line }, 'line')]
    case 'region':
      return [feature(d.geometry, 'area')]
  }
}
