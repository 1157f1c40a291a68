// Line components over the 演示 patrol tracks in 云城区:
//   蚂蚁线 (marching dashes), 动态画线 (a line drawing itself), 虚线, 箭头线 and 图标线 (symbols
//   placed along the line, images made with addImage from a canvas: no sprite sheet).
import type { GeoJSONSource, Map as MlMap } from 'maplibre-gl'
import type { Feature, FeatureCollection, Geometry } from 'geojson'
import { DEMO_TRACKS, cumulative, lineFeature, pathUntil, type LonLat } from '../geo'
import { addArrowImage, addBadgeImage } from '../icons'
import { OVERLAY_ANCHOR } from '../style'
import type { MapOverlay, OverlayContext } from './types'
import { ensureVisible, frameLoop, removeAll } from './util'

abstract class TrackOverlay implements MapOverlay {
  protected map: MlMap | null = null
  protected stop: (() => void) | null = null
  protected readonly layers: string[] = []
  constructor(protected readonly key: string, protected readonly track: keyof typeof DEMO_TRACKS) {}

  protected get src(): string {
    return `tg-ov-${this.key}`
  }
  protected get path(): LonLat[] {
    return DEMO_TRACKS[this.track].path
  }

  attach(ctx: OverlayContext): void {
    this.map = ctx.map
    ctx.map.addSource(this.src, { type: 'geojson', data: this.initialData() })
    this.addLayers(ctx.map)
    ensureVisible(ctx.map, this.path)
  }

  detach(): void {
    this.stop?.()
    this.stop = null
    if (this.map) removeAll(this.map, this.layers, [this.src])
    this.layers.length = 0
    this.map = null
  }

  protected initialData(): FeatureCollection<Geometry> {
    return { type: 'FeatureCollection', features: [lineFeature(this.path, { name: DEMO_TRACKS[this.track].name })] }
  }

  protected addLine(id: string, color: string, width: number, extra: { dash?: number[]; opacity?: number } = {}): void {
    this.map!.addLayer(
      {
        id,
        type: 'line',
        source: this.src,
        filter: ['==', ['geometry-type'], 'LineString'],
        layout: { 'line-cap': extra.dash ? 'butt' : 'round', 'line-join': 'round' },
        paint: { 'line-color': color, 'line-width': width, 'line-opacity': extra.opacity ?? 1, ...(extra.dash ? { 'line-dasharray': extra.dash } : {}) },
      },
      OVERLAY_ANCHOR,
    )
    this.layers.push(id)
  }

  protected abstract addLayers(map: MlMap): void
}

/** 蚂蚁线: dashes marching along the line (the dash pattern steps through a cycle). */
export class AntLineOverlay extends TrackOverlay {
  private static readonly steps: number[][] = [
    [0, 4, 3], [0.5, 4, 2.5], [1, 4, 2], [1.5, 4, 1.5], [2, 4, 1], [2.5, 4, 0.5], [3, 4, 0],
    [0, 0.5, 3, 3.5], [0, 1, 3, 3], [0, 1.5, 3, 2.5], [0, 2, 3, 2], [0, 2.5, 3, 1.5], [0, 3, 3, 1], [0, 3.5, 3, 0.5],
  ]
  constructor() {
    super('ant', 'patrol')
  }
  protected addLayers(map: MlMap): void {
    this.addLine('tg-ov-ant-base', '#1f6feb', 6, { opacity: 0.35 })
    this.addLine('tg-ov-ant-dash', '#1f6feb', 6, { dash: AntLineOverlay.steps[0] })
    let last = -1
    this.stop = frameLoop((now) => {
      const i = Math.floor(now / 60) % AntLineOverlay.steps.length
      if (i === last || !map.getLayer('tg-ov-ant-dash')) return
      last = i
      map.setPaintProperty('tg-ov-ant-dash', 'line-dasharray', AntLineOverlay.steps[i])
    })
  }
}

/** 动态画线: the line grows from its start to its end, pauses, and starts again. */
export class DrawLineOverlay extends TrackOverlay {
  private readonly cum = cumulative(this.path)
  constructor() {
    super('drawline', 'river')
  }
  protected initialData(): FeatureCollection<Geometry> {
    return this.dataAt(0)
  }
  private dataAt(t: number): FeatureCollection<Geometry> {
    const part = pathUntil(this.path, this.cum, t)
    const head: Feature<Geometry> = { type: 'Feature', properties: {}, geometry: { type: 'Point', coordinates: part[part.length - 1] } }
    return { type: 'FeatureCollection', features: [lineFeature(part.length > 1 ? part : [part[0], part[0]]), head] }
  }
  protected addLayers(map: MlMap): void {
    this.addLine('tg-ov-drawline', '#13a8a8', 5)
    map.addLayer(
      {
        id: 'tg-ov-drawline-head',
        type: 'circle',
        source: this.src,
        filter: ['==', ['geometry-type'], 'Point'],
        paint: { 'circle-radius': 6, 'circle-color': '#13a8a8', 'circle-stroke-color': '#ffffff', 'circle-stroke-width': 2 },
      },
      OVERLAY_ANCHOR,
    )
    this.layers.push('tg-ov-drawline-head')
    const drawMs = 6000
    const holdMs = 1200
    let start = performance.now()
    this.stop = frameLoop((now) => {
      let e = now - start
      if (e > drawMs + holdMs) {
        start = now
        e = 0
      }
      map.getSource<GeoJSONSource>(this.src)?.setData(this.dataAt(Math.min(1, e / drawMs)))
    })
  }
}

/** 虚线. */
export class DashedLineOverlay extends TrackOverlay {
  constructor() {
    super('dashed', 'road')
  }
  protected addLayers(): void {
    this.addLine('tg-ov-dashed', '#7a4fd6', 4, { dash: [2, 1.5] })
  }
}

/** 箭头线: chevrons along the line show its direction. */
export class ArrowLineOverlay extends TrackOverlay {
  constructor() {
    super('arrow', 'ring')
  }
  protected addLayers(map: MlMap): void {
    this.addLine('tg-ov-arrow-line', '#e67e22', 8)
    const img = addArrowImage(map)
    map.addLayer(
      {
        id: 'tg-ov-arrow-symbols',
        type: 'symbol',
        source: this.src,
        layout: {
          'symbol-placement': 'line',
          'symbol-spacing': 48,
          'icon-image': img,
          'icon-size': 0.9,
          'icon-allow-overlap': true,
          'icon-ignore-placement': true,
        },
      },
      OVERLAY_ANCHOR,
    )
    this.layers.push('tg-ov-arrow-symbols')
  }
}

/** 图标线: icons along the line (e.g. 视频监控点 along a street), kept upright. */
export class IconLineOverlay extends TrackOverlay {
  constructor() {
    super('iconline', 'street')
  }
  protected addLayers(map: MlMap): void {
    this.addLine('tg-ov-iconline-line', '#2f7bf6', 3, { opacity: 0.8 })
    const img = addBadgeImage(map)
    map.addLayer(
      {
        id: 'tg-ov-iconline-symbols',
        type: 'symbol',
        source: this.src,
        layout: {
          'symbol-placement': 'line',
          'symbol-spacing': 90,
          'icon-image': img,
          'icon-rotation-alignment': 'viewport',
          'icon-allow-overlap': true,
          'icon-ignore-placement': true,
        },
      },
      OVERLAY_ANCHOR,
    )
    this.layers.push('tg-ov-iconline-symbols')
  }
}
