/**
 * Which revision is in force: the branch head when it validates, else the last good one. Fetching never holds up
 * healing: a pass waits for the fetch at most `budgetMs` when a good revision is already loaded, and a fetch that
 * finishes later tells `onLate` so the loop runs another pass with what it brought.
 */
import { asBerthError, BerthError } from '../model/errors.ts';
import type { DesiredState } from '../model/state.ts';
import type { GitSource, RepoSnapshot } from '../source/source.ts';
import type { Logger } from '../util/log.ts';

/** A validated revision and the snapshot it was read from (build contexts and scripts are read from it). */
export interface Loaded {
  desired: DesiredState;
  snapshot: RepoSnapshot;
}

export interface RevisionDeps {
  source: GitSource;
  log: Logger;
  /** Validates the manifests of a snapshot into desired state (throws ValidationError / BerthError). */
  load(snapshot: RepoSnapshot): Promise<DesiredState>;
  /** The desired state that was in force when a new revision replaces it (what a rollback returns to). */
  outgoing(good: DesiredState): DesiredState;
  /** Called with every revision that becomes the one in force (nodes are connected from it). */
  onAccepted?(desired: DesiredState): void;
  /** A fetch that outlived a pass's budget finished: another pass should use what it brought. */
  onLate?(): void;
  /** Longest wait for a fetch while a good revision is loaded (default 300 ms). */
  budgetMs?: number;
}

/** What one refresh found. */
export interface Refresh {
  /** The fetch or the load failed for a reason other than the revision's content (git unreachable, engine down). */
  error: BerthError | null;
  /** The fetch is still running: the pass goes on with the revision in force. */
  late: boolean;
}

/** A loopback or LAN fetch takes 10-50 ms, a fetch from a hosted forge 100-300 ms; past this, healing does not wait. */
const DEFAULT_BUDGET_MS = 300;

export class Revisions {
  /** The revision in force, or null before the first good one. */
  good: Loaded | null = null;
  /** The head when it failed validation (terminal error): it stays rejected until the branch moves. */
  rejected: { revision: string; error: BerthError } | null = null;
  /** The newest head seen. */
  latest: string | null = null;
  /** The desired state in force before the current revision. */
  previous: DesiredState | null = null;
  private inflight: Promise<void> | null = null;

  constructor(private readonly deps: RevisionDeps) {}

  /**
   * Fetches the head (or resolves `pin`) and validates it once. With a good revision loaded, waits at most the budget;
   * a transient failure is returned, never thrown, so the caller keeps enforcing the revision in force.
   */
  async refresh(pin?: string): Promise<Refresh> {
    let error: BerthError | null = null;
    const run = this.inflight ?? (this.inflight = this.fetchAndLoad(pin).finally(() => { this.inflight = null; }));
    const done = run.then(() => true, (err: unknown) => { error = asBerthError(err, 'E_GIT'); return true; });
    if (!this.good || pin) {
      await done;
      return { error, late: false };
    }
    let timer: NodeJS.Timeout | undefined;
    const inTime = await Promise.race([done, new Promise<false>((resolve) => { timer = setTimeout(() => resolve(false), this.deps.budgetMs ?? DEFAULT_BUDGET_MS); })]);
    clearTimeout(timer);
    if (!inTime) {
      this.deps.log.debug('fetch is slow; this pass keeps the revision in force', { revision: this.good.desired.revision.slice(0, 12) });
      // Another pass only when the fetch brought something this pass did not use (a slow forge must not double every
      // pass). Compared by what got loaded, not by the head: the head may arrive in time and its files only later.
      const good = this.good.desired.revision;
      const rejected = this.rejected?.revision;
      void done.then(() => { if (this.good?.desired.revision !== good || this.rejected?.revision !== rejected || error) this.deps.onLate?.(); });
    }
    return { error, late: !inTime };
  }

  /** Loads a revision found elsewhere (the status branch after a restart) unless a good one is loaded. */
  async restore(revision: string): Promise<void> {
    if (this.good || revision === this.rejected?.revision) return;
    try {
      const snapshot = await this.deps.source.snapshot(revision);
      this.good = { desired: await this.deps.load(snapshot), snapshot };
      this.deps.onAccepted?.(this.good.desired);
      this.deps.log.info('restored last applied revision from status branch', { revision });
    } catch (err) {
      this.deps.log.warn('could not restore last applied revision', { revision, error: asBerthError(err).message });
    }
  }

  private async fetchAndLoad(pin?: string): Promise<void> {
    const head = pin ? await this.deps.source.resolve(pin) : await this.deps.source.head();
    this.latest = head;
    await this.load(head);
  }

  /** Validates `head` once; a rejected revision keeps the last good one in force and nothing is touched. */
  private async load(head: string): Promise<void> {
    if (this.good?.desired.revision === head || this.rejected?.revision === head) return;
    const snapshot = await this.deps.source.snapshot(head);
    try {
      const desired = await this.deps.load(snapshot);
      if (this.good) this.previous = this.deps.outgoing(this.good.desired);
      this.good = { desired, snapshot };
      this.rejected = null;
      this.deps.onAccepted?.(desired);
      this.deps.log.info('revision accepted', { revision: head, services: desired.services.length, volumes: desired.volumes.length });
      for (const w of desired.warnings ?? []) this.deps.log.warn('manifest warning', { revision: head.slice(0, 12), at: `${w.file}:${w.line}`, field: w.field, message: w.message });
    } catch (err) {
      // A loader that throws something untyped on a revision's content (a bug) rejects that revision, never retries it.
      const error = err instanceof BerthError ? err : new BerthError('E_INTERNAL', `validating the revision failed: ${err instanceof Error ? err.message : String(err)}`, { terminal: true, cause: err });
      if (!error.terminal) throw error;
      this.rejected = { revision: head, error };
      this.deps.log.error('revision rejected; keeping the last good revision', { revision: head, lastGood: this.good?.desired.revision ?? null, code: error.code, error: error.message });
    }
  }
}
