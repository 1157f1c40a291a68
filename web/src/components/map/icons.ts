// Map images drawn on a canvas at run time (no sprite sheet, nothing fetched): arrows and icons
// for lines, the patrol vehicle and the pulsing dot.
import type { Map as MlMap, StyleImageInterface } from 'maplibre-gl'

const RATIO = 2

function draw(size: number, paint: (ctx: CanvasRenderingContext2D, s: number) => void): ImageData {
  const c = document.createElement('canvas')
  c.width = c.height = size * RATIO
  const ctx = c.getContext('2d')!
  ctx.scale(RATIO, RATIO)
  paint(ctx, size)
  return ctx.getImageData(0, 0, c.width, c.height)
}

function add(map: MlMap, id: string, img: ImageData): void {
  if (!map.hasImage(id)) map.addImage(id, img, { pixelRatio: RATIO })
}

/** A chevron pointing along the line (east is "forward" for line-placed symbols). */
export function addArrowImage(map: MlMap, id = 'tg-arrow', color = '#ffffff'): string {
  add(
    map,
    id,
    draw(16, (ctx, s) => {
      ctx.strokeStyle = color
      ctx.lineWidth = 2.6
      ctx.lineCap = 'round'
      ctx.lineJoin = 'round'
      ctx.beginPath()
      ctx.moveTo(s * 0.32, s * 0.18)
      ctx.lineTo(s * 0.72, s * 0.5)
      ctx.lineTo(s * 0.32, s * 0.82)
      ctx.stroke()
    }),
  )
  return id
}

/** A round badge with a camera-like mark (e.g. 视频监控点 along a road). */
export function addBadgeImage(map: MlMap, id = 'tg-badge', color = '#2f7bf6'): string {
  add(
    map,
    id,
    draw(22, (ctx, s) => {
      ctx.fillStyle = color
      ctx.strokeStyle = '#ffffff'
      ctx.lineWidth = 2
      ctx.beginPath()
      ctx.arc(s / 2, s / 2, s / 2 - 1.5, 0, Math.PI * 2)
      ctx.fill()
      ctx.stroke()
      ctx.fillStyle = '#ffffff'
      ctx.fillRect(s * 0.27, s * 0.36, s * 0.34, s * 0.28)
      ctx.beginPath()
      ctx.moveTo(s * 0.61, s * 0.5)
      ctx.lineTo(s * 0.76, s * 0.38)
      ctx.lineTo(s * 0.76, s * 0.62)
      ctx.closePath()
      ctx.fill()
    }),
  )
  return id
}

/** The patrol vehicle, pointing north (rotated to its heading on the map). */
export function addVehicleImage(map: MlMap, id = 'tg-vehicle', color = '#f56c6c'): string {
  add(
    map,
    id,
    draw(28, (ctx, s) => {
      ctx.fillStyle = color
      ctx.strokeStyle = '#ffffff'
      ctx.lineWidth = 2
      ctx.beginPath()
      ctx.moveTo(s / 2, 2)
      ctx.lineTo(s - 5, s - 4)
      ctx.lineTo(s / 2, s - 9)
      ctx.lineTo(5, s - 4)
      ctx.closePath()
      ctx.fill()
      ctx.stroke()
    }),
  )
  return id
}

/** A dot with a ring that keeps widening and fading (波纹点), repainted every frame while shown. */
export function addPulsingDot(map: MlMap, id = 'tg-pulse', color: [number, number, number] = [245, 108, 108], size = 72): string {
  if (map.hasImage(id)) return id
  const [r, g, b] = color
  const dot: StyleImageInterface & { ctx: CanvasRenderingContext2D | null } = {
    width: size,
    height: size,
    data: new Uint8ClampedArray(size * size * 4),
    ctx: null,
    onAdd() {
      const c = document.createElement('canvas')
      c.width = c.height = size
      this.ctx = c.getContext('2d', { willReadFrequently: true })
    },
    render() {
      const ctx = this.ctx
      if (!ctx) return false
      const t = (performance.now() % 1400) / 1400
      const inner = size * 0.13
      const outer = size * 0.48 * t + inner
      ctx.clearRect(0, 0, size, size)
      ctx.beginPath()
      ctx.arc(size / 2, size / 2, outer, 0, Math.PI * 2)
      ctx.fillStyle = `rgba(${r}, ${g}, ${b}, ${0.45 * (1 - t)})`
      ctx.fill()
      ctx.beginPath()
      ctx.arc(size / 2, size / 2, inner, 0, Math.PI * 2)
      ctx.fillStyle = `rgb(${r}, ${g}, ${b})`
      ctx.strokeStyle = '#ffffff'
      ctx.lineWidth = 2.5
      ctx.fill()
      ctx.stroke()
      this.data = ctx.getImageData(0, 0, size, size).data
      map.triggerRepaint()
      return true
    },
  }
  map.addImage(id, dot, { pixelRatio: 2 })
  return id
}
