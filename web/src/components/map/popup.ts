// Feature details in a map popup, built as DOM nodes (values are never parsed as HTML).
import type { LngLatLike, Map as MlMap, Popup } from 'maplibre-gl'
import { maplibregl } from './maplibre'
import { mapApi } from '../../api'
import type { AttrDef, Layer, MapFeature } from '../../api/types'

/** A property value for people: 是/否 for booleans, — for empty. */
export function formatValue(v: unknown): string {
  if (v === null || v === undefined || v === '') return '—'
  if (typeof v === 'boolean') return v ? '是' : '否'
  if (typeof v === 'object') return JSON.stringify(v)
  return String(v)
}

/** Attributes worth a column or a popup row (the `demo` marker is shown as a tag instead). */
export function shownAttrs(layer: Layer | null): AttrDef[] {
  return (layer?.attr_schema ?? []).filter((a) => a.name !== 'demo')
}

function featureCard(f: MapFeature, layer: Layer | null): HTMLElement {
  const root = document.createElement('div')
  root.className = 'tg-popup'
  const title = document.createElement('div')
  title.className = 'tg-popup-title'
  title.textContent = f.name || `要素 ${f.id}`
  if (f.is_demo) {
    const tag = document.createElement('span')
    tag.className = 'tg-popup-demo'
    tag.textContent = '演示'
    title.appendChild(tag)
  }
  root.appendChild(title)
  const rows: [string, string][] = [['所属区划', `${f.region_name}（${f.region_code}）`]]
  for (const a of shownAttrs(layer)) rows.push([a.label, formatValue(f.properties[a.name])])
  if (f.geometry.type === 'Point') {
    const [lon, lat] = f.geometry.coordinates
    rows.push(['坐标', `${lon.toFixed(6)}, ${lat.toFixed(6)}`])
  }
  const dl = document.createElement('dl')
  for (const [k, v] of rows) {
    const dt = document.createElement('dt')
    dt.textContent = k
    const dd = document.createElement('dd')
    dd.textContent = v
    dl.append(dt, dd)
  }
  root.appendChild(dl)
  return root
}

const open = new WeakMap<MlMap, Popup>()

/** Shows a feature's card at a point (replacing the map's previous popup). */
export function showFeature(map: MlMap, at: LngLatLike, f: MapFeature, layer: Layer | null): void {
  open.get(map)?.remove()
  const p = new maplibregl.Popup({ maxWidth: '320px', closeOnClick: true }).setLngLat(at).setDOMContent(featureCard(f, layer)).addTo(map)
  open.set(map, p)
}

/** Loads a feature by id and shows its card. */
export async function showFeatureById(map: MlMap, at: LngLatLike, id: number, layer: Layer | null): Promise<void> {
  try {
    showFeature(map, at, await mapApi.feature(id), layer)
  } catch {
    /* the API client has shown the server's message */
  }
}
