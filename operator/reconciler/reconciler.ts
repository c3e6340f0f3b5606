/** One reconcile pass: fetch -> load -> observe -> plan -> apply -> report, with status written on every exit. */
import { parse } from 'yaml';
import { applyPlan, type ApplyDeps, type ApplyResult } from '../apply/apply.ts';
import type { AppliedService } from '../diff/diff.ts';
import type { MonitorTarget } from '../health/monitor.ts';
import { asBerthError, type BerthError } from '../model/errors.ts';
import { LABELS } from '../model/keys.ts';
import { claimedBy } from '../manifests/kinds/index.ts';
import type { CreateAction, Plan } from '../model/plan.ts';
import { imageNameOf, runRef, type DesiredService, type DesiredState, type ObservedState } from '../model/state.ts';
import { pinImages } from '../images/pin.ts';
import type { ImageState, LastPull } from '../model/state.ts';
import type { ClusterView } from '../runtime/cluster.ts';
import { appliedServices, buildStatus, type StatusDoc } from '../status/report.ts';
import { StatusWriter, statusPath } from '../status/writer.ts';
import { PassTimeline } from './timeline.ts';
import { createGate } from './gate.ts';
import { Healing } from './healing.ts';
import { planPass } from './plan-pass.ts';
import { PressureGuard } from './pressure-guard.ts';
import { currentReplicas } from './replicas.ts';
import { readBuildContext } from '../apply/build-context.ts';
import { Revisions, type Loaded } from './revisions.ts';
import type { PassResult, ReconcilerDeps } from './types.ts';
import { autoscaledReplicas } from '../autoscale/replicas.ts';
import { failureEvents, JobOutputReader } from './job-output.ts';
import { ManualRuns, type RunAsk } from '../jobs/manual.ts';

export type { Cluster, ClusterView, DriftMode, PassResult, ReconcilerDeps, ReconcilerEvent } from './types.ts';





interface PassState {
  plan: Plan | null;
  applied: ApplyResult | null;
  pending: Plan | null;
  error: BerthError | null;
  fetchError?: BerthError | null;
  observed: ObservedState | null;
  effective: DesiredState | null;
  wakeAt?: number;
  cluster?: ClusterView;
  unschedulable?: Map<string, string>;
  waiting?: CreateAction[];
  timeline: PassTimeline;
}


export class Reconciler {
  private applied = new Map<string, AppliedService>();
  private appliedRevision: string | null = null;
  /** Ends the running pass's wait for its status commit (hurryUp). */
  private hurry: (() => void) | null = null;
  /** The revision whose plan was last announced ('revision-planned'): once per revision, failed applies retried or not. */
  private plannedRevision: string | null = null;
  private lastStatus: StatusDoc | null = null;
  private restored = false;
  private readonly healing = new Healing();
  private readonly revisions: Revisions;
  private readonly writer: StatusWriter;
  private readonly pressure: PressureGuard;
  private current = new Set<string>();
  /** Services of the last pin(), for imageRefs(). */
  private pinned: DesiredService[] = [];
  /** The image references the last observe() looked up (a digest pinned after it is observed again within its pass). */
  private queried = new Set<string>();
  private imageStates: ReadonlyMap<string, ImageState> = new Map();
  /** Service key -> the last pull of its image (kept until another pull of that service). */
  private readonly lastPulls = new Map<string, LastPull>();
  /** Last lines of finished Job containers, read once each (reconciler/job-output.ts). */
  private readonly jobOutput: JobOutputReader;
  /** When this reconciler started (a failed run before it may have been alerted by the operator before). */
  private readonly startedAt: number;
  /** CronJob runs asked for by hand, until a pass created them. */
  private readonly manual = new ManualRuns();

  constructor(private readonly deps: ReconcilerDeps) {
    this.pressure = new PressureGuard(deps.cluster, deps.log);
    this.jobOutput = new JobOutputReader(deps);
    this.startedAt = this.now();
    this.revisions = new Revisions({
      source: deps.source, log: deps.log, load: deps.load, budgetMs: deps.gitBudgetMs,
      outgoing: (good) => this.healing.effective(good, this.revisions.previous),
      onAccepted: (desired) => this.syncNodes(desired),
      onLate: () => deps.onLateFetch?.(),
    });
    this.writer = new StatusWriter({
      source: deps.source, instance: deps.instance, log: deps.log, intervalMs: deps.statusIntervalMs,
      redact: deps.redact ? (t) => deps.redact!.text(t) : undefined, now: () => this.now(),
    });
  }

  private get good(): Loaded | null {
    return this.revisions.good;
  }

  private get previous(): DesiredState | null {
    return this.revisions.previous;
  }

  /** Commits the newest status now and waits for writes in flight, at most `maxWaitMs` (shutdown, one-shot commands). */
  async flushStatus(maxWaitMs = 5_000): Promise<void> {
    if (!this.deps.writeStatus) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.writer.flush(), new Promise<void>((resolve) => { timer = setTimeout(resolve, maxWaitMs); })]);
    clearTimeout(timer);
    this.writer.close();
  }

  /** Whether a container is a current replica of the desired state (garbage collection keeps those, even exited). */
  protects(containerId: string): boolean {
    return this.current.has(containerId);
  }

  /**
   * The Services of the desired state in force whose images berth pulls (by reference, pullPolicy not Never), by key:
   * the repository as written and the digests pinned last (garbage collection collects their older pulled images).
   */
  pulledRepositories(): Map<string, { repository: string; digests: string[] }> {
    const out = new Map<string, { repository: string; digests: string[] }>();
    for (const s of this.good?.desired.services ?? []) {
      if (s.image.type !== 'ref' || s.spec.pullPolicy === 'Never') continue;
      const refs = [s, ...this.pinned.filter((p) => p.key === s.key)].map((p) => runRef(p.image)).filter((r) => r.includes('@'));
      out.set(s.key, { repository: imageNameOf(s.image.ref), digests: [...new Set(refs.map((r) => r.slice(r.indexOf('@') + 1)))] });
    }
    return out;
  }

  /** The latest status document (null before the first pass). */
  /**
   * Asks for a run of CronJob `key`'s template now (berth run-job): its run id, started by the next pass, or why not
   * (an unknown CronJob, a Job, no revision in force yet).
   */
  requestRun(key: string): RunAsk {
    return this.manual.ask(this.good?.desired, key, this.now());
  }

  /** Another pass is wanted (a webhook, an event): the running pass does not wait for its status commit, which goes on. */
  hurryUp(): void {
    this.hurry?.();
  }

  get status(): StatusDoc | null {
    return this.lastStatus;
  }

  /** Whether Service `key` (`ns/name`) is in the revision in force; null before one is (berth pause-drift). */
  hasService(key: string): boolean | null {
    const desired = this.good?.desired;
    return desired ? desired.services.some((s) => s.key === key) : null;
  }

  /** Image references the current desired state uses, as written and as pinned last (for drift checks on image IDs). */
  private imageRefs(): string[] {
    const services = [...(this.good?.desired.services ?? []), ...(this.previous?.services ?? []), ...this.pinned];
    return [...new Set(services.flatMap((s) => [s.image.ref, runRef(s.image)]))];
  }

  /**
   * The desired state (and the previous one a rollback holds) with registry tags pinned to their digests of this pass
   * (images/resolver.ts, images/pin.ts). A digest not yet looked up on the engines is observed again.
   */
  private async pin(good: Loaded, observed: ObservedState, observe: () => Promise<ObservedState>): Promise<{ desired: DesiredState; previous: DesiredState | null; observed: ObservedState }> {
    const images = this.deps.images;
    if (!images) return { desired: good.desired, previous: this.previous, observed };
    const { digests, states } = await images.resolve([...good.desired.services, ...(this.previous?.services ?? [])], observed);
    this.imageStates = states;
    const desired = pinImages(good.desired, digests);
    const previous = this.previous && pinImages(this.previous, digests);
    this.pinned = [...desired.services, ...(previous?.services ?? [])];
    const unseen = this.pinned.some((s) => !this.queried.has(runRef(s.image)));
    return { desired, previous, observed: unseen ? await observe() : observed };
  }

  /** Runs one pass. `revision` pins a ref instead of the branch head (berth apply/plan --revision). */
  async pass(opts: { revision?: string; timeline?: PassTimeline } = {}): Promise<PassResult> {
    const r: PassState = { plan: null, applied: null, pending: null, error: null, observed: null, effective: null, timeline: opts.timeline ?? new PassTimeline() };
    r.timeline.mark('pass started');
    try {
      await this.restore();
      const fetched = await this.revisions.refresh(opts.revision);
      r.timeline.mark('revision loaded');
      const rejected = this.revisions.rejected;
      if (rejected && rejected.revision === this.revisions.latest) r.error = rejected.error;
      r.fetchError = fetched.error;
      if (fetched.error) {
        // Git unreachable or the revision unreadable: reported, and healing goes on from the revision in force.
        r.error = r.error ?? fetched.error;
        this.deps.log.error('cannot fetch the revision; enforcing the one in force', { code: fetched.error.code, error: fetched.error.message, inForce: this.good?.desired.revision.slice(0, 12) ?? null });
        this.deps.notify?.({ kind: 'sync-failed', error: fetched.error, revision: this.revisions.latest });
      }
      if (!this.good && (rejected || fetched.error) && this.lastStatus?.revision.applied) await this.revisions.restore(this.lastStatus.revision.applied);
      if (this.good && !(r.error && this.deps.keepLastGood === false)) await this.converge(this.good, r);
    } catch (err) {
      r.error = asBerthError(err);
      // A defect is logged with its stack: the one place it can be seen whole.
      this.deps.log.error('pass failed', { code: r.error.code, error: r.error.message, ...(r.error.code === 'E_INTERNAL' ? { stack: err instanceof Error ? err.stack : undefined } : {}) });
      this.deps.notify?.({ kind: 'sync-failed', error: r.error, revision: this.revisions.latest });
    }
    return this.finish(r);
  }

  /** observe -> plan -> apply -> observe, for the desired state in force. */
  private async converge(good: Loaded, r: PassState): Promise<void> {
    const look = () => {
      const refs = this.imageRefs();
      this.queried = new Set(refs);
      return this.deps.runtime.observe(this.deps.instance, refs);
    };
    const first = await look();
    r.timeline.mark('observed');
    const pinned = await this.pin(good, first, look);
    // Autoscaled services run the autoscaler's count: the planner, the status and the applied record all see it.
    const autoscaled = this.deps.autoscaler?.counts(pinned.desired, pinned.observed);
    pinned.desired = autoscaledReplicas(pinned.desired, pinned.observed, autoscaled);
    const desired = this.healing.effective(pinned.desired, pinned.previous);
    r.effective = desired;
    const observe = async () => {
      const o = await look();
      this.syncMonitor(good, desired, o);
      return o;
    };
    r.observed = pinned.observed;
    this.syncMonitor(good, desired, r.observed);
    // Scheduling only when the revision declares Nodes; otherwise the single --docker engine takes everything.
    if (desired.nodes.length) await this.deps.cluster?.settle?.();
    const view = desired.nodes.length ? this.deps.cluster?.view() : undefined;
    const cluster = view ? await this.pressure.apply(view, desired, r.observed, this.now()) : undefined;
    r.cluster = cluster?.view;
    const manualRuns = this.manual.pending(); // CronJob runs asked for by hand, until their containers exist
    const driftPaused = this.deps.driftPauses?.keys(); // berth pause-drift: their drift stays pending, not run
    // One planner for every caller (run, apply, plan, pull requests): see plan-pass.ts.
    const planned = (o: ObservedState, evictions = cluster?.evictions) => planPass({
      desired: pinned.desired, observed: o, instance: this.deps.instance, applied: this.applied, held: this.healing.held,
      previous: pinned.previous, unhealthy: this.unhealthy(o), cluster: cluster?.view, evictions, drift: this.deps.drift,
      ...(autoscaled ? { autoscaled } : {}), now: this.now(), ...(this.lastStatus?.jobs ? { jobRecords: this.lastStatus.jobs } : {}),
      ...(this.lastStatus?.cronJobs ? { cronRecords: this.lastStatus.cronJobs } : {}), ...(manualRuns ? { manualRuns } : {}),
      ...(driftPaused?.size ? { driftPaused } : {}),
    });
    const p = planned(r.observed);
    r.timeline.mark('planned');
    r.plan = p.plan;
    if (!this.deps.dryRun && desired.revision !== this.appliedRevision && desired.revision !== this.plannedRevision) {
      this.plannedRevision = desired.revision;
      this.deps.notify?.({ kind: 'revision-planned', revision: desired.revision, base: this.appliedRevision, plan: p.plan, desired: pinned.desired });
    }
    if (cluster) ({ unschedulable: r.unschedulable, waiting: r.waiting } = p);
    else if (p.unschedulable.size) r.unschedulable = p.unschedulable; // services waiting for a Job
    const gated = this.healing.gateStarts(p.runnable, this.now());
    // A Job's next retry, deadline or TTL is a time to look again too.
    r.wakeAt = gated.wakeAt === undefined ? p.plan.wakeAt : p.plan.wakeAt === undefined ? gated.wakeAt : Math.min(gated.wakeAt, p.plan.wakeAt);
    // What still differs counts the replicas waiting for a node too (the placed plan leaves them out).
    r.pending = p.pending;
    if (gated.actions.length && !this.deps.dryRun) {
      if (gated.actions.some((a) => a.cause === 'change')) this.deps.notify?.({ kind: 'applying', revision: desired.revision, plan: { ...r.plan, actions: gated.actions } });
      r.applied = await applyPlan({ ...r.plan, actions: gated.actions }, { ...this.applyDeps(good), timeline: r.timeline });
      r.timeline.mark('applied');
      this.afterRollouts(r.applied, pinned.desired, r);
      this.recordPulls(r.applied);
      r.observed = await observe();
      r.timeline.mark('observed again');
      r.pending = planned(r.observed, []).pending;
      r.error = r.error ?? r.applied.errors[0] ?? null;
    }
    this.manual.settle(pinned.desired, r.observed.containers);
    const running = new Set(r.observed.containers.filter((c) => c.status === 'running').map((c) => c.id));
    const present = new Set(r.observed.containers.map((c) => c.id));
    this.healing.prune((id) => running.has(id) || !present.has(id));
    for (const c of this.healing.crashes.values()) if (c.crashLoop) this.deps.notify?.({ kind: 'crashloop', crash: c });
    if (!this.deps.dryRun && (r.applied === null || r.applied.errors.length === 0)) this.markApplied(desired);
  }

  private recordPulls(applied: ApplyResult): void {
    const at = (this.deps.now?.() ?? new Date()).toISOString();
    const byService = new Map<string, LastPull>();
    for (const p of applied.pulls) {
      const entry = byService.get(p.service) ?? { image: p.ref, at, nodes: [] };
      entry.nodes.push({ ...(p.node ? { node: p.node } : {}), action: p.action, layers: p.layers, bytes: p.bytes, ms: Math.round(p.ms) });
      byService.set(p.service, entry);
    }
    for (const [k, v] of byService) this.lastPulls.set(k, v);
  }

  /** Records failed health gates: rollback/pause hold the service; a rollback converges again at once. */
  private afterRollouts(applied: ApplyResult, desired: DesiredState, r: PassState): void {
    if (!applied.rollouts.length) return;
    this.healing.recordRollouts(applied.rollouts, desired, this.previous);
    for (const ro of applied.rollouts) {
      this.deps.log.warn(`update ${ro.action === 'continue' ? 'continued despite failures' : ro.action === 'rollback' ? 'rolled back' : 'paused'}`, { service: ro.service, failed: ro.failed, total: ro.total, reason: ro.reason });
      this.deps.notify?.({ kind: 'rollback', rollout: ro, revision: desired.revision });
    }
    if (applied.rollouts.some((ro) => ro.action === 'rollback')) r.wakeAt = this.now();
  }

  /** Liveness (or startup) failures of probed replicas become replacements. */
  private unhealthy(observed: ObservedState): Map<string, string> {
    const unhealthy = new Map<string, string>();
    for (const c of observed.containers) {
      const h = c.status === 'running' ? this.deps.monitor?.health(c.id) : undefined;
      if (h && !h.live) unhealthy.set(c.id, `${h.message}: replacing ${c.name}`);
    }
    return unhealthy;
  }

  /** Probes every running replica of the spec in force. */
  private syncMonitor(good: Loaded, desired: DesiredState, observed: ObservedState): void {
    const monitor = this.deps.monitor;
    if (!monitor) return;
    const bySpec = new Map(desired.services.map((s) => [`${s.namespace}/${s.name}@${s.specHash}`, s]));
    const readFile = this.repoReader(good);
    const targets: MonitorTarget[] = [];
    for (const c of claimedBy('Service', 'container', observed.containers)) {
      const svc = bySpec.get(`${c.labels[LABELS.namespace]}/${c.labels[LABELS.service]}@${c.labels[LABELS.specHash]}`);
      if (svc && c.status === 'running') targets.push({ container: c, service: svc, readFile });
    }
    monitor.sync(targets);
  }

  /** Reads repository files at the applied revision (script probes: paths are repository-relative in the desired state). */
  private repoReader(good: Loaded): (path: string) => Promise<Buffer> {
    return (p) => good.snapshot.read(p);
  }

  private now(): number {
    return (this.deps.now?.() ?? new Date()).getTime();
  }

  /** Connects the revision's nodes; a node that cannot be connected (TLS file missing) is logged and left out. */
  private syncNodes(desired: DesiredState): void {
    for (const f of this.deps.cluster?.sync(desired.nodes) ?? []) this.deps.log.error('node cannot be connected; left out', { node: f.name, error: f.error });
  }

  /** Reads the previous status (stateless restart): condition times, applied revision and per-service applied specs. */
  private async restore(): Promise<void> {
    // Tried again on later passes while git is unreachable, until a revision is in force.
    if (this.restored || this.good) return;
    try {
      const text = await this.deps.source.readStatus(statusPath(this.deps.instance));
      this.restored = true;
      if (!text) return;
      const doc = parse(text) as StatusDoc;
      this.lastStatus = doc;
      this.writer.seed(text, doc);
      this.appliedRevision = doc.revision?.applied ?? null;
      this.applied = appliedServices(doc);
      await this.restoreHeld(doc);
    } catch (err) {
      this.deps.log.warn('could not read previous status', { error: asBerthError(err).message });
    }
  }

  /** Rolled-back and paused updates survive a restart; a rollback's previous spec is loaded from git. */
  private async restoreHeld(doc: StatusDoc): Promise<void> {
    for (const [key, h] of Object.entries(doc.held ?? {})) this.healing.held.set(key, h);
    const rev = Object.values(doc.held ?? {}).find((h) => h.action === 'rollback' && h.previousRevision)?.previousRevision;
    if (!rev) return;
    this.revisions.previous = await this.deps.load(await this.deps.source.snapshot(rev));
  }

  private markApplied(desired: DesiredState): void {
    this.applied = new Map(desired.services.map((s) => [s.key, { specHash: s.specHash, replicas: s.spec.replicas }]));
    this.appliedRevision = desired.revision;
  }

  private applyDeps(loaded: Loaded): ApplyDeps {
    const { monitor, runtime, instance } = this.deps;
    const readFile = this.repoReader(loaded);
    // The Secrets creates may need: the revision in force and the one a rollback returns to (ciphertexts, by content hash).
    this.deps.secrets?.remember(loaded.desired, this.revisions.previous);
    const services = new Map(loaded.desired.services.map((s) => [s.key, s]));
    const track = async (id: string, svc: DesiredService): Promise<void> => {
      const c = (await runtime.observe(instance, [])).containers.find((x) => x.id === id);
      if (c) monitor?.track({ container: c, service: svc, readFile });
    };
    return {
      runtime, instance,
      log: this.deps.log,
      concurrency: this.deps.concurrency,
      stopGraceSeconds: this.deps.stopGraceSeconds,
      beforeStop: this.deps.beforeStop,
      pullAuth: this.deps.pullAuth,
      ...(this.deps.secrets ? { secrets: this.deps.secrets } : {}),
      onPullProgress: (service, p) => this.deps.log.info('pulling image', { service, image: p.ref, layers: `${p.layersDone}/${p.layers}`, bytes: p.bytes, totalBytes: p.totalBytes, ms: Math.round(p.ms) }),
      buildContext: (svc: DesiredService) => readBuildContext(loaded.snapshot, svc),
      gate: monitor ? createGate({ monitor, runtime, instance, track, desired: (key) => services.get(key) }) : undefined,
    };
  }

  private async finish(r: PassState): Promise<PassResult> {
    // Finished Job containers' last lines (bounded reads; one still under way is for the next pass, a second from now).
    const outputs = this.deps.dryRun || !r.observed ? undefined : await this.jobOutput.collect(r.observed, r.effective ?? this.good?.desired ?? null, this.revisions.previous, this.lastStatus);
    if (outputs?.pending) r.wakeAt = Math.min(r.wakeAt ?? Infinity, this.now() + 1_000);
    const built = buildStatus({
      instance: this.deps.instance,
      source: this.deps.sourceInfo,
      appliedRevision: this.appliedRevision,
      latestRevision: this.revisions.latest,
      desired: r.effective ?? this.good?.desired ?? null,
      observed: r.observed,
      health: (id) => this.deps.monitor?.health(id),
      ...(r.cluster ? { nodes: r.cluster.states, lostNodes: r.cluster.lost } : {}),
      ...waitingOf(r),
      images: this.imageStates,
      pulls: this.lastPulls,
      pullErrors: new Map((r.applied?.outcomes ?? []).flatMap((o) => (o.action.type === 'pull-image' && o.error ? [[o.action.service, o.error.message] as [string, string]] : []))),
      crashes: this.healing.crashes,
      held: this.healing.held,
      ...(this.deps.autoscaler ? { autoscale: this.deps.autoscaler.status() } : {}),
      pending: r.pending,
      error: r.error,
      errorRevision: r.error ? (this.revisions.rejected?.revision ?? this.revisions.latest) : null,
      now: (this.deps.now?.() ?? new Date()).toISOString(),
      previous: this.lastStatus,
      ...(outputs ? { jobOutputs: outputs.outputs } : {}),
      ...(this.deps.driftPauses ? { driftPaused: this.deps.driftPauses.list() } : {}),
    });
    const logs = this.deps.logsStatus?.();
    if (logs) built.logs = logs;
    // Probe output and error messages end up in the status: no registered secret may leave in it.
    const status = this.deps.redact?.deep(built) ?? built;
    // Each run that turned Failed since the last document is alerted once (after a restart: the status branch's).
    const failures = failureEvents(this.lastStatus, status, this.restored, this.startedAt);
    for (const e of failures) {
      this.deps.log.warn('job run failed', { job: e.failure.job, kind: e.failure.kind, run: e.failure.run, reason: e.failure.reason, exitCode: e.failure.exitCode });
      this.deps.notify?.(e);
    }
    this.lastStatus = status;
    if (r.observed) this.current = currentReplicas(r.effective ?? this.good?.desired ?? null, r.observed);
    r.timeline.mark('status built');
    if (this.deps.writeStatus) {
      // The commit goes on in the background; the pass stops waiting for it as soon as another pass is wanted.
      const offered = this.writer.offer(status, { urgent: failures.length > 0 });
      await Promise.race([offered, new Promise<void>((resolve) => { this.hurry = resolve; })]);
      this.hurry = null;
    }
    r.timeline.mark('status offered');
    const converged = r.error === null && this.good !== null && (r.pending?.actions.length ?? 0) === 0;
    return { timeline: r.timeline, revision: this.revisions.latest, plan: r.plan, applied: r.applied, pending: r.pending, error: r.error, fetchError: r.fetchError ?? null, status, converged, wakeAt: r.wakeAt, desired: r.effective ?? this.good?.desired ?? null, observed: r.observed };
  }
}

/** Services some of whose replicas wait: for a node (unschedulable), or for a dependency with condition healthy. */
function waitingOf(r: PassState): { unschedulable?: Map<string, string> } {
  const out = new Map(r.unschedulable ?? []);
  for (const o of r.applied?.outcomes ?? []) {
    if (o.deferred && o.error?.code === 'E_DEPENDENCY' && o.action.service && !out.has(o.action.service)) out.set(o.action.service, o.error.message);
  }
  return out.size ? { unschedulable: out } : {};
}
