// 空间判断 shared by the PC and phone pages: which region a point falls in, and whether the current
// shape covers it; the point is marked on the map.
import type { Map as MlMap, Marker } from 'maplibre-gl'
import { mapApi } from '../../api'
import type { Judgment, ShapeInput } from '../../api/types'
import { maplibregl } from './maplibre'

export interface JudgeResult extends Judgment {
  /** Whether a shape was given (inside is then true/false). */
  withShape: boolean
  at: string
}

export function regionText(j: Judgment): string {
  return j.region_name ? `${j.region_name}（${j.region_code}）` : '不在本辖区边界范围内'
}

export function insideText(j: JudgeResult): string {
  if (!j.withShape) return '未绘制图形'
  return j.inside ? '在图形内' : '在图形外'
}

export class JudgeMarker {
  private marker: Marker | null = null
  constructor(private readonly map: MlMap) {}
  set(lon: number, lat: number): void {
    if (!this.marker) this.marker = new maplibregl.Marker({ color: '#2f54eb' })
    this.marker.setLngLat([lon, lat]).addTo(this.map)
  }
  remove(): void {
    this.marker?.remove()
    this.marker = null
  }
}

/** Judges one point (WGS-84); errors are shown by the API client and rethrown. */
export async function judgePoint(lon: number, lat: number, shape: ShapeInput | null): Promise<JudgeResult> {
  const [j] = await mapApi.judge({ points: [[lon, lat]], shape })
  return { ...j, withShape: !!shape, at: new Date().toLocaleTimeString('zh-CN', { hour12: false }) }
}
