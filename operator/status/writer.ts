/**
 * Status write-back to the status branch, coalesced: a revision transition or a Stalled flip is committed at once, and
 * so is a Ready flip unless Ready already flipped within the interval (a flapping service); any other change (a health
 * flap, a replica count) at most once per interval, with the newest content. The live view is `/v1/status`; the
 * branch is the record. Writes never hold up a pass longer than `waitMs`.
 */
import { asBerthError } from '../model/errors.ts';
import type { GitSource } from '../source/source.ts';
import type { Logger } from '../util/log.ts';
import { renderStatusYaml, type StatusDoc } from './report.ts';

export interface StatusWriterDeps {
  source: Pick<GitSource, 'writeStatus'>;
  instance: string;
  log: Logger;
  /** Shortest time between two commits of changes that are not transitions (default 30 s). */
  intervalMs?: number;
  /** Longest a pass waits for an urgent commit before going on (default 100 ms); the write goes on meanwhile. */
  waitMs?: number;
  /** Redacts secrets from the rendered document (the last line of defence before it leaves the process). */
  redact?: (text: string) => string;
  now?: () => number;
  /** Timer of a deferred write (tests inject a manual one). */
  setTimer?: (fn: () => void, ms: number) => { cancel(): void };
}

/** The path of an instance's status file on the status branch. */
export function statusPath(instance: string): string {
  return `${instance}/status.yaml`;
}

export class StatusWriter {
  private written: { text: string; doc: StatusDoc } | null = null;
  private lastCommitAt = Number.NEGATIVE_INFINITY;
  private lastReadyFlipAt = Number.NEGATIVE_INFINITY;
  private pending: StatusDoc | null = null;
  private timer: { cancel(): void } | null = null;
  private writing: Promise<void> = Promise.resolve();
  /** Number of commits made (tests, metrics). */
  commits = 0;

  constructor(private readonly deps: StatusWriterDeps) {}

  /** What the status branch holds already (read at start-up): unchanged content is never committed again. */
  seed(text: string, doc: StatusDoc): void {
    this.written = { text, doc };
  }

  /**
   * Offers the newest status; resolves once an urgent commit is done, or after `waitMs`, or at once for a deferred one.
   * `urgent`: commit at once whatever changed (a run turned Failed: its record keeps its alert from being sent again).
   */
  async offer(doc: StatusDoc, opts: { urgent?: boolean } = {}): Promise<void> {
    this.pending = doc;
    const now = this.now();
    const interval = this.deps.intervalMs ?? 30_000;
    const due = this.lastCommitAt + interval;
    const change = transition(this.written?.doc ?? null, doc);
    const urgent = opts.urgent === true || change === 'revision' || change === 'stalled' || (change === 'ready' && now - this.lastReadyFlipAt >= interval);
    if (change === 'ready') this.lastReadyFlipAt = now;
    if (urgent || now >= due) {
      this.timer?.cancel();
      this.timer = null;
      await this.bounded(this.flushPending());
      return;
    }
    if (!this.timer) this.timer = this.schedule(() => { this.timer = null; void this.flushPending(); }, due - now);
  }

  /** Commits whatever is pending now and waits for every write in flight (shutdown, one-shot commands). */
  async flush(): Promise<void> {
    this.timer?.cancel();
    this.timer = null;
    await this.flushPending();
  }

  /** Waits for the writes in flight, starting none. */
  async idle(): Promise<void> {
    await this.writing;
  }

  /** Stops the deferred timer without writing. */
  close(): void {
    this.timer?.cancel();
    this.timer = null;
  }

  /** Writes run one at a time, each with the newest pending document. */
  private flushPending(): Promise<void> {
    this.writing = this.writing.then(() => this.writeNewest());
    return this.writing;
  }

  private async writeNewest(): Promise<void> {
    const doc = this.pending;
    if (!doc) return;
    this.pending = null;
    const text = this.redact(renderStatusYaml(doc));
    if (text === this.written?.text) return;
    const ready = doc.conditions.find((c) => c.type === 'Ready');
    const message = this.redact(`berth(${this.deps.instance}): ${ready?.reason ?? 'Unknown'} at ${(doc.revision.latest ?? 'none').slice(0, 7)}\n\n${ready?.message ?? ''}`);
    try {
      const commit = await this.deps.source.writeStatus({ [statusPath(this.deps.instance)]: text }, message);
      this.written = { text, doc };
      this.lastCommitAt = this.now();
      if (commit) {
        this.commits++;
        this.deps.log.info('status committed', { branch: 'berth/status', commit: commit.slice(0, 7), ready: ready?.status, reason: ready?.reason });
      }
    } catch (err) {
      // Kept pending: the next offer (every pass) tries again.
      this.pending = this.pending ?? doc;
      this.deps.log.warn('status write failed; will retry', { error: this.redact(asBerthError(err, 'E_GIT').message) });
    }
  }

  private async bounded(p: Promise<void>): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([p, new Promise<void>((resolve) => { timer = setTimeout(resolve, this.deps.waitMs ?? 100); })]);
    clearTimeout(timer);
  }

  private schedule(fn: () => void, ms: number): { cancel(): void } {
    if (this.deps.setTimer) return this.deps.setTimer(fn, ms);
    const t = setTimeout(fn, Math.max(0, ms));
    t.unref();
    return { cancel: () => clearTimeout(t) };
  }

  private redact(text: string): string {
    return this.deps.redact ? this.deps.redact(text) : text;
  }

  private now(): number {
    return this.deps.now?.() ?? Date.now();
  }
}

/** What kind of turn the status took since `before` (null: none of these; the first status counts as a revision). */
export function transition(before: StatusDoc | null, after: StatusDoc): 'revision' | 'stalled' | 'ready' | null {
  if (!before) return 'revision';
  if (before.revision?.applied !== after.revision.applied || before.revision?.latest !== after.revision.latest) return 'revision';
  const status = (d: StatusDoc, type: string) => d.conditions?.find((c) => c.type === type)?.status;
  if (status(before, 'Stalled') !== status(after, 'Stalled')) return 'stalled';
  return status(before, 'Ready') !== status(after, 'Ready') ? 'ready' : null;
}
