/** One reconcile pass: fetch -> load -> observe -> plan -> apply -> report, with status written on every exit. */
import { parse } from 'yaml';
import { applyPlan, type ApplyResult } from '../apply/apply.ts';
import { diff, type AppliedService } from '../diff/diff.ts';
import { asBerthError, type BerthError } from '../model/errors.ts';
import type { Plan } from '../model/plan.ts';
import type { DesiredService, DesiredState, ObservedState } from '../model/state.ts';
import type { BuildFile, ContainerRuntime } from '../runtime/runtime.ts';
import type { GitSource, RepoSnapshot } from '../source/source.ts';
import { buildStatus, renderStatusYaml, type StatusDoc } from '../status/report.ts';
import type { Logger } from '../util/log.ts';

export type DriftMode = 'correct' | 'detect';

export interface ReconcilerDeps {
  source: GitSource;
  runtime: ContainerRuntime;
  log: Logger;
  /** Validates the manifests of a snapshot into desired state (throws ValidationError / BerthError). */
  load(snapshot: RepoSnapshot): Promise<DesiredState>;
  instance: string;
  sourceInfo: StatusDoc['source'];
  drift: DriftMode;
  /** Write status commits to the status branch (off for `plan`). */
  writeStatus: boolean;
  /** Never change anything on the engine (`plan`). */
  dryRun?: boolean;
  /** While the head revision is rejected, keep enforcing the last good one (default true; `berth apply` turns it off). */
  keepLastGood?: boolean;
  concurrency?: number;
  stopGraceSeconds?: number;
  now?: () => Date;
}

export interface PassResult {
  revision: string | null;
  /** The plan computed against the engine before applying. */
  plan: Plan | null;
  applied: ApplyResult | null;
  /** What still differs after the pass. */
  pending: Plan | null;
  error: BerthError | null;
  status: StatusDoc;
  converged: boolean;
}

interface Loaded {
  desired: DesiredState;
  snapshot: RepoSnapshot;
}

export class Reconciler {
  private good: Loaded | null = null;
  private rejected: { revision: string; error: BerthError } | null = null;
  private latest: string | null = null;
  private applied = new Map<string, AppliedService>();
  private appliedRevision: string | null = null;
  private lastStatus: StatusDoc | null = null;
  private lastWritten: string | null = null;
  private restored = false;

  constructor(private readonly deps: ReconcilerDeps) {}

  /** The latest status document (null before the first pass). */
  get status(): StatusDoc | null {
    return this.lastStatus;
  }

  /** Image references the current desired state uses (for drift checks on image IDs). */
  private imageRefs(): string[] {
    return [...new Set((this.good?.desired.services ?? []).map((s) => s.image.ref))];
  }

  /** Runs one pass. `revision` pins a ref instead of the branch head (berth apply/plan --revision). */
  async pass(opts: { revision?: string } = {}): Promise<PassResult> {
    let error: BerthError | null = null;
    let plan: Plan | null = null;
    let pending: Plan | null = null;
    let applied: ApplyResult | null = null;
    let observed: ObservedState | null = null;
    try {
      await this.restore();
      const head = opts.revision ? await this.deps.source.resolve(opts.revision) : await this.deps.source.head();
      this.latest = head;
      await this.loadRevision(head);
      if (this.rejected?.revision === head) error = this.rejected.error;
      if (!this.good || (error && this.deps.keepLastGood === false)) return this.finish({ plan, applied, pending, error, observed });
      const desired = this.good.desired;
      observed = await this.deps.runtime.observe(this.deps.instance, this.imageRefs());
      plan = diff(desired, observed, { instance: this.deps.instance, applied: this.applied });
      const todo = this.deps.drift === 'detect' ? plan.actions.filter((a) => a.cause !== 'drift') : plan.actions;
      pending = plan;
      if (todo.length && !this.deps.dryRun) {
        applied = await applyPlan({ ...plan, actions: todo }, this.applyDeps(this.good));
        observed = await this.deps.runtime.observe(this.deps.instance, this.imageRefs());
        pending = diff(desired, observed, { instance: this.deps.instance, applied: this.applied });
        error = error ?? applied.errors[0] ?? null;
      }
      if (!this.deps.dryRun && (applied === null || applied.errors.length === 0)) this.markApplied(desired);
    } catch (err) {
      error = asBerthError(err);
      this.deps.log.error('pass failed', { code: error.code, error: error.message });
    }
    return this.finish({ plan, applied, pending, error, observed });
  }

  /** Validates `head` once; a rejected revision keeps the last good one in force and nothing is touched. */
  private async loadRevision(head: string): Promise<void> {
    if (this.good?.desired.revision === head || this.rejected?.revision === head) return;
    try {
      const snapshot = await this.deps.source.snapshot(head);
      const desired = await this.deps.load(snapshot);
      this.good = { desired, snapshot };
      this.rejected = null;
      this.deps.log.info('revision accepted', { revision: head, services: desired.services.length, volumes: desired.volumes.length });
    } catch (err) {
      const error = asBerthError(err);
      if (!error.terminal) throw error;
      this.rejected = { revision: head, error };
      this.deps.log.error('revision rejected; keeping the last good revision', { revision: head, lastGood: this.good?.desired.revision ?? null, code: error.code, error: error.message });
      if (!this.good) await this.loadLastApplied();
    }
  }

  /** After a restart, the status branch says which revision was applied: it stays in force while the head is bad. */
  private async loadLastApplied(): Promise<void> {
    const rev = this.lastStatus?.revision.applied;
    if (!rev || rev === this.rejected?.revision) return;
    try {
      const snapshot = await this.deps.source.snapshot(rev);
      this.good = { desired: await this.deps.load(snapshot), snapshot };
      this.deps.log.info('restored last applied revision from status branch', { revision: rev });
    } catch (err) {
      this.deps.log.warn('could not restore last applied revision', { revision: rev, error: asBerthError(err).message });
    }
  }

  /** Reads the previous status (stateless restart): condition times, applied revision and per-service applied specs. */
  private async restore(): Promise<void> {
    if (this.restored) return;
    this.restored = true;
    try {
      const text = await this.deps.source.readStatus(`${this.deps.instance}/status.yaml`);
      if (!text) return;
      const doc = parse(text) as StatusDoc;
      this.lastStatus = doc;
      this.lastWritten = text;
      this.appliedRevision = doc.revision?.applied ?? null;
      for (const [key, s] of Object.entries(doc.services ?? {})) this.applied.set(key, { specHash: s.specHash, replicas: s.desired });
    } catch (err) {
      this.deps.log.warn('could not read previous status', { error: asBerthError(err).message });
    }
  }

  private markApplied(desired: DesiredState): void {
    this.applied = new Map(desired.services.map((s) => [s.key, { specHash: s.specHash, replicas: s.spec.replicas }]));
    this.appliedRevision = desired.revision;
  }

  private applyDeps(loaded: Loaded) {
    return {
      runtime: this.deps.runtime,
      instance: this.deps.instance,
      log: this.deps.log,
      concurrency: this.deps.concurrency,
      stopGraceSeconds: this.deps.stopGraceSeconds,
      buildContext: (svc: DesiredService) => readBuildContext(loaded.snapshot, svc),
    };
  }

  private async finish(r: { plan: Plan | null; applied: ApplyResult | null; pending: Plan | null; error: BerthError | null; observed: ObservedState | null }): Promise<PassResult> {
    const status = buildStatus({
      instance: this.deps.instance,
      source: this.deps.sourceInfo,
      appliedRevision: this.appliedRevision,
      latestRevision: this.latest,
      desired: this.good?.desired ?? null,
      observed: r.observed,
      pending: r.pending,
      error: r.error,
      errorRevision: r.error ? (this.rejected?.revision ?? this.latest) : null,
      now: (this.deps.now?.() ?? new Date()).toISOString(),
      previous: this.lastStatus,
    });
    this.lastStatus = status;
    if (this.deps.writeStatus) await this.writeStatus(status);
    const converged = r.error === null && this.good !== null && (r.pending?.actions.length ?? 0) === 0;
    return { revision: this.latest, plan: r.plan, applied: r.applied, pending: r.pending, error: r.error, status, converged };
  }

  /** Commits the status file when its content changed; a failed write is logged and retried on the next pass. */
  private async writeStatus(status: StatusDoc): Promise<void> {
    const text = renderStatusYaml(status);
    if (text === this.lastWritten) return;
    const ready = status.conditions.find((c) => c.type === 'Ready');
    const message = `berth(${this.deps.instance}): ${ready?.reason ?? 'Unknown'} at ${(status.revision.latest ?? 'none').slice(0, 7)}\n\n${ready?.message ?? ''}`;
    try {
      const commit = await this.deps.source.writeStatus({ [`${this.deps.instance}/status.yaml`]: text }, message);
      this.lastWritten = text;
      if (commit) this.deps.log.info('status committed', { branch: 'berth/status', commit: commit.slice(0, 7), ready: ready?.reason });
    } catch (err) {
      this.deps.log.warn('status write failed; will retry', { error: asBerthError(err, 'E_GIT').message });
    }
  }
}

/** The files of a service's build context at the snapshot's revision, relative to the context. */
export async function readBuildContext(snapshot: RepoSnapshot, svc: DesiredService): Promise<BuildFile[]> {
  if (svc.image.type !== 'build') return [];
  const ctx = svc.image.context.replace(/^\.?\/?/, '').replace(/\/$/, '');
  const entries = await snapshot.list(ctx);
  const prefix = ctx === '' || ctx === '.' ? '' : `${ctx}/`;
  return Promise.all(entries.map(async (e) => ({ path: e.path.slice(prefix.length), mode: e.mode, content: await snapshot.read(e.path) })));
}
