/**
 * Crash-loop backoff, berth-side (the kubelet's CrashLoopBackOff): the first restart of a replica is immediate,
 * then 1 s, 2 s, 4 s ... capped at 5 min; a replica that ran 10 min before it exited starts over. Pure decisions over a small record.
 */

export const BACKOFF_BASE_MS = 1000;
export const BACKOFF_CAP_MS = 5 * 60_000;
export const BACKOFF_RESET_MS = 10 * 60_000;
/** From this many consecutive restarts on, a replica is reported as CrashLoop. */
export const CRASHLOOP_AFTER = 3;

export interface RestartRecord {
  /** Consecutive exits without 10 min of running in between. */
  restarts: number;
  /** When berth last started this replica (ms). */
  lastStartAt: number;
  lastExitCode: number;
  /** The exit this record already counted (the same exit is seen by several passes). */
  lastExitAt: number;
}

export interface RestartDecision {
  allow: boolean;
  /** When a restart is allowed next (ms), when not now. */
  retryAt?: number;
  record: RestartRecord;
  crashLoop: boolean;
  delayMs: number;
}

/** Delay before restart number `n` (1-based): 0, 1 s, 2 s, 4 s ... capped. */
export function backoffDelay(n: number): number {
  if (n <= 1) return 0;
  return Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** (n - 2));
}

/**
 * Decides whether an exited replica may be restarted now. `ranMs` is how long it ran before it exited
 * (finishedAt - startedAt), `exitedAt` when it exited.
 */
export function decideRestart(prev: RestartRecord | undefined, exitedAt: number, ranMs: number, exitCode: number, now: number): RestartDecision {
  const sameExit = prev !== undefined && prev.lastExitAt === exitedAt;
  const restarts = sameExit ? prev.restarts : prev && ranMs < BACKOFF_RESET_MS ? prev.restarts + 1 : 1;
  const delayMs = backoffDelay(restarts);
  const due = exitedAt + delayMs;
  const record: RestartRecord = { restarts, lastStartAt: prev?.lastStartAt ?? 0, lastExitCode: exitCode, lastExitAt: exitedAt };
  const crashLoop = restarts >= CRASHLOOP_AFTER;
  if (now >= due) return { allow: true, record: { ...record, lastStartAt: now }, crashLoop, delayMs };
  return { allow: false, retryAt: due, record, crashLoop, delayMs };
}
