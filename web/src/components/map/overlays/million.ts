// 大量上图: one million points drawn by a custom WebGL layer (gl.POINTS over one vertex buffer
// uploaded once), so panning and zooming stay smooth. The points are DEMO data generated in the
// browser over Yunfu; positions are Web Mercator relative to a local origin for float precision.
import { reactive } from 'vue'
import type { CustomLayerInterface, CustomRenderMethodInput, GeoJSONSource, Map as MlMap } from 'maplibre-gl'
import type { Position } from 'geojson'
import { maplibregl, YUNFU_BOUNDS } from '../maplibre'
import { BOUNDARY_SOURCE, OVERLAY_ANCHOR } from '../style'
import type { MapOverlay, OverlayContext } from './types'

export const MILLION = 1_000_000
const ID = 'tg-ov-million'
/** The local origin of the vertex positions (inside Yunfu). */
const ORIGIN: [number, number] = [111.8, 22.85]

/** Deterministic PRNG (mulberry32) so the demo looks the same on every visit. */
function rng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** A lookup of whether a lon/lat lies inside polygons, from the polygons drawn on a canvas
 *  (1024 cells across Yunfu's box: O(1) per point, exact enough for demo data). */
export function rasterMask(polys: Position[][][]): (lon: number, lat: number) => boolean {
  const size = 1024
  const [[w, s], [e, n]] = YUNFU_BOUNDS
  const c = document.createElement('canvas')
  c.width = c.height = size
  const ctx = c.getContext('2d', { willReadFrequently: true })
  if (!ctx) return () => true
  ctx.fillStyle = '#000'
  ctx.beginPath()
  for (const poly of polys) {
    for (const ring of poly) {
      ring.forEach(([x, y], i) => {
        const px = ((x - w) / (e - w)) * size
        const py = ((n - y) / (n - s)) * size
        if (i === 0) ctx.moveTo(px, py)
        else ctx.lineTo(px, py)
      })
      ctx.closePath()
    }
  }
  ctx.fill('evenodd')
  const alpha = ctx.getImageData(0, 0, size, size).data
  return (lon, lat) => {
    const x = Math.floor(((lon - w) / (e - w)) * size)
    const y = Math.floor(((n - lat) / (n - s)) * size)
    return x >= 0 && y >= 0 && x < size && y < size && alpha[(y * size + x) * 4 + 3] > 0
  }
}

/** `n` demo points over Yunfu: 80 % around town-like hot spots, the rest spread out; only points
 *  inside `inside` are kept. Returns interleaved [x, y, value] with x/y relative to `origin` in
 *  Mercator units (from maplibregl.MercatorCoordinate). */
export function demoPoints(n: number, origin: { x: number; y: number }, inside: (lon: number, lat: number) => boolean = () => true): Float32Array {
  const rand = rng(20261129)
  const [[w, s], [e, nth]] = YUNFU_BOUNDS
  const hot: { lon: number; lat: number; r: number }[] = []
  while (hot.length < 60) {
    const h = { lon: w + rand() * (e - w), lat: s + rand() * (nth - s), r: 0.008 + rand() * 0.04 }
    if (inside(h.lon, h.lat)) hot.push(h)
  }
  const out = new Float32Array(n * 3)
  let i = 0
  let tries = 0
  while (i < n && tries < n * 20) {
    tries++
    let lon: number
    let lat: number
    let v: number
    if (rand() < 0.8) {
      const h = hot[(rand() * hot.length) | 0]
      // Box–Muller: a normal spread around the hot spot.
      const r = Math.sqrt(-2 * Math.log(rand() + 1e-12)) * h.r
      const a = rand() * Math.PI * 2
      lon = h.lon + r * Math.cos(a)
      lat = h.lat + r * Math.sin(a) * 0.9
      v = Math.min(1, r / (h.r * 2.5))
    } else {
      lon = w + rand() * (e - w)
      lat = s + rand() * (nth - s)
      v = 1
    }
    if (!inside(lon, lat)) continue
    const m = maplibregl.MercatorCoordinate.fromLngLat([lon, lat])
    out[i * 3] = m.x - origin.x
    out[i * 3 + 1] = m.y - origin.y
    out[i * 3 + 2] = v
    i++
  }
  return i === n ? out : out.subarray(0, i * 3)
}

const VS = `#version 300 es
uniform mat4 u_matrix;
uniform float u_size;
in vec2 a_pos;
in float a_val;
out float v_val;
void main() {
  gl_Position = u_matrix * vec4(a_pos, 0.0, 1.0);
  gl_PointSize = u_size;
  v_val = a_val;
}`

const FS = `#version 300 es
precision mediump float;
in float v_val;
out vec4 fragColor;
void main() {
  vec2 c = gl_PointCoord - vec2(0.5);
  if (dot(c, c) > 0.25) discard;
  vec3 hot = vec3(0.93, 0.33, 0.23);
  vec3 cold = vec3(0.16, 0.50, 0.93);
  float a = 0.6;
  fragColor = vec4(mix(hot, cold, v_val) * a, a);
}`

function compile(gl: WebGL2RenderingContext, type: number, src: string): WebGLShader {
  const sh = gl.createShader(type)!
  gl.shaderSource(sh, src)
  gl.compileShader(sh)
  if (!gl.getShaderParameter(sh, gl.COMPILE_STATUS)) throw new Error(gl.getShaderInfoLog(sh) ?? 'shader')
  return sh
}

class MillionLayer implements CustomLayerInterface {
  readonly id = ID
  readonly type = 'custom' as const
  readonly renderingMode = '2d' as const
  private map: MlMap | null = null
  private program: WebGLProgram | null = null
  private vao: WebGLVertexArrayObject | null = null
  private buffer: WebGLBuffer | null = null
  private uMatrix: WebGLUniformLocation | null = null
  private uSize: WebGLUniformLocation | null = null
  private readonly origin = maplibregl.MercatorCoordinate.fromLngLat(ORIGIN)
  private readonly matrix = new Float32Array(16)

  constructor(private readonly data: Float32Array) {}

  onAdd(map: MlMap, gl: WebGL2RenderingContext): void {
    this.map = map
    const p = gl.createProgram()!
    gl.attachShader(p, compile(gl, gl.VERTEX_SHADER, VS))
    gl.attachShader(p, compile(gl, gl.FRAGMENT_SHADER, FS))
    gl.linkProgram(p)
    if (!gl.getProgramParameter(p, gl.LINK_STATUS)) throw new Error(gl.getProgramInfoLog(p) ?? 'program')
    this.program = p
    this.uMatrix = gl.getUniformLocation(p, 'u_matrix')
    this.uSize = gl.getUniformLocation(p, 'u_size')
    this.vao = gl.createVertexArray()
    gl.bindVertexArray(this.vao)
    this.buffer = gl.createBuffer()
    gl.bindBuffer(gl.ARRAY_BUFFER, this.buffer)
    gl.bufferData(gl.ARRAY_BUFFER, this.data, gl.STATIC_DRAW)
    const aPos = gl.getAttribLocation(p, 'a_pos')
    const aVal = gl.getAttribLocation(p, 'a_val')
    gl.enableVertexAttribArray(aPos)
    gl.vertexAttribPointer(aPos, 2, gl.FLOAT, false, 12, 0)
    gl.enableVertexAttribArray(aVal)
    gl.vertexAttribPointer(aVal, 1, gl.FLOAT, false, 12, 8)
    gl.bindVertexArray(null)
    gl.bindBuffer(gl.ARRAY_BUFFER, null)
  }

  render(gl: WebGL2RenderingContext, options: CustomRenderMethodInput): void {
    if (!this.program || !this.map) return
    // The main matrix projects Web Mercator (0..1) to clip space for the mercator projection;
    // u_matrix = main × translate(origin) since the points are stored relative to the origin.
    const m = options.defaultProjectionData.mainMatrix
    const { x, y } = this.origin
    for (let i = 0; i < 16; i++) this.matrix[i] = m[i]
    for (let i = 0; i < 4; i++) this.matrix[12 + i] = m[i] * x + m[4 + i] * y + m[12 + i]
    const z = this.map.getZoom()
    const size = Math.min(7, Math.max(1.3, 1.0 + (z - 8) * 0.7)) * (window.devicePixelRatio || 1)
    gl.useProgram(this.program)
    gl.uniformMatrix4fv(this.uMatrix, false, this.matrix)
    gl.uniform1f(this.uSize, size)
    gl.enable(gl.BLEND)
    gl.blendFunc(gl.ONE, gl.ONE_MINUS_SRC_ALPHA)
    gl.bindVertexArray(this.vao)
    gl.drawArrays(gl.POINTS, 0, this.data.length / 3)
    gl.bindVertexArray(null)
  }

  onRemove(_map: MlMap, gl: WebGL2RenderingContext): void {
    if (this.buffer) gl.deleteBuffer(this.buffer)
    if (this.vao) gl.deleteVertexArray(this.vao)
    if (this.program) gl.deleteProgram(this.program)
    this.program = null
    this.map = null
  }
}

let cached: Float32Array | null = null
let cachedMs = 0

/** The city's outline from the base map's boundaries (null while they are not loaded). */
async function cityPolygons(map: MlMap): Promise<Position[][][] | null> {
  const src = map.getSource<GeoJSONSource>(BOUNDARY_SOURCE)
  const data = src ? await src.getData() : null
  if (!data || data.type !== 'FeatureCollection') return null
  const polys: Position[][][] = []
  for (const f of data.features) {
    if (f.properties?.level !== 'city') continue
    if (f.geometry.type === 'Polygon') polys.push(f.geometry.coordinates)
    else if (f.geometry.type === 'MultiPolygon') polys.push(...f.geometry.coordinates)
  }
  return polys.length ? polys : null
}

export class MillionOverlay implements MapOverlay {
  private map: MlMap | null = null
  private gen = 0
  readonly state = reactive({ loading: false, count: 0, ms: 0 })

  attach(ctx: OverlayContext): void {
    this.map = ctx.map
    const gen = ++this.gen
    this.state.loading = true
    void this.load(ctx.map, gen)
  }

  private async load(map: MlMap, gen: number): Promise<void> {
    const t0 = performance.now()
    if (!cached) {
      const polys = await cityPolygons(map).catch(() => null)
      if (gen !== this.gen) return
      cached = demoPoints(MILLION, maplibregl.MercatorCoordinate.fromLngLat(ORIGIN), polys ? rasterMask(polys) : undefined)
      cachedMs = Math.round(performance.now() - t0)
    }
    if (gen !== this.gen || this.map !== map) return
    map.addLayer(new MillionLayer(cached), OVERLAY_ANCHOR)
    Object.assign(this.state, { loading: false, count: cached.length / 3, ms: cachedMs })
  }

  detach(): void {
    this.gen++
    if (this.map?.getLayer(ID)) this.map.removeLayer(ID)
    this.map = null
  }
}
