// Display components (展示组件): each draws one kind of thing on the map and can be switched on
// and off on its own. They take the map and the chosen data layer and clean up after themselves.
import type { Map as MlMap } from 'maplibre-gl'
import type { Layer } from '../../../api/types'

export interface OverlayContext {
  map: MlMap
  /** The data layer chosen in the layer panel (null: none chosen yet). */
  layer: Layer | null
  /** Whether a click may open a feature's details (false while drawing or judging). */
  canPick: () => boolean
}

export interface MapOverlay {
  attach(ctx: OverlayContext): void
  detach(): void
}

export type OverlayKey =
  | 'cluster'
  | 'heat'
  | 'million'
  | 'scatter'
  | 'tiles'
  | 'ant'
  | 'drawline'
  | 'dashed'
  | 'arrow'
  | 'iconline'
  | 'moving'
  | 'ripple'

export interface OverlayDef {
  key: OverlayKey
  label: string
  /** What it shows, for the panel's tooltip and the legend. */
  hint: string
  /** Needs a data layer (re-drawn when the layer changes). */
  needsLayer: boolean
  /** Shows demo data made in the browser (labelled 演示). */
  demo: boolean
  create(): MapOverlay
}
