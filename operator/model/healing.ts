/** What self-healing knows of a service between passes, as the reconciler keeps it and the status report shows it. */

/** A replica that keeps exiting: its restarts, last exit code and when the next restart is allowed. */
export interface CrashLoopInfo {
  service: string;
  replica: string;
  restarts: number;
  exitCode: number;
  /** When the next restart is allowed (ms), if waiting. */
  retryAt?: number;
  crashLoop: boolean;
}

/** A service whose update was rolled back or paused; held until a revision brings another spec for it. */
export interface HeldUpdate {
  action: 'rollback' | 'pause';
  /** The spec that failed; a revision with another spec for the service tries again. */
  failedSpecHash: string;
  reason: string;
  revision: string;
  /** The revision whose spec the service returned to (a restarted operator loads it from git). */
  previousRevision: string | null;
}
