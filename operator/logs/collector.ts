/**
 * Follows the output of every managed container on every node into the log store, from its start: one engine log
 * stream per container (timestamps on), resumed after an operator restart or a node reconnect from the store's
 * cursor, so nothing is lost and nothing stored twice (store.ts). A container's stream ends when it stops; a
 * container that runs again, or a stopped one whose output was not read to its end (a Job run while berth was
 * down), is followed again from the cursor.
 *
 * Never blocking collection on the store: lines are queued per container and written in one transaction per flush
 * (FLUSH_MS). Bounded: past `maxQueueBytes` queued, every stream is paused (the engine keeps the output; it is read
 * later from the cursor); a store that fails (not writable, full) keeps the queue, is retried each flush and is
 * reported in stats(), while streams stay paused once the queue is full.
 */
import type { Logger } from '../util/log.ts';
import { LogStreamParser } from './parse.ts';
import type { LogSource, LogStore, NewLine } from './store.ts';

/** A container to follow, as a pass observed it. */
export interface LogTarget {
  id: string;
  node: string;
  source: LogSource;
  running: boolean;
  /** The engine's FinishedAt of a stopped container (its output is complete once read to the end after it). */
  finishedAt?: string;
}

export interface LogEngine {
  /** The engine's log stream of container `id` (on `node`) from `since` (seconds since the epoch, decimal), following. */
  follow(id: string, node: string, since: string, signal: AbortSignal): Promise<{ stream: NodeJS.ReadableStream; tty: boolean }>;
}

export interface CollectorOptions {
  store: LogStore;
  engine: LogEngine;
  log: Logger;
  /** Lines older than this are not read back from the engine (the store would drop them). */
  retentionMs: number;
  maxQueueBytes?: number;
  flushMs?: number;
  /** Replaces secret values in a line before it is stored. */
  redact?: (text: string) => string;
  now?: () => number;
  /** Hears the lines the store took (forwarding); must not block. */
  onStored?: (batches: { source: LogSource; lines: NewLine[] }[]) => void;
  /** After each write (the size bound is checked there, not only on the retention timer). */
  afterFlush?: () => void;
}

export interface CollectorStats {
  following: number;
  queuedLines: number;
  queuedBytes: number;
  /** Lines stored since the start. */
  ingested: number;
  /** Whether streams are paused because the queue is full. */
  paused: boolean;
  /** The store's last write failure, until a write succeeds. */
  storeError?: string;
}

interface Follow {
  target: LogTarget;
  abort: AbortController;
  stream?: NodeJS.ReadableStream;
}

interface Queued {
  source: LogSource;
  lines: NewLine[];
}

/**
 * What a stream resumed at a cursor resends: lines before the cursor's time, and the first `n` at its time (the
 * engine's `since` is inclusive). Only the start of a stream is filtered: later lines at the same microsecond are
 * new (a fast printer puts many lines in one).
 */
export class ResumeFilter {
  private skip: number;
  private done: boolean;

  constructor(private readonly cursor: { ts: number; n: number } | undefined) {
    this.skip = cursor?.n ?? 0;
    this.done = cursor === undefined;
  }

  filter(lines: NewLine[]): NewLine[] {
    if (this.done) return lines;
    const c = this.cursor!;
    const out: NewLine[] = [];
    for (const l of lines) {
      if (this.done) out.push(l);
      else if (l.ts < c.ts) continue;
      else if (l.ts === c.ts && this.skip > 0) this.skip--;
      else {
        this.done = true;
        out.push(l);
      }
    }
    return out;
  }
}

export const FLUSH_MS = 200;
export const MAX_QUEUE_BYTES = 64 * 1024 * 1024;

export class LogCollector {
  private readonly follows = new Map<string, Follow>();
  /** Stopped containers read to their end: container id -> the FinishedAt they were read after. */
  private readonly drained = new Map<string, string>();
  private readonly queue = new Map<string, Queued>();
  private queuedBytes = 0;
  private queuedLines = 0;
  private ingested = 0;
  private paused = false;
  private storeError: string | undefined;
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  private readonly maxQueueBytes: number;

  constructor(private readonly opts: CollectorOptions) {
    this.maxQueueBytes = opts.maxQueueBytes ?? MAX_QUEUE_BYTES;
    this.timer = setInterval(() => this.flush(), opts.flushMs ?? FLUSH_MS);
    this.timer.unref();
  }

  /** Follows the containers of `targets` not followed yet whose output may have more; forgets containers gone. */
  sync(targets: readonly LogTarget[]): void {
    if (this.stopped) return;
    const ids = new Set(targets.map((t) => t.id));
    for (const id of this.drained.keys()) if (!ids.has(id)) this.drained.delete(id);
    for (const t of targets) {
      const f = this.follows.get(t.id);
      if (f) {
        f.target = t;
        continue;
      }
      if (!t.running && t.finishedAt !== undefined && this.drained.get(t.id) === t.finishedAt) continue;
      this.start(t);
    }
  }

  stats(): CollectorStats {
    return { following: this.follows.size, queuedLines: this.queuedLines, queuedBytes: this.queuedBytes, ingested: this.ingested, paused: this.paused, ...(this.storeError ? { storeError: this.storeError } : {}) };
  }

  /** Stops following and writes what is queued. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    for (const f of this.follows.values()) f.abort.abort();
    this.follows.clear();
    this.flush();
  }

  /** Writes the queued lines in one transaction; on failure they stay queued (bounded) and the error is reported. */
  flush(): void {
    if (!this.queue.size) return;
    const batches = [...this.queue.values()];
    try {
      const stored = this.opts.store.appendMany(batches);
      for (const b of stored) this.ingested += b.lines.length;
      if (stored.length) this.opts.onStored?.(stored);
      this.opts.afterFlush?.();
      this.queue.clear();
      this.queuedBytes = 0;
      this.queuedLines = 0;
      if (this.storeError) this.opts.log.info('log store writable again');
      this.storeError = undefined;
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      if (message !== this.storeError) this.opts.log.error('log store write failed; lines stay queued', { error: message, queuedLines: this.queuedLines });
      this.storeError = message;
    }
    this.pauseOrResume();
  }

  private start(t: LogTarget): void {
    const f: Follow = { target: t, abort: new AbortController() };
    this.follows.set(t.id, f);
    const cursor = this.opts.store.cursor(t.id);
    const floorUs = ((this.opts.now ?? Date.now)() - this.opts.retentionMs) * 1000;
    const since = Math.max(cursor?.ts ?? 0, floorUs, 0);
    let parser: LogStreamParser | undefined;
    const resume = new ResumeFilter(cursor);
    const done = (why?: unknown): void => {
      if (this.follows.get(t.id) !== f) return;
      this.follows.delete(t.id);
      if (parser) this.enqueue(t.id, f.target.source, resume.filter(parser.end()));
      if (why !== undefined && !f.abort.signal.aborted) this.opts.log.debug('log stream ended', { container: t.source.container, error: String(why) });
      // Read to its end after it finished: complete, unless it runs again.
      if (why === undefined && !f.target.running && f.target.finishedAt !== undefined) this.drained.set(t.id, f.target.finishedAt);
    };
    this.opts.engine.follow(t.id, t.node, secondsOf(since), f.abort.signal).then(({ stream, tty }) => {
      const p = (parser = new LogStreamParser(tty));
      if (f.abort.signal.aborted) {
        (stream as { destroy?: () => void }).destroy?.();
        return done();
      }
      f.stream = stream;
      if (this.paused) stream.pause();
      stream.on('data', (chunk: Buffer) => this.enqueue(t.id, f.target.source, resume.filter(p.push(chunk))));
      stream.on('end', () => done());
      stream.on('error', (err) => done(err));
      stream.on('close', () => done());
    }, (err) => done(err));
  }

  private enqueue(id: string, source: LogSource, lines: NewLine[]): void {
    if (!lines.length) return;
    const q = this.queue.get(id) ?? { source, lines: [] };
    const redact = this.opts.redact;
    for (const l of lines) {
      const text = redact ? redact(l.text) : l.text;
      q.lines.push(text === l.text ? l : { ...l, text });
      this.queuedBytes += text.length + 32;
    }
    this.queuedLines += lines.length;
    this.queue.set(id, q);
    this.pauseOrResume();
  }

  private pauseOrResume(): void {
    const full = this.queuedBytes >= this.maxQueueBytes;
    if (full === this.paused) return;
    this.paused = full;
    for (const f of this.follows.values()) {
      if (full) f.stream?.pause();
      else f.stream?.resume();
    }
    if (full) this.opts.log.warn('log queue full: container streams paused until the store catches up', { queuedBytes: this.queuedBytes });
  }
}

/** Microseconds to the engine's `since` (decimal seconds). */
export function secondsOf(us: number): string {
  const s = Math.floor(us / 1_000_000);
  return `${s}.${String(Math.floor(us % 1_000_000)).padStart(6, '0')}`;
}
