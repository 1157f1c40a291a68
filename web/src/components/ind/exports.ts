// Client-side exports of 掌上数窗: a widget or chart as PNG (the chart image under a title, the
// viewer's watermark drawn across it) and a topic page as PDF (the browser's print of the page, which
// carries the SVG watermark). Each is recorded in the audit trail first (POST /exports/audit): an
// export the server refuses to record does not happen.
import { indApi } from '../../api/ind'
import { saveBlob } from '../../api/http'
import { drawWatermark, watermarkLines, type Viewer } from './watermark'

export interface ChartImage {
  url: string
  width: number
  height: number
}

function loadImage(url: string): Promise<HTMLImageElement> {
  return new Promise((resolve, reject) => {
    const img = new Image()
    img.onload = () => resolve(img)
    img.onerror = () => reject(new Error('图片生成失败'))
    img.src = url
  })
}

/** Composes the PNG: title and subtitle, the chart, the watermark across everything. */
export async function composePng(image: ChartImage, title: string, subtitle: string, viewer: Viewer | null, dark = false): Promise<Blob> {
  const img = await loadImage(image.url)
  const scale = 2
  const head = 64 * scale
  const canvas = document.createElement('canvas')
  canvas.width = Math.max(img.width, 640 * scale)
  canvas.height = img.height + head + 16 * scale
  const ctx = canvas.getContext('2d')
  if (!ctx) throw new Error('浏览器不支持画布')
  ctx.fillStyle = dark ? '#0b1d3a' : '#ffffff'
  ctx.fillRect(0, 0, canvas.width, canvas.height)
  ctx.fillStyle = dark ? '#ffffff' : '#1f2d3d'
  ctx.font = `bold ${18 * scale}px "PingFang SC","Microsoft YaHei","Noto Sans CJK SC",sans-serif`
  ctx.textBaseline = 'top'
  ctx.fillText(title, 16 * scale, 12 * scale)
  ctx.fillStyle = dark ? '#8fa8cc' : '#909399'
  ctx.font = `${12 * scale}px "PingFang SC","Microsoft YaHei","Noto Sans CJK SC",sans-serif`
  ctx.fillText(subtitle, 16 * scale, 40 * scale)
  ctx.drawImage(img, (canvas.width - img.width) / 2, head)
  drawWatermark(ctx, canvas.width, canvas.height, watermarkLines(viewer), scale, dark)
  return new Promise((resolve, reject) => canvas.toBlob((b) => (b ? resolve(b) : reject(new Error('图片生成失败'))), 'image/png'))
}

function safeName(s: string): string {
  return s.replace(/[\\/:*?"<>|\s]+/g, '_').slice(0, 80)
}

/** Audits, then downloads the chart as a watermarked PNG. */
export async function exportPng(image: ChartImage | null, opts: { target: string; title: string; subtitle: string; viewer: Viewer | null; dark?: boolean }): Promise<void> {
  if (!image) throw new Error('没有可导出的图表')
  await indApi.auditExport('png', opts.target, opts.title)
  const blob = await composePng(image, opts.title, opts.subtitle, opts.viewer, opts.dark)
  saveBlob(blob, `${safeName(opts.title)}.png`)
}

/** Audits, then prints the page (the browser's 另存为 PDF); the SVG watermark prints with it.
 *  `mode` 'report' prints only the open statistics report (its dialog or popup) instead of the page. */
export async function exportPdf(target: string, title: string, mode: 'page' | 'report' = 'page'): Promise<void> {
  await indApi.auditExport('pdf', target, title)
  const before = document.title
  document.title = title
  // Print styles (print.css) hide the menus and let the page flow over several sheets.
  const cls = mode === 'report' ? 'ind-print-report' : 'ind-print'
  document.body.classList.add(cls)
  try {
    window.print()
  } finally {
    document.body.classList.remove(cls)
    document.title = before
  }
}
