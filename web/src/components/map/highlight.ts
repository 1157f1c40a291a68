// Highlights features on the map (the current page of a query's results), one of them selected.
import type { GeoJSONSource, Map as MlMap } from 'maplibre-gl'
import type { FeatureCollection, Geometry } from 'geojson'
import type { MapFeature } from '../../api/types'

const SRC = 'tg-highlight'
const LAYERS = ['tg-highlight-fill', 'tg-highlight-line', 'tg-highlight-point']

export class Highlight {
  constructor(private readonly map: MlMap) {
    map.addSource(SRC, { type: 'geojson', data: { type: 'FeatureCollection', features: [] } })
    map.addLayer({ id: LAYERS[0], type: 'fill', source: SRC, filter: ['==', ['geometry-type'], 'Polygon'], paint: { 'fill-color': '#ff9f1a', 'fill-opacity': 0.3 } })
    map.addLayer({ id: LAYERS[1], type: 'line', source: SRC, filter: ['!=', ['geometry-type'], 'Point'], paint: { 'line-color': '#ff7a00', 'line-width': 3 } })
    map.addLayer({
      id: LAYERS[2],
      type: 'circle',
      source: SRC,
      filter: ['==', ['geometry-type'], 'Point'],
      paint: {
        'circle-radius': ['case', ['boolean', ['get', 'selected'], false], 9, 5.5],
        'circle-color': ['case', ['boolean', ['get', 'selected'], false], '#ff3b30', '#ff9f1a'],
        'circle-stroke-color': '#ffffff',
        'circle-stroke-width': 2,
      },
    })
  }

  set(features: MapFeature[], selected: number | null = null): void {
    const data: FeatureCollection<Geometry> = {
      type: 'FeatureCollection',
      features: features.map((f) => ({ type: 'Feature', id: f.id, properties: { id: f.id, selected: f.id === selected }, geometry: f.geometry })),
    }
    this.map.getSource<GeoJSONSource>(SRC)?.setData(data)
  }

  /** The layer ids that can be clicked. */
  get layerIds(): string[] {
    return LAYERS
  }

  destroy(): void {
    for (const id of LAYERS) if (this.map.getLayer(id)) this.map.removeLayer(id)
    if (this.map.getSource(SRC)) this.map.removeSource(SRC)
  }
}
