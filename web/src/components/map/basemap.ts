// The base map setting (底图): an XYZ raster tile URL template (天地图 / 粤政图 in production), kept in
// this browser. Empty means the offline base map drawn from the administrative boundaries alone.
export const BASEMAP_KEY = 'tg.basemap'

export function loadBasemap(): string {
  try {
    return localStorage.getItem(BASEMAP_KEY) ?? ''
  } catch {
    return ''
  }
}

export function saveBasemap(url: string): void {
  const v = url.trim()
  if (v) localStorage.setItem(BASEMAP_KEY, v)
  else localStorage.removeItem(BASEMAP_KEY)
}

/** Why a template cannot be used, or '' when it can. */
export function basemapProblem(url: string): string {
  const v = url.trim()
  if (!v) return ''
  if (!/\{z\}/.test(v) || !/\{x\}/.test(v) || !/\{y\}/.test(v)) return '瓦片地址须包含 {z}、{x}、{y} 占位符'
  let u: URL
  try {
    u = new URL(v.replace(/[{}]/g, ''), location.href)
  } catch {
    return '瓦片地址格式不正确'
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return '瓦片地址须为 http 或 https 地址'
  return ''
}

/** Whether a template points at another origin (the page's security policy lets the browser load
 *  same-origin tiles only: serve external tiles through a reverse-proxy path of this system). */
export function basemapCrossOrigin(url: string): boolean {
  try {
    return new URL(url.trim().replace(/[{}]/g, ''), location.href).origin !== location.origin
  } catch {
    return false
  }
}
