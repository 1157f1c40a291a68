// The display components offered in the layer panel, in the order shown.
import { ClusterOverlay } from './cluster'
import { HeatOverlay } from './heat'
import { AntLineOverlay, ArrowLineOverlay, DashedLineOverlay, DrawLineOverlay, IconLineOverlay } from './lines'
import { MillionOverlay } from './million'
import { MovingIconOverlay } from './moving'
import { RippleOverlay } from './ripple'
import type { OverlayDef } from './types'
import { RawTilesOverlay, ScatterOverlay } from './vectorTiles'

export const OVERLAYS: OverlayDef[] = [
  { key: 'cluster', label: '聚合', hint: '按视野和缩放级别由服务端聚合，圆越大要素越多，点击放大', needsLayer: true, demo: false, create: () => new ClusterOverlay() },
  { key: 'heat', label: '热力', hint: '服务端热力网格，颜色越暖要素越密集', needsLayer: true, demo: false, create: () => new HeatOverlay() },
  { key: 'million', label: '大量上图', hint: '浏览器生成的100万个演示点，WebGL 自定义图层绘制', needsLayer: false, demo: true, create: () => new MillionOverlay() },
  { key: 'scatter', label: '散点图', hint: '来自矢量瓦片，按数值（抽稀点代表的要素数）着色和定大小', needsLayer: true, demo: false, create: () => new ScatterOverlay() },
  { key: 'tiles', label: '矢量瓦片', hint: '图层矢量瓦片（MVT）中的原始点位，点击查看详情', needsLayer: true, demo: false, create: () => new RawTilesOverlay() },
  { key: 'ant', label: '蚂蚁线', hint: '云城区演示巡查轨迹，流动虚线表示方向', needsLayer: false, demo: true, create: () => new AntLineOverlay() },
  { key: 'drawline', label: '动态画线', hint: '云城区演示巡河路线，逐段绘制', needsLayer: false, demo: true, create: () => new DrawLineOverlay() },
  { key: 'dashed', label: '虚线', hint: '云城区演示道路巡查路线', needsLayer: false, demo: true, create: () => new DashedLineOverlay() },
  { key: 'arrow', label: '箭头线', hint: '云城区演示巡防线，箭头表示方向', needsLayer: false, demo: true, create: () => new ArrowLineOverlay() },
  { key: 'iconline', label: '图标线', hint: '云城区演示街面巡逻路线，沿线图标表示监控点位', needsLayer: false, demo: true, create: () => new IconLineOverlay() },
  { key: 'moving', label: '移动图标', hint: '云城区演示网格巡查轨迹回放，可播放/暂停', needsLayer: false, demo: true, create: () => new MovingIconOverlay() },
  { key: 'ripple', label: '波纹点', hint: '视野内的紧急事件（属性“紧急”为是），以波纹闪烁标示', needsLayer: true, demo: false, create: () => new RippleOverlay() },
]
