// Event payloads of the 掌上数窗 components.
import type { Direction, WidgetBy } from '../../api/ind'

/** A click on a chart value: `code` is the region code, period or category by `by`. */
export interface DrillEvent {
  by: WidgetBy
  code: string
  name: string
}

/** A widget menu command. */
export type WidgetAction = { kind: 'detail'; code: string } | { kind: 'follow' | 'instruct' | 'comment' | 'png' }

/** An indicator offered in the follow dialog (the latest value previews the light). */
export interface FollowTarget {
  code: string
  name: string
  unit: string
  direction: Direction
  latest?: { period?: string | null; value?: number | null } | null
}
