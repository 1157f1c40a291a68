// Switches display components on and off over one map, re-drawing those that depend on the data
// layer when it changes, and detaching everything before the map goes away.
import { ref, shallowReactive, watch, type Ref, type ShallowRef } from 'vue'
import type { Map as MlMap } from 'maplibre-gl'
import type { Layer } from '../../api/types'
import { OVERLAYS } from './overlays/catalogue'
import type { MapOverlay, OverlayContext, OverlayKey } from './overlays/types'

export function useOverlays(map: ShallowRef<MlMap | null>, layer: Ref<Layer | null>, canPick: () => boolean, notify: (msg: string) => void) {
  const active = ref<OverlayKey[]>([])
  const instances = shallowReactive(new Map<OverlayKey, MapOverlay>())

  function context(m: MlMap): OverlayContext {
    return { map: m, layer: layer.value, canPick }
  }

  function attach(key: OverlayKey): boolean {
    const m = map.value
    const def = OVERLAYS.find((d) => d.key === key)
    if (!m || !def) return false
    if (def.needsLayer && !layer.value) {
      notify(`请先选择图层，再开启“${def.label}”`)
      return false
    }
    const o = def.create()
    try {
      o.attach(context(m))
    } catch (e) {
      try {
        o.detach()
      } catch {
        /* half-attached: nothing more to clean */
      }
      notify(`“${def.label}”加载失败：${e instanceof Error ? e.message : String(e)}`)
      return false
    }
    instances.set(key, o)
    return true
  }

  function detach(key: OverlayKey): void {
    instances.get(key)?.detach()
    instances.delete(key)
  }

  function set(key: OverlayKey, on: boolean): void {
    const isOn = active.value.includes(key)
    if (on === isOn) return
    if (on) {
      if (attach(key)) active.value = [...active.value, key]
    } else {
      detach(key)
      active.value = active.value.filter((k) => k !== key)
    }
  }

  function toggle(key: OverlayKey): void {
    set(key, !active.value.includes(key))
  }

  // A new data layer: re-draw the components that show it; with none of them on, show the layer
  // the way its style says (`style.component`, e.g. 聚合 for the demo events).
  let drawnLayer: number | null = null
  watch(
    [() => layer.value?.id, map],
    () => {
      const m = map.value
      const id = layer.value?.id ?? null
      if (!m || id === drawnLayer) return
      drawnLayer = id
      for (const key of active.value) {
        const def = OVERLAYS.find((d) => d.key === key)
        if (!def?.needsLayer) continue
        detach(key)
        if (!layer.value || !attach(key)) active.value = active.value.filter((k) => k !== key)
      }
      const preferred = layer.value?.style.component
      const def = OVERLAYS.find((d) => d.key === preferred && d.needsLayer)
      const anyLayerOverlay = active.value.some((k) => OVERLAYS.find((d) => d.key === k)?.needsLayer)
      if (def && !anyLayerOverlay) set(def.key, true)
    },
    { immediate: true },
  )

  function dispose(): void {
    for (const key of [...instances.keys()]) detach(key)
    active.value = []
  }

  return { active, instances, set, toggle, dispose }
}
