/** The state machine of one probe of one replica, with Kubernetes' threshold semantics (pure). */
import type { ProbeSpec } from '../model/manifest.ts';
import type { ProbeOutcome } from './probes.ts';

export interface ProbeState {
  status: 'unknown' | 'passing' | 'failing';
  consecutiveOk: number;
  consecutiveFail: number;
  lastMessage: string;
  /** ms timestamp of the last status change */
  since: number;
}

/** The state before the first probe result. */
export function initialProbeState(now: number): ProbeState {
  return { status: 'unknown', consecutiveOk: 0, consecutiveFail: 0, lastMessage: '', since: now };
}

/**
 * The state after one more outcome: the status turns `passing` after successThreshold consecutive successes and
 * `failing` after failureThreshold consecutive failures (from unknown or from the opposite status); otherwise it
 * stays. Thresholds below 1 count as 1. `since` moves only when the status changes.
 */
export function nextProbeState(prev: ProbeState, outcome: ProbeOutcome, probe: ProbeSpec, now: number): ProbeState {
  const consecutiveOk = outcome.ok ? prev.consecutiveOk + 1 : 0;
  const consecutiveFail = outcome.ok ? 0 : prev.consecutiveFail + 1;
  const status = nextStatus(prev.status, consecutiveOk, consecutiveFail, probe);
  return {
    status,
    consecutiveOk,
    consecutiveFail,
    lastMessage: outcome.message,
    since: status === prev.status ? prev.since : now,
  };
}

function nextStatus(prev: ProbeState['status'], ok: number, fail: number, probe: ProbeSpec): ProbeState['status'] {
  if (ok >= Math.max(1, probe.successThreshold)) return 'passing';
  if (fail >= Math.max(1, probe.failureThreshold)) return 'failing';
  return prev;
}
