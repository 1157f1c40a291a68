// The base style: offline by default (a background and the administrative boundaries from the API,
// no glyphs, no sprites, nothing from the internet), optionally over an XYZ raster base map.
import type { StyleSpecification } from 'maplibre-gl'

export const BOUNDARY_SOURCE = 'tg-boundaries'
/** Overlays (display components) go below this layer, query shapes and drawings above it. */
export const OVERLAY_ANCHOR = 'tg-anchor-overlays'
export const TOP_ANCHOR = 'tg-anchor-top'

const COUNTY_COLORS = ['#dbe9f6', '#e3f0dc', '#f6ead6', '#eadff3', '#f3dede', '#dcefee', '#f1f0d6']

/** The fill colour of the i-th region (neighbouring counties come in code order: distinct colours). */
export function regionFill(i: number): string {
  return COUNTY_COLORS[i % COUNTY_COLORS.length]
}

export function buildStyle(basemapUrl: string): StyleSpecification {
  const raster = basemapUrl.trim()
  const style: StyleSpecification = {
    version: 8,
    name: '统管离线底图',
    sources: {
      [BOUNDARY_SOURCE]: { type: 'geojson', data: { type: 'FeatureCollection', features: [] } },
    },
    layers: [{ id: 'tg-background', type: 'background', paint: { 'background-color': raster ? '#dfe6ee' : '#f3f6f9' } }],
  }
  if (raster) {
    style.sources['tg-basemap'] = { type: 'raster', tiles: [raster], tileSize: 256, maxzoom: 18 }
    style.layers.push({ id: 'tg-basemap', type: 'raster', source: 'tg-basemap' })
  }
  style.layers.push(
    {
      id: 'tg-boundary-fill',
      type: 'fill',
      source: BOUNDARY_SOURCE,
      filter: ['==', ['get', 'level'], 'county'],
      paint: {
        // `fill` is set per county when the boundaries are loaded (regionFill).
        'fill-color': ['to-color', ['coalesce', ['get', 'fill'], COUNTY_COLORS[0]]],
        'fill-opacity': raster ? 0.12 : 0.85,
      },
    },
    // Villages and towns appear as the map zooms in.
    {
      id: 'tg-boundary-village',
      type: 'line',
      source: BOUNDARY_SOURCE,
      minzoom: 11,
      filter: ['in', ['get', 'level'], ['literal', ['village', 'group']]],
      paint: { 'line-color': '#a9b8c9', 'line-width': 0.6 },
    },
    {
      id: 'tg-boundary-town',
      type: 'line',
      source: BOUNDARY_SOURCE,
      minzoom: 8.5,
      filter: ['==', ['get', 'level'], 'town'],
      paint: { 'line-color': '#8397ae', 'line-width': 0.9, 'line-dasharray': [3, 2] },
    },
    {
      id: 'tg-boundary-line',
      type: 'line',
      source: BOUNDARY_SOURCE,
      filter: ['==', ['get', 'level'], 'county'],
      paint: { 'line-color': '#6b82a0', 'line-width': 1.4 },
    },
    {
      id: 'tg-city-line',
      type: 'line',
      source: BOUNDARY_SOURCE,
      filter: ['==', ['get', 'level'], 'city'],
      paint: { 'line-color': '#2f5d9a', 'line-width': 2.2 },
    },
    { id: OVERLAY_ANCHOR, type: 'background', layout: { visibility: 'none' }, paint: {} },
    { id: TOP_ANCHOR, type: 'background', layout: { visibility: 'none' }, paint: {} },
  )
  return style
}
