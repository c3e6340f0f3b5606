/** Health as an ordered union (best to worst), shared by the probes, the status and every kind's report. */

export type Health = 'Healthy' | 'Suspended' | 'Progressing' | 'Unknown' | 'Missing' | 'Degraded' | 'Unhealthy' | 'CrashLoop';

/** Every Health, best to worst. */
export const HEALTH_ORDER: readonly Health[] = ['Healthy', 'Suspended', 'Progressing', 'Unknown', 'Missing', 'Degraded', 'Unhealthy', 'CrashLoop'];

/** The worst of `hs` by HEALTH_ORDER; 'Healthy' for none. */
export function worstOf(...hs: Health[]): Health {
  let worst: Health = 'Healthy';
  for (const h of hs) if (HEALTH_ORDER.indexOf(h) > HEALTH_ORDER.indexOf(worst)) worst = h;
  return worst;
}

/** What the probes say about one replica. */
export interface ReplicaHealth {
  health: Health;
  /** The startup probe passed (or there is none). Liveness and readiness count only once started. */
  started: boolean;
  /** Should receive traffic. */
  ready: boolean;
  /** False when the replica should be restarted (startup or liveness failed failureThreshold times). */
  live: boolean;
  /** Human reason naming the probe and its last result, e.g. 'readiness: HTTP 500'. */
  message: string;
}
