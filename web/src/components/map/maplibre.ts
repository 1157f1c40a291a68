// MapLibre set-up shared by every map of the app: the worker bundle served from our own origin
// (the CSP allows same-origin and blob: workers only), the CSS, and the API headers on the
// requests MapLibre makes itself (vector tiles).
import * as maplibregl from 'maplibre-gl'
import workerUrl from 'maplibre-gl/dist/maplibre-gl-worker.mjs?url'
import 'maplibre-gl/dist/maplibre-gl.css'
import { API_HEADERS } from '../../api/http'

maplibregl.setWorkerUrl(new URL(workerUrl, location.href).href)

/** Yunfu city, [[min_lon, min_lat], [max_lon, max_lat]] (WGS-84). */
export const YUNFU_BOUNDS: [[number, number], [number, number]] = [
  [111.0, 22.3],
  [112.6, 23.4],
]

/** Adds the API's headers and the session cookie to MapLibre's requests for our own API. */
export function transformRequest(url: string): maplibregl.RequestParameters {
  if (url.startsWith(`${location.origin}/api/`)) return { url, headers: { ...API_HEADERS }, credentials: 'same-origin' }
  return { url }
}

export { maplibregl }
