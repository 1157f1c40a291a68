// The viewer's watermark ("姓名 账号 时间"): drawn into the page as SVG text (Watermark.vue) and onto
// client-side PNG exports (drawWatermark), so a screenshot or a printed page names who looked at it.

export interface Viewer {
  display_name: string
  username: string
}

/** The current time as the watermark shows it (China Standard Time, minutes). */
export function watermarkTime(d = new Date()): string {
  const parts = new Intl.DateTimeFormat('zh-CN', {
    timeZone: 'Asia/Shanghai',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    hour12: false,
  }).formatToParts(d)
  const get = (t: string) => parts.find((p) => p.type === t)?.value ?? ''
  return `${get('year')}-${get('month')}-${get('day')} ${get('hour')}:${get('minute')}`
}

/** The lines of the watermark: who, then when. Without a signed-in viewer the server's string. */
export function watermarkLines(viewer: Viewer | null | undefined, fallback?: string, now = new Date()): string[] {
  if (viewer) return [`${viewer.display_name} ${viewer.username}`, watermarkTime(now)]
  return fallback ? [fallback] : []
}

/** Draws the watermark repeated diagonally across a canvas (client-side PNG exports). */
export function drawWatermark(ctx: CanvasRenderingContext2D, width: number, height: number, lines: string[], scale = 1, dark = false): void {
  if (!lines.length) return
  ctx.save()
  ctx.fillStyle = dark ? 'rgba(255,255,255,0.16)' : 'rgba(0,0,0,0.13)'
  ctx.font = `${14 * scale}px "PingFang SC","Microsoft YaHei","Noto Sans CJK SC",sans-serif`
  ctx.textAlign = 'center'
  ctx.textBaseline = 'middle'
  const stepX = 260 * scale
  const stepY = 150 * scale
  const lineH = 20 * scale
  for (let y = -stepY; y < height + stepY; y += stepY) {
    for (let x = -stepX / 2; x < width + stepX; x += stepX) {
      ctx.save()
      ctx.translate(x + ((y / stepY) % 2 ? stepX / 2 : 0), y)
      ctx.rotate(-Math.PI / 7)
      lines.forEach((t, i) => ctx.fillText(t, 0, (i - (lines.length - 1) / 2) * lineH))
      ctx.restore()
    }
  }
  ctx.restore()
}

const SVG_NS = 'http://www.w3.org/2000/svg'

/** Builds the full-page overlay: a fixed, click-through <div> holding an <svg> with one <text>
 *  element per repetition. */
export function buildOverlay(lines: string[], width: number, height: number, dark: boolean): HTMLDivElement {
  const root = document.createElement('div')
  root.setAttribute('data-testid', 'ind-watermark')
  root.setAttribute('aria-hidden', 'true')
  root.className = 'tg-watermark'
  root.style.cssText = [
    'position:fixed', 'inset:0', 'pointer-events:none', 'z-index:2147483000', 'overflow:hidden',
    `opacity:${dark ? 0.14 : 0.1}`, 'user-select:none', 'print-color-adjust:exact', '-webkit-print-color-adjust:exact',
  ].join(';')
  const svg = document.createElementNS(SVG_NS, 'svg')
  svg.setAttribute('width', '100%')
  svg.setAttribute('height', '100%')
  svg.setAttribute('xmlns', SVG_NS)
  const stepX = 280
  const stepY = 160
  let row = 0
  for (let y = 40; y < height + stepY; y += stepY, row++) {
    for (let x = (row % 2 ? stepX / 2 : 0) + 40; x < width + stepX; x += stepX) {
      const text = document.createElementNS(SVG_NS, 'text')
      text.setAttribute('x', String(x))
      text.setAttribute('y', String(y))
      text.setAttribute('transform', `rotate(-24 ${x} ${y})`)
      text.setAttribute('fill', dark ? '#ffffff' : '#000000')
      text.setAttribute('font-size', '15')
      text.setAttribute('font-family', '"PingFang SC","Microsoft YaHei","Noto Sans CJK SC",sans-serif')
      text.setAttribute('text-anchor', 'middle')
      lines.forEach((t, i) => {
        const span = document.createElementNS(SVG_NS, 'tspan')
        span.setAttribute('x', String(x))
        span.setAttribute('dy', i === 0 ? '0' : '1.4em')
        span.textContent = t
        text.appendChild(span)
      })
      svg.appendChild(text)
    }
  }
  root.appendChild(svg)
  return root
}

// ---- The page overlay: one per document, whichever Watermark component mounted last decides ----

/** What a mounted Watermark component asks for. */
export interface WatermarkRequest {
  lines: () => string[]
  dark: () => boolean
}

const requests: WatermarkRequest[] = []
let overlay: HTMLDivElement | null = null
let bodyObserver: MutationObserver | null = null
let selfObserver: MutationObserver | null = null
let timer: ReturnType<typeof setInterval> | undefined
let resizeTimer: ReturnType<typeof setTimeout> | undefined

function teardown(): void {
  bodyObserver?.disconnect()
  selfObserver?.disconnect()
  bodyObserver = selfObserver = null
  overlay?.remove()
  overlay = null
}

/** (Re)draws the overlay for the last request; removed or altered, it is drawn again at once. */
export function renderWatermark(): void {
  teardown()
  const top = requests[requests.length - 1]
  if (!top) return
  const w = Math.max(window.innerWidth, document.documentElement.clientWidth, 800)
  const h = Math.max(window.innerHeight, document.documentElement.clientHeight, 600)
  const mine = buildOverlay(top.lines(), w, h, top.dark())
  overlay = mine
  document.body.appendChild(mine)
  bodyObserver = new MutationObserver((records) => {
    if (records.some((r) => Array.from(r.removedNodes).includes(mine))) renderWatermark()
  })
  bodyObserver.observe(document.body, { childList: true })
  selfObserver = new MutationObserver(() => renderWatermark())
  selfObserver.observe(mine, { attributes: true, childList: true, subtree: true, characterData: true })
}

function onResize(): void {
  if (resizeTimer) clearTimeout(resizeTimer)
  resizeTimer = setTimeout(renderWatermark, 200)
}

/** Adds a request (a Watermark component mounting): the overlay follows it until it is released.
 *  Nested pages and dialogs (a report over a dashboard) so never draw two overlapping watermarks. */
export function acquireWatermark(r: WatermarkRequest): () => void {
  requests.push(r)
  if (requests.length === 1) {
    timer = setInterval(renderWatermark, 60_000) // the time in the watermark
    window.addEventListener('resize', onResize)
  }
  renderWatermark()
  return () => {
    const i = requests.indexOf(r)
    if (i < 0) return
    requests.splice(i, 1)
    if (!requests.length) {
      if (timer) clearInterval(timer)
      if (resizeTimer) clearTimeout(resizeTimer)
      timer = resizeTimer = undefined
      window.removeEventListener('resize', onResize)
    }
    renderWatermark()
  }
}
