/** Runs review rounds one at a time: triggers during a round coalesce into one more round. */
import type { Logger } from '../util/log.ts';
import type { Reviewer, RoundReport } from './reviewer.ts';

export interface ReviewRunner {
  trigger(reason: string): void;
  /** Resolves when no round is running or queued. */
  idle(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * `before` runs ahead of every round (the operator waits for queued after-merge GitHub calls, so the calls berth makes
 * come in a stable order); `intervalMs` adds a periodic round (polling for pull requests without webhooks).
 */
export function startReviewRunner(reviewer: Reviewer, log: Logger, opts: { onRound?: (r: RoundReport, reason: string) => void; before?: () => Promise<void>; intervalMs?: number } = {}): ReviewRunner {
  const { onRound, before } = opts;
  let running: Promise<void> | null = null;
  let again: string | null = null;
  let stopped = false;
  const run = (reason: string): void => {
    running = (async () => {
      await before?.();
      const r = await reviewer.round();
      log.debug('review round', { reason, planned: r.planned.length, failed: r.failed.length, githubCalls: r.githubCalls, ms: Math.round(r.ms) });
      onRound?.(r, reason);
    })().catch((err: Error) => log.warn('review round failed', { error: err.message })).finally(() => {
      running = null;
      if (again !== null && !stopped) {
        const next = again;
        again = null;
        run(next);
      }
    });
  };
  const timer = opts.intervalMs ? setInterval(() => trigger('interval'), opts.intervalMs) : null;
  timer?.unref();
  function trigger(reason: string): void {
    if (stopped) return;
    if (running) again = reason;
    else run(reason);
  }
  return {
    trigger,
    async idle() {
      while (running) await running;
    },
    async stop() {
      stopped = true;
      if (timer) clearInterval(timer);
      while (running) await running;
    },
  };
}
