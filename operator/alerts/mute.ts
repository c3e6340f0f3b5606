/** Alert muting (pure): repeats of one key within a window are muted; a `recovered` alert clears its key's mute. */

/** When each key was last sent, ms since the epoch. */
export type MuteState = ReadonlyMap<string, number>;

/** The decision for one alert and the state after it. */
export interface MuteDecision {
  muted: boolean;
  next: Map<string, number>;
}

/**
 * Decides whether `alert` is muted at `now`: a key sent less than `muteMs` ago is muted (a muted repeat does not extend
 * the window); a `recovered` alert (carrying the key of the alert it resolves) is never muted and clears that key.
 * Entries older than the window are dropped from `next`.
 */
export function decideMute(state: MuteState, alert: { kind: string; key: string }, now: number, muteMs: number): MuteDecision {
  const next = new Map([...state].filter(([, at]) => now - at < muteMs));
  if (alert.kind === 'recovered') {
    next.delete(alert.key);
    return { muted: false, next };
  }
  if (next.has(alert.key)) return { muted: true, next };
  next.set(alert.key, now);
  return { muted: false, next };
}

/** Forgets that `key` was sent at `at` (an alert no receiver accepted), unless it was sent again since. */
export function forgetSend(state: MuteState, key: string, at: number): Map<string, number> {
  const next = new Map(state);
  if (next.get(key) === at) next.delete(key);
  return next;
}
