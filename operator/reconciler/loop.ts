/** The reconcile loop: one pass at a time, woken by the interval, webhooks and engine events; transient failures back off. */
import type { ContainerRuntime } from '../runtime/runtime.ts';
import type { Logger } from '../util/log.ts';
import type { PassResult, Reconciler } from './reconciler.ts';
import { PassTimeline } from './timeline.ts';

export interface LoopOptions {
  intervalMs: number;
  log: Logger;
  runtime: ContainerRuntime;
  instance: string;
  /** First retry delay after a transient failure; doubles up to the interval. */
  backoffMs?: number;
  /** Called after every pass with what woke it and how long it took (metrics, tests). */
  onPass?: (r: PassResult, trigger: string, ms: number) => void;
  /** The clock a pass's wakeAt is measured against (the reconciler's); default Date.now. */
  now?: () => number;
}

export interface Loop {
  /** Asks for a pass as soon as possible; triggers during a pass coalesce into one more pass. */
  trigger(reason: string): void;
  /** Stops timers and the event subscription, and waits for a running pass. */
  stop(): Promise<void>;
}

/** Engine events that can mean drift from the spec. */
const DRIFT_EVENTS = new Set(['die', 'destroy', 'stop', 'kill', 'pause', 'update', 'oom', 'rename']);

export function startLoop(reconciler: Reconciler, opts: LoopOptions): Loop {
  let running: Promise<void> | null = null;
  let pendingReason: string | null = null;
  let timer: NodeJS.Timeout | null = null;
  let stopped = false;
  let failures = 0;

  const schedule = (ms: number): void => {
    if (timer) clearTimeout(timer);
    if (!stopped) timer = setTimeout(() => trigger('interval'), ms);
  };

  const runOnce = async (reason: string, since: number, more: readonly { kind: string; at: number }[] = []): Promise<void> => {
    const t0 = performance.now();
    const timeline = new PassTimeline(() => performance.now(), since);
    // Every trigger that asked for this pass while the one before ran, when it came (`webhook`, `event`, ...).
    for (const m of [...more].sort((a, b) => a.at - b.at)) timeline.marks.push({ name: `asked by ${m.kind}`, ms: m.at - since });
    timeline.mark('triggered');
    const r = await reconciler.pass({ timeline });
    const ms = performance.now() - t0;
    if (r.applied?.outcomes.length) opts.log.debug('pass timeline', { trigger: reason, ms: timeline.text() });
    opts.onPass?.(r, reason, ms);
    const transient = r.error !== null && !r.error.terminal;
    failures = transient ? failures + 1 : 0;
    const base = transient ? Math.min(opts.intervalMs, (opts.backoffMs ?? 1000) * 2 ** (failures - 1)) : opts.intervalMs;
    const delay = r.wakeAt === undefined ? base : Math.max(0, Math.min(base, r.wakeAt - (opts.now ?? Date.now)()));
    opts.log.debug('pass done', { trigger: reason, ms: Math.round(ms), converged: r.converged, next: delay });
    schedule(delay);
  };

  // When the reason of the next pass arrived: its timeline starts there (a pass waiting for the one before shows it).
  let pendingSince = 0;
  let pendingAsks: { kind: string; at: number }[] = [];
  const trigger = (reason: string): void => {
    if (stopped) return;
    if (running) {
      reconciler.hurryUp();
      if (pendingReason === null) pendingSince = performance.now();
      // per kind of trigger (webhook, event, interval, ...) the first and the last: bounded whatever arrives
      const kind = reason.split(' ')[0] ?? reason;
      const at = performance.now();
      const seen = pendingAsks.filter((a) => a.kind === kind);
      if (seen.length < 2) pendingAsks.push({ kind, at });
      else seen[1]!.at = at;
      pendingReason = pendingReason ?? reason;
      return;
    }
    running = (async () => {
      let next: string | null = reason;
      let since = performance.now();
      let asks: { kind: string; at: number }[] = [];
      while (next !== null && !stopped) {
        pendingReason = null;
        pendingAsks = [];
        await runOnce(next, since, asks).catch((err) => opts.log.error('pass crashed', { error: String(err) }));
        next = pendingReason;
        since = pendingSince;
        asks = pendingAsks;
      }
      running = null;
    })();
  };

  const unsubscribe = opts.runtime.subscribe(opts.instance, (e) => {
    if (DRIFT_EVENTS.has(e.action)) trigger(`event ${e.action} ${e.containerId.slice(0, 12)}`);
  }, () => trigger('events reconnected'));

  trigger('start');
  return {
    trigger,
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      unsubscribe();
      await running;
    },
  };
}
