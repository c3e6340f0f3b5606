/**
 * The logs and events of a running operator: the store under --state-dir (opened at start, retried every
 * REOPEN_MS when it cannot be), the collector following every managed container of the pass's observation, the
 * events of passes, reconciler events and health transitions, and retention every PRUNE_MS. A store that cannot be
 * opened or written leaves the operator running and healing; the problem is in report() (status and metrics).
 */
import { LABELS } from '../model/keys.ts';
import type { ObservedContainer } from '../model/state.ts';
import type { HealthChange } from '../health/monitor.ts';
import type { PassResult, ReconcilerEvent } from '../reconciler/types.ts';
import type { ContainerRuntime } from '../runtime/runtime.ts';
import type { Logger } from '../util/log.ts';
import { LogCollector, type CollectorStats, type LogTarget } from './collector.ts';
import { healthEvent, passEvents, reconcilerEvent } from './events.ts';
import { LogForwarder } from './forward.ts';
import { LogStore, storePath, type NewEvent, type StoreLimits } from './store.ts';

export const PRUNE_MS = 60_000;
export const REOPEN_MS = 30_000;

export interface LogsOptions extends StoreLimits {
  stateDir: string;
  instance: string;
  runtime: ContainerRuntime;
  log: Logger;
  redact: (text: string) => string;
  now?: () => number;
  /** Test hooks: where the store is (default under stateDir), the collector's bounds. */
  file?: string;
  maxQueueBytes?: number;
  /** --log-forward: an OTLP/HTTP logs endpoint every stored line is also sent to. */
  forwardUrl?: string;
}

/** What status and metrics show of the log store. */
export interface LogsReport {
  file: string;
  open: boolean;
  bytes: number;
  lines: number;
  maxBytes: number;
  retention: string;
  following: number;
  ingested: number;
  /** Lines handed to --log-forward. */
  forwarded?: number;
  queuedLines: number;
  paused: boolean;
  error?: string;
}

export class Logs {
  private store: LogStore | null = null;
  private collector: LogCollector | null = null;
  private openError: string | undefined;
  private readonly timers: NodeJS.Timeout[] = [];
  private lastTargets: LogTarget[] = [];
  private readonly file: string;
  private readonly now: () => number;
  private readonly forwarder: LogForwarder | null;

  constructor(private readonly opts: LogsOptions) {
    this.file = opts.file ?? storePath(opts.stateDir, opts.instance);
    this.now = opts.now ?? Date.now;
    this.forwarder = opts.forwardUrl ? new LogForwarder({ url: opts.forwardUrl, instance: opts.instance }) : null;
    this.open();
    const prune = setInterval(() => this.prune(), PRUNE_MS);
    const reopen = setInterval(() => { if (!this.store) this.open(); }, REOPEN_MS);
    prune.unref();
    reopen.unref();
    this.timers.push(prune, reopen);
  }

  /** The open store, or null. */
  openStore(): LogStore | null {
    return this.store;
  }

  afterPass(r: PassResult): void {
    if (r.observed) {
      this.lastTargets = targetsOf(r.observed.containers, this.opts.instance);
      this.collector?.sync(this.lastTargets);
    }
    for (const e of passEvents(r, this.now() * 1000, this.opts.redact)) this.record(e);
  }

  onReconcilerEvent(e: ReconcilerEvent): void {
    const ev = reconcilerEvent(e, this.now() * 1000, this.opts.redact);
    if (ev) this.record(ev);
  }

  onHealthChange(c: HealthChange): void {
    const ev = healthEvent(c, this.now() * 1000, this.opts.redact);
    if (ev) this.record(ev);
  }

  /**
   * An action a person took through the API (berth pause-drift / resume-drift), stored as an event of its service now;
   * the message passes the redactor.
   */
  action(e: { type: string; namespace?: string; service?: string; reason?: string; message: string }): void {
    this.record({ ...e, ts: this.now() * 1000, message: this.opts.redact(e.message) });
  }

  /** Drops lines and events past the retention and the size bound. */
  prune(): void {
    if (!this.store) return;
    try {
      this.store.prune(this.now());
    } catch (err) {
      this.opts.log.warn('log store: pruning failed', { error: err instanceof Error ? err.message : String(err) });
    }
  }

  /** A store past --log-max-size is pruned at once (a firehose must not outgrow it until the next timer). */
  private pruneIfFull(): void {
    if (!this.store) return;
    try {
      if (this.store.bytes() > this.opts.maxBytes) this.prune();
    } catch {
      // a failing store is reported by the collector
    }
  }

  report(): LogsReport {
    const c: Partial<CollectorStats> = this.collector?.stats() ?? {};
    let size = { bytes: 0, lines: 0 };
    try {
      if (this.store) size = this.store.stats();
    } catch {
      // reported through the collector's or the open error
    }
    const error = this.openError ?? c.storeError;
    return {
      file: this.file, open: this.store !== null, bytes: size.bytes, lines: size.lines, maxBytes: this.opts.maxBytes,
      retention: `${Math.round(this.opts.retentionMs / 3_600_000)}h`, following: c.following ?? 0, ingested: c.ingested ?? 0,
      queuedLines: c.queuedLines ?? 0, paused: c.paused ?? false, ...(this.forwarder ? { forwarded: this.forwarder.count } : {}), ...(error ? { error } : {}),
    };
  }

  /** The status document's `logs`: absent while the store works. */
  statusSection(): { store: 'failing'; file: string; error: string } | undefined {
    const error = this.openError ?? this.collector?.stats().storeError;
    return error ? { store: 'failing', file: this.file, error } : undefined;
  }

  async stop(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    await this.collector?.stop();
    await this.forwarder?.stop();
    this.store?.close();
    this.store = null;
  }

  private open(): void {
    try {
      this.store = LogStore.open(this.file, { retentionMs: this.opts.retentionMs, maxBytes: this.opts.maxBytes });
      if (this.openError) this.opts.log.info('log store open again', { file: this.file });
      this.openError = undefined;
      const runtime = this.opts.runtime;
      this.collector = new LogCollector({
        store: this.store, log: this.opts.log, retentionMs: this.opts.retentionMs, redact: this.opts.redact, now: this.now,
        ...(this.opts.maxQueueBytes !== undefined ? { maxQueueBytes: this.opts.maxQueueBytes } : {}),
        ...(this.forwarder ? { onStored: (b) => this.forwarder!.forward(b) } : {}),
        afterFlush: () => this.pruneIfFull(),
        engine: {
          follow: (id, _node, since, signal) => (runtime.followLogs ? runtime.followLogs(id, since, signal) : Promise.reject(new Error('this runtime cannot follow output'))),
        },
      });
      this.collector.sync(this.lastTargets);
      this.prune();
    } catch (err) {
      const message = `cannot open the log store ${this.file}: ${err instanceof Error ? err.message : String(err)}`;
      if (message !== this.openError) this.opts.log.error(`${message}; logs are not collected until it opens (the engines keep the output)`);
      this.openError = message;
      this.store = null;
    }
  }

  private record(e: NewEvent): void {
    try {
      this.store?.event(e);
    } catch {
      // an event lost to a failing store: the store's failure is reported
    }
  }
}

/** The managed containers of `instance` that have started, as the collector follows them. */
export function targetsOf(containers: readonly ObservedContainer[], instance: string): LogTarget[] {
  return containers.flatMap((c) => {
    if (c.labels[LABELS.instance] !== instance || c.status === 'created') return [];
    const kind = c.labels[LABELS.kind] ?? 'Service';
    const job = c.labels[LABELS.job];
    const service = job ?? c.labels[LABELS.service];
    if (!service) return [];
    const replica = job ? `${c.labels[LABELS.run] ?? '?'}.${c.labels[LABELS.completion] ?? '?'}.${c.labels[LABELS.attempt] ?? '?'}` : c.labels[LABELS.replica] ?? '?';
    const node = c.node ?? 'local';
    return [{
      id: c.id, node, running: c.status !== 'exited' && c.status !== 'dead',
      ...(c.finishedAt ? { finishedAt: c.finishedAt } : {}),
      source: { containerId: c.id, namespace: c.labels[LABELS.namespace] ?? '', service, kind, replica, container: c.name, node },
    }];
  });
}
