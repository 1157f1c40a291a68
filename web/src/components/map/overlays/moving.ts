// 移动图标: a patrol vehicle replaying its 演示 track (轨迹回放), heading along the road, with the
// travelled part drawn behind it; play/pause and progress are reactive for the panel.
import { reactive } from 'vue'
import type { GeoJSONSource, Map as MlMap } from 'maplibre-gl'
import type { FeatureCollection, Geometry } from 'geojson'
import { DEMO_TRACKS, along, cumulative, lineFeature, pathUntil } from '../geo'
import { addVehicleImage } from '../icons'
import { OVERLAY_ANCHOR } from '../style'
import type { MapOverlay, OverlayContext } from './types'
import { ensureVisible, frameLoop, removeAll } from './util'

const SRC = 'tg-ov-moving'
const LAYERS = ['tg-ov-moving-route', 'tg-ov-moving-trail', 'tg-ov-moving-icon']

export interface ReplayState {
  playing: boolean
  /** 0..1 along the track. */
  progress: number
  /** Seconds for the whole track at 1×. */
  duration: number
  speed: number
}

export class MovingIconOverlay implements MapOverlay {
  readonly state: ReplayState = reactive({ playing: true, progress: 0, duration: 40, speed: 1 })
  readonly trackName = DEMO_TRACKS.patrol.name
  private map: MlMap | null = null
  private stop: (() => void) | null = null
  private readonly path = DEMO_TRACKS.patrol.path
  private readonly cum = cumulative(this.path)

  attach(ctx: OverlayContext): void {
    const map = (this.map = ctx.map)
    const icon = addVehicleImage(map)
    map.addSource(SRC, { type: 'geojson', data: this.data() })
    map.addLayer(
      { id: LAYERS[0], type: 'line', source: SRC, filter: ['==', ['get', 'part'], 'route'], paint: { 'line-color': '#909399', 'line-width': 4, 'line-opacity': 0.5 } },
      OVERLAY_ANCHOR,
    )
    map.addLayer(
      { id: LAYERS[1], type: 'line', source: SRC, filter: ['==', ['get', 'part'], 'trail'], layout: { 'line-cap': 'round', 'line-join': 'round' }, paint: { 'line-color': '#f56c6c', 'line-width': 4 } },
      OVERLAY_ANCHOR,
    )
    map.addLayer(
      {
        id: LAYERS[2],
        type: 'symbol',
        source: SRC,
        filter: ['==', ['geometry-type'], 'Point'],
        layout: {
          'icon-image': icon,
          'icon-rotate': ['get', 'bearing'],
          'icon-rotation-alignment': 'map',
          'icon-allow-overlap': true,
          'icon-ignore-placement': true,
        },
      },
      OVERLAY_ANCHOR,
    )
    ensureVisible(map, this.path)
    let last = performance.now()
    this.stop = frameLoop((now) => {
      const dt = (now - last) / 1000
      last = now
      if (!this.state.playing) return
      let p = this.state.progress + (dt * this.state.speed) / this.state.duration
      if (p >= 1) p = 0
      this.state.progress = p
      this.render()
    })
  }

  detach(): void {
    this.stop?.()
    this.stop = null
    if (this.map) removeAll(this.map, LAYERS, [SRC])
    this.map = null
  }

  play(): void {
    if (this.state.progress >= 1) this.state.progress = 0
    this.state.playing = true
  }

  pause(): void {
    this.state.playing = false
  }

  /** Jumps to a point of the replay (0..1). */
  seek(p: number): void {
    this.state.progress = Math.max(0, Math.min(1, p))
    this.render()
  }

  private render(): void {
    this.map?.getSource<GeoJSONSource>(SRC)?.setData(this.data())
  }

  private data(): FeatureCollection<Geometry> {
    const t = this.state.progress
    const at = along(this.path, this.cum, t)
    const trail = pathUntil(this.path, this.cum, t)
    return {
      type: 'FeatureCollection',
      features: [
        lineFeature(this.path, { part: 'route' }),
        lineFeature(trail.length > 1 ? trail : [trail[0], trail[0]], { part: 'trail' }),
        { type: 'Feature', properties: { bearing: at.bearing }, geometry: { type: 'Point', coordinates: at.at } },
      ],
    }
  }
}
