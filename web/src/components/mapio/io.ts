// Map layer import and export over the API (kept apart from the map page's own modules).
import { ApiError, rawRequest, request, saveBlob } from '../../api/http'
import type { components } from '../../api/types.gen'

type S = components['schemas']
export type FeatureImportReport = S['FeatureImportReport']
export type ImportProgress = S['ImportProgress']
export type QueryRequest = S['QueryRequest']

export interface ImportOptions {
  dryRun: boolean
  partial: boolean
  crs: string
  progressId: string
}

/** Uploads a file (GeoJSON, zipped Shapefile, .xlsx or UTF-8 CSV); the 422 report is a result too. */
export async function importFile(layerId: number, file: Blob, o: ImportOptions): Promise<FeatureImportReport> {
  try {
    return await request<FeatureImportReport>(`/api/v1/map/layers/${layerId}/import`, {
      method: 'POST',
      file,
      query: { dry_run: String(o.dryRun), partial: String(o.partial), crs: o.crs, progress_id: o.progressId },
      silent: true,
    })
  } catch (e) {
    if (e instanceof ApiError && e.report && typeof e.report === 'object' && 'total' in e.report) return e.report as FeatureImportReport
    throw e
  }
}

export async function importProgress(id: string): Promise<ImportProgress | undefined> {
  try {
    return await request<ImportProgress>(`/api/v1/map/import-progress/${id}`, { silent: true })
  } catch {
    return undefined
  }
}

export function newProgressId(): string {
  const bytes = new Uint8Array(8)
  crypto.getRandomValues(bytes)
  return 'imp-' + Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')
}

/** Downloads the layer (or the query's result) as GeoJSON or Excel. */
export async function exportLayer(layerId: number, layerName: string, format: 'geojson' | 'xlsx', query?: QueryRequest | null): Promise<void> {
  const res = await rawRequest(`/api/v1/map/layers/${layerId}/export`, {
    method: 'POST',
    body: { format, crs: 'EPSG:4326', query: query ?? undefined },
  })
  const stamp = new Date().toISOString().slice(0, 10)
  saveBlob(await res.blob(), `${layerName}-${query ? '查询结果' : '全部'}-${stamp}.${format}`)
}
