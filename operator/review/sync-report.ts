/**
 * After a merge: the commit berth applies gets commit status `berth/sync` — pending while its plan is
 * applied, then success (converged) or failure (rejected or failed, with the first error) — and the merged pull request
 * gets a comment with what changed, how long it took and the health at the end. Driven by the reconciler's `applying`
 * event and the result of each pass; every GitHub failure is logged, never thrown into the loop.
 */
import type { ReconcilerEvent, PassResult } from '../reconciler/reconciler.ts';
import type { StatusDoc } from '../status/report.ts';
import type { Logger } from '../util/log.ts';
import { code, escapeText } from './escape.ts';
import type { GitHubClient, StatusState } from './github.ts';
import { reviewSummary } from './markdown.ts';

interface Pending {
  startedAt: number;
  summary: string;
}

export class SyncReporter {
  private readonly pending = new Map<string, Pending>();
  private readonly reported = new Set<string>();
  private first = true;
  private queue: Promise<void> = Promise.resolve();

  constructor(private readonly deps: { github: GitHubClient; instance: string; log: Logger; now?: () => number }) {}

  private now(): number {
    return this.deps.now?.() ?? Date.now();
  }

  /** Reconciler events: `applying` starts a sync. */
  onEvent(e: ReconcilerEvent): void {
    if (e.kind !== 'applying' || this.reported.has(e.revision) || this.pending.has(e.revision)) return;
    const summary = reviewSummary(e.plan);
    this.pending.set(e.revision, { startedAt: this.now(), summary });
    this.enqueue(() => this.deps.github.setStatus(e.revision, 'berth/sync', 'pending', `applying: ${summary}`));
  }

  /**
   * A pass ended: a revision being applied (or a new head) gets its final status once converged or rejected. The head
   * found by the first pass after start-up that finds one is taken as already reported unless it was applied in that pass.
   */
  onPass(r: PassResult): void {
    const rev = r.revision;
    if (!rev) return; // no head fetched yet (git unreachable): the baseline is the first pass that finds one
    const first = this.first;
    this.first = false;
    if (this.reported.has(rev)) return;
    const p = this.pending.get(rev);
    if (first && !p) {
      this.reported.add(rev);
      return;
    }
    const rejected = r.error?.terminal && r.status.revision.latest === rev && r.status.revision.applied !== rev;
    if (!r.converged && !rejected) return; // still converging, or a transient failure that the next pass retries
    this.pending.delete(rev);
    this.reported.add(rev);
    // Revisions still pending were overtaken by this one before they converged: close their statuses.
    if (!rejected) {
      for (const older of [...this.pending.keys()]) {
        this.pending.delete(older);
        this.reported.add(older);
        this.enqueue(() => this.deps.github.setStatus(older, 'berth/sync', 'error', `superseded by ${rev.slice(0, 7)} before it converged`));
      }
    }
    const seconds = p ? (this.now() - p.startedAt) / 1000 : 0;
    const state: StatusState = rejected ? 'failure' : 'success';
    const line = rejected
      ? `rejected: ${r.error!.message.split('\n').slice(0, 2).join(' ')}`
      : p ? `applied in ${seconds.toFixed(1)} s: ${p.summary}` : 'no changes to apply';
    this.enqueue(async () => {
      await this.deps.github.setStatus(rev, 'berth/sync', state, line);
      const pull = await this.deps.github.pullForCommit(rev);
      if (pull) await this.deps.github.commentOnPull(pull.number, syncComment(this.deps.instance, rev, state, line, r.status));
    });
  }

  /** Resolves once every queued GitHub call is done (tests, shutdown). */
  idle(): Promise<void> {
    return this.queue;
  }

  private enqueue(fn: () => Promise<unknown>): void {
    this.queue = this.queue.then(fn).then(() => undefined, (err: Error) => {
      this.deps.log.warn('github sync report failed', { error: err.message });
    });
  }
}

/** The after-merge comment: outcome line, then each service's readiness and health at the end of the pass. */
export function syncComment(instance: string, revision: string, state: StatusState, line: string, status: StatusDoc): string {
  const icon = state === 'success' ? '✅' : '❌';
  const rows = Object.entries(status.services).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([key, s]) =>
    `| ${code(key, true)} | ${s.ready}/${s.desired} | ${escapeText(s.health)}${s.message ? ` — ${escapeText(s.message)}` : ''} |`);
  return [
    `### berth sync · instance ${code(instance)} · revision ${code(revision.slice(0, 7))}`,
    '',
    `${icon} ${escapeText(line)}`,
    '',
    ...(rows.length ? ['| service | ready | health |', '|---|---|---|', ...rows] : ['_No services._']),
  ].join('\n');
}
