/**
 * Executes a Plan through the runtime, in order: volumes, networks and images, then services (dependencies first)
 * and, beside them, Job runs and stops, then prunes, then network removals.
 */
import { BerthError, asBerthError } from '../model/errors.ts';
import type { Action, Plan, ReplaceAction, RunJobAction } from '../model/plan.ts';
import { runRef, type DesiredNetwork, type DesiredService } from '../model/state.ts';
import { jobAsService, jobContainerSpec } from '../jobs/container.ts';
import { containerSpec } from '../diff/container-spec.ts';
import { actionView } from '../diff/render.ts';
import type { BuildFile, BuildProgress, ContainerRuntime, EngineAuth, PullProgress, PullResult } from '../runtime/runtime.ts';
import { limiter, type Limiter } from '../util/limit.ts';
import { rollingUpdate, type Gate, type RolloutOutcome } from './rolling.ts';
import { secretDelivery, type SecretResolver } from './secret-files.ts';

export type { Gate, RolloutOutcome } from './rolling.ts';
import type { Logger } from '../util/log.ts';
import { LABELS } from '../model/keys.ts';

export interface ApplyDeps {
  runtime: ContainerRuntime;
  instance: string;
  log: Logger;
  /** Reads the build context of a service at the plan's revision. */
  buildContext(svc: DesiredService): Promise<BuildFile[]>;
  /** Container operations in flight at once (default 8). */
  concurrency?: number;
  /** Seconds every replaced or removed container gets to stop (default: each replica's spec.stopGracePeriod, 10 s unless set). */
  stopGraceSeconds?: number;
  /** Health gate of rolling updates (absent: no gating). */
  gate?: Gate;
  /** Credentials for the registry of an image (X-Registry-Auth); absent: pulls go without. */
  pullAuth?: (ref: string) => Promise<EngineAuth | undefined>;
  /** Progress of a pull (logged at most once a second per pull). */
  onPullProgress?: (service: string, p: PullProgress) => void;
  /** Decrypts the Secrets replicas name in spec.secrets, at create (absent: a service with secrets fails its creates). */
  secrets?: SecretResolver;
  /** Called before a replica's container is stopped (replaced, scaled down, pruned), e.g. to drain it from the proxies; a failure does not stop the removal. */
  beforeStop?: (containerId: string) => Promise<void>;
  /** Marks each container's create sent, created and started (the pass timeline). */
  timeline?: { mark(name: string): void };
}

export interface ActionOutcome {
  action: Action;
  error?: BerthError;
  /** The action failed but is only cleanup (a network still in use): logged as a warning, retried by the next pass, not in `errors`. */
  deferred?: boolean;
}

export interface ApplyResult {
  outcomes: ActionOutcome[];
  /** Failures other than health-gate failures (those are in `rollouts`) and deferred cleanup. */
  errors: BerthError[];
  rollouts: RolloutOutcome[];
  /** What each pull-image did, per node. */
  pulls: (PullResult & { service: string })[];
}

/** Runs every action; a failed action does not stop unrelated ones, and is reported in the result. */
export async function applyPlan(plan: Plan, deps: ApplyDeps): Promise<ApplyResult> {
  const ctx: Ctx = { ...deps, revision: plan.revision, limit: limiter(deps.concurrency ?? 8), outcomes: [], failedServices: new Map(), rollouts: [], pulls: [] };
  const first = plan.actions.filter((a) => a.type === 'create-volume' || a.type === 'create-network' || a.type === 'build-image');
  const isFirst = new Set<Action>(first);
  const prunes = plan.actions.filter(isPrune);
  const jobActions = plan.actions.filter((a) => a.type === 'run-job' || a.type === 'stop-job');
  const serviceActions = plan.actions.filter((a) => !isFirst.has(a) && !isPrune(a) && a.type !== 'run-job' && a.type !== 'stop-job');
  await Promise.all(first.filter((a) => a.type !== 'build-image').map((a) => run(ctx, a)));
  for (const a of first.filter((x) => x.type === 'build-image')) await run(ctx, a);
  // Jobs have no dependsOn of their own: their containers start and stop beside the services' actions.
  await Promise.all([runServices(ctx, serviceActions), ...jobActions.map((a) => run(ctx, a))]);
  await Promise.all(prunes.filter((a) => a.type === 'remove').map((a) => run(ctx, a)));
  for (const a of prunes.filter((x) => x.type === 'remove-volume')) await run(ctx, a);
  for (const a of prunes.filter((x) => x.type === 'remove-network')) await run(ctx, a);
  const errors = ctx.outcomes.flatMap((o) => (o.error && !o.deferred && o.error.code !== 'E_ROLLOUT' ? [o.error] : []));
  return { outcomes: ctx.outcomes, errors, rollouts: ctx.rollouts, pulls: ctx.pulls };
}

interface Ctx extends ApplyDeps {
  revision: string;
  limit: Limiter;
  outcomes: ActionOutcome[];
  /** Services whose image build or pull failed, with which: their container actions are skipped. */
  failedServices: Map<string, 'build' | 'pull'>;
  rollouts: RolloutOutcome[];
  pulls: (PullResult & { service: string })[];
}

/** Removals of whole services, volumes and networks, done after every service is in place. */
function isPrune(a: Action): boolean {
  if (a.type === 'remove-volume' || a.type === 'remove-network') return true;
  return a.type === 'remove' && a.prune === true;
}

/** Services run concurrently, each after the services it depends on. */
async function runServices(ctx: Ctx, actions: Action[]): Promise<void> {
  const groups = new Map<string, Action[]>();
  for (const a of actions) groups.set(a.service ?? '', [...(groups.get(a.service ?? '') ?? []), a]);
  const done = new Map<string, Promise<void>>();
  const deps = (key: string): string[] => {
    const svc = groups.get(key)?.map(desiredOf).find(Boolean);
    if (!svc) return [];
    return svc.spec.dependsOn.map((d) => `${svc.namespace}/${d}`).filter((k) => groups.has(k) && k !== key);
  };
  // Depth-first with an explicit stack (a long dependsOn chain must not overflow the call stack): a service's promise
  // is made once its dependencies' are, waiting for them; a dependency on the current path (a cycle) is not waited for.
  const active = new Set<string>();
  const stack: { key: string; deps: string[]; next: number }[] = [];
  const enter = (key: string): void => {
    active.add(key);
    stack.push({ key, deps: deps(key), next: 0 });
  };
  for (const root of groups.keys()) {
    if (!done.has(root)) enter(root);
    while (stack.length > 0) {
      const f = stack[stack.length - 1]!;
      const dep = f.deps[f.next++];
      if (dep !== undefined) {
        if (!done.has(dep) && !active.has(dep)) enter(dep);
        continue;
      }
      stack.pop();
      active.delete(f.key);
      const before = f.deps.flatMap((k) => done.get(k) ?? []);
      const actions = groups.get(f.key) ?? [];
      done.set(f.key, Promise.all(before).then(async () => runService(ctx, await healthyDependencies(ctx, actions, groups))));
    }
  }
  await Promise.all(done.values());
}

/** Actions that make a replica run: they wait for the dependencies with `condition: healthy`. */
const STARTS = new Set<Action['type']>(['create', 'replace', 'start', 'unpause']);

/**
 * compose's `service_healthy`: a service's creates, starts and replacements run once every replica of each of its
 * healthy dependencies is ready. A dependency that had actions this pass is waited for (within its probes' ready
 * deadline); one that had none is asked as it is now. One not ready: those actions are deferred (a warning; the next
 * pass plans them again), the service's other actions (updates, removals) run.
 */
async function healthyDependencies(ctx: Ctx, actions: Action[], groups: ReadonlyMap<string, Action[]>): Promise<Action[]> {
  const svc = actions.map(desiredOf).find(Boolean);
  if (!svc || !actions.some((a) => STARTS.has(a.type))) return actions;
  // condition started: a dependency whose own replicas were held back this pass (waiting for theirs) has not started.
  const held = svc.spec.dependsOn.map((d) => `${svc.namespace}/${d}`).filter((k) => k !== svc.key && groups.has(k)
    && ctx.outcomes.some((o) => o.deferred && o.action.service === k && STARTS.has(o.action.type)));
  if (held.length) {
    const error = new BerthError('E_DEPENDENCY', `waiting for dependencies: ${held.map((k) => `${k} has not started (its replicas wait for their own dependencies)`).join('; ')}`);
    for (const a of actions.filter((x) => STARTS.has(x.type))) defer(ctx, a, error);
    return actions.filter((a) => !STARTS.has(a.type));
  }
  const deps = svc.spec.healthyDependencies;
  const gate = ctx.gate?.dependencyReady?.bind(ctx.gate);
  if (!deps?.length || !gate) return actions;
  const results = await Promise.all(deps.map((d) => `${svc.namespace}/${d}`).filter((k) => k !== svc.key).map((k) => gate(k, groups.has(k))));
  const bad = results.filter((r) => !r.ok);
  if (bad.length === 0) return actions;
  const error = new BerthError('E_DEPENDENCY', `waiting for dependencies with condition healthy: ${bad.map((r) => r.reason).join('; ')}`);
  for (const a of actions.filter((x) => STARTS.has(x.type))) defer(ctx, a, error);
  return actions.filter((a) => !STARTS.has(a.type));
}

/** One service: creates, starts and updates at once; replaces in batches of update.parallelism; removals last. */
async function runService(ctx: Ctx, actions: Action[]): Promise<void> {
  for (const a of actions) if (a.type === 'pull-image') await run(ctx, a, actions);
  // No image: nothing of the service is touched, not even a stop-first replacement or a scale-down.
  const failed = actions[0]?.service ? ctx.failedServices.get(actions[0].service) : undefined;
  if (failed) {
    for (const a of actions) if (a.type !== 'pull-image') skip(ctx, a, failed);
    return;
  }
  const replaces = actions.filter((a): a is ReplaceAction => a.type === 'replace');
  const removes = actions.filter((a) => a.type === 'remove');
  const rest = actions.filter((a) => a.type !== 'replace' && a.type !== 'remove' && a.type !== 'pull-image');
  await Promise.all(rest.map((a) => run(ctx, a)));
  const stopped = await rollingReplace(ctx, replaces);
  if (!stopped) await Promise.all(removes.map((a) => run(ctx, a)));
}

/** Replaces through the rolling update (health-gated, see rolling.ts); removals wait when the update stopped. */
async function rollingReplace(ctx: Ctx, replaces: ReplaceAction[]): Promise<boolean> {
  const outcome = await rollingUpdate({
    gate: ctx.gate,
    start: (svc, replica, node) => ctx.limit.run(() => createAndStart(ctx, svc, replica, node)),
    remove: (id) => ctx.limit.run(() => stopAndRemove(ctx, id)),
    rename: (id, name) => ctx.limit.run(() => ctx.runtime.renameContainer(id, name)),
    record: (a, error) => record(ctx, a, error),
  }, replaces);
  if (!outcome) return false;
  ctx.rollouts.push(outcome);
  return outcome.action !== 'continue';
}

function desiredOf(a: Action): DesiredService | undefined {
  return 'desired' in a && a.type !== 'run-job' ? a.desired : undefined;
}

function skip(ctx: Ctx, a: Action, failed: 'build' | 'pull'): void {
  ctx.outcomes.push({ action: a, error: asBerthError(new Error(`skipped: image ${failed} of ${a.service ?? a.job} failed`), failed === 'build' ? 'E_BUILD' : 'E_PULL') });
}

async function run(ctx: Ctx, a: Action, serviceActions: Action[] = []): Promise<void> {
  // A Job's runs are skipped when its image build failed, as a Service's creates are (its build-image names it as service).
  const owner = a.service ?? a.job;
  const failed = owner ? ctx.failedServices.get(owner) : undefined;
  if (failed && a.type !== 'remove' && a.type !== 'stop-job') return skip(ctx, a, failed);
  const t0 = performance.now();
  try {
    // A pull holds no container slot: it may take minutes, and creates of other services go on meanwhile.
    if (a.type === 'pull-image') await pullForService(ctx, a, serviceActions);
    else await ctx.limit.run(() => execute(ctx, a));
    record(ctx, a, undefined, performance.now() - t0);
  } catch (err) {
    const error = asBerthError(err);
    if (a.type === 'build-image') ctx.failedServices.set(a.service, 'build');
    if (a.type === 'pull-image') ctx.failedServices.set(a.service, 'pull');
    if (a.type === 'remove-network' && !error.terminal) return defer(ctx, a, error);
    record(ctx, a, error);
  }
}

/** An action that could not run yet (a network still in use, a dependency not healthy): a warning now, the next pass plans it again. */
function defer(ctx: Ctx, a: Action, error: BerthError): void {
  ctx.log.warn(`deferred: ${a.type}`, { ...actionView(a), code: error.code, error: error.message });
  ctx.outcomes.push({ action: a, error, deferred: true });
}

/** Logs an action's outcome (every correction with its reason) and keeps it for the result. */
function record(ctx: Ctx, a: Action, error?: BerthError, ms?: number): void {
  const view = actionView(a);
  if (error) ctx.log.error(`failed: ${a.type}`, { ...view, code: error.code, error: error.message });
  else ctx.log.info(a.cause === 'drift' ? 'corrected drift' : a.cause === 'heal' ? 'healed' : 'applied', { ...view, ...(ms === undefined ? {} : { ms: Math.round(ms) }) });
  ctx.outcomes.push({ action: a, ...(error ? { error } : {}) });
}

async function execute(ctx: Ctx, a: Action): Promise<void> {
  const rt = ctx.runtime;
  switch (a.type) {
    case 'create-volume':
      return rt.createVolume(a.volume.dockerName, volumeLabels(ctx, a.volume.namespace, a.volume.name, a.volume.spec.retain), a.volume.spec.driver, a.volume.spec.driverOpts);
    case 'remove-volume':
      return rt.removeVolume(a.name);
    case 'create-network':
      return rt.createNetwork(a.network.dockerName, networkLabels(ctx.instance, a.network), a.network.internal ? { internal: true } : undefined);
    case 'remove-network':
      return rt.removeNetwork(a.name);
    case 'build-image': {
      const img = a.desired.image;
      if (img.type !== 'build') return;
      const files = await ctx.buildContext(a.desired);
      const labels = { [LABELS.managed]: 'true', [LABELS.instance]: ctx.instance, [LABELS.kind]: 'Service', [LABELS.namespace]: a.desired.namespace, [LABELS.service]: a.desired.name, [LABELS.revision]: ctx.revision };
      const onProgress = (p: BuildProgress) => ctx.log.info('building image', { service: a.desired.key, image: p.ref, builder: p.builder, step: p.step, steps: `${p.done}/${p.steps}`, cached: p.cached, ms: Math.round(p.ms) });
      await rt.buildImage(img.ref, files, img.dockerfile, labels, { ...(img.args ? { args: img.args } : {}), ...(img.target ? { target: img.target } : {}), onProgress });
      return;
    }
    case 'pull-image':
      throw new BerthError('E_INTERNAL', 'pull-image actions run through pullForService');
    case 'create':
      await createAndStart(ctx, a.desired, a.replica, a.node);
      return;
    case 'replace':
      throw new BerthError('E_INTERNAL', 'replace actions run through rollingReplace');
    case 'start':
      return rt.startContainer(a.container.id);
    case 'unpause':
      return rt.unpauseContainer(a.container.id);
    case 'update': {
      const spec = containerSpec(ctx.instance, ctx.revision, a.desired, 1);
      return rt.updateContainer(a.container.id, { memory: spec.memory ?? 0, nanoCpus: spec.nanoCpus ?? 0, restartPolicy: spec.restartPolicy });
    }
    case 'remove':
      return stopAndRemove(ctx, a.container.id);
    case 'run-job':
      await runJob(ctx, a);
      return;
    case 'stop-job':
      return rt.stopContainer(a.container.id);
  }
}

/**
 * Creates and starts one attempt of a Job's completion on the node the scheduler chose (`a.node`; absent: the default
 * engine): its registry image pulled there when the engine lacks it (pullPolicy Never: not; a node that cannot pull
 * gets it streamed from a node that has it, as a replica does), secret files written between create and start as for a
 * replica. The name is deterministic: a create retried after a crash finds the container made before, so an attempt
 * never runs twice.
 */
async function runJob(ctx: Ctx, a: RunJobAction): Promise<void> {
  const job = a.desired;
  const view = jobAsService(job);
  let pullError: unknown;
  if (job.image.type === 'ref' && view.spec.pullPolicy !== 'Never') {
    const ref = runRef(job.image);
    const auth = await ctx.pullAuth?.(ref);
    // On a node: pulled there when pinned to a digest; a tag only some engine has is streamed at create (runtime/multi.ts).
    if (!a.node) await ctx.runtime.pullImage(ref, auth ? { auth } : {});
    else if (ref.includes('@')) await ctx.runtime.pullImage(ref, { ...(auth ? { auth } : {}), node: a.node }).catch((err: unknown) => { pullError = err; });
  }
  const spec = jobContainerSpec(ctx.instance, ctx.revision, job, { run: a.run, kind: a.kind }, a.completion, a.attempt, a.node);
  const secrets = await secretDelivery(ctx.instance, spec.name, view, ctx.secrets);
  const id = await ctx.runtime.createContainer(secrets ? { ...spec, secrets } : spec).catch((err: unknown) => {
    // The image is on no node either: the pull's own error says more.
    throw pullError !== undefined && asBerthError(err).code === 'E_IMAGE_MISSING' ? pullError : err;
  });
  await ctx.runtime.startContainer(id);
}

/**
 * Pulls the image of `a` on every node the service's creates and replacements of this plan go to (the default node
 * when they name none), all before any of its containers is touched; one failure fails the action.
 */
async function pullForService(ctx: Ctx, a: Extract<Action, { type: 'pull-image' }>, serviceActions: Action[]): Promise<void> {
  const nodes = new Set<string | undefined>();
  for (const x of serviceActions) {
    if (x.type === 'create') nodes.add(x.node);
    if (x.type === 'replace') nodes.add(x.old.node);
  }
  if (!nodes.size) nodes.add(undefined);
  const auth = await ctx.pullAuth?.(a.ref);
  const onProgress = ctx.onPullProgress ? (p: PullProgress) => ctx.onPullProgress!(a.service, p) : undefined;
  const results = await Promise.allSettled([...nodes].map((node) => ctx.runtime.pullImage(a.ref, { ...(auth ? { auth } : {}), ...(node ? { node } : {}), ...(onProgress ? { onProgress } : {}) })));
  for (const r of results) {
    if (r.status !== 'fulfilled') continue;
    ctx.pulls.push({ ...r.value, service: a.service });
    if (r.value.action === 'pulled') ctx.log.info('image pulled', { service: a.service, image: a.ref, ...(r.value.node ? { node: r.value.node } : {}), layers: r.value.layers, bytes: r.value.bytes, ms: Math.round(r.value.ms) });
  }
  const failures = results.flatMap((r, i) => (r.status === 'rejected' ? [{ node: [...nodes][i], error: asBerthError(r.reason) }] : []));
  if (!failures.length) return;
  // One node has it: a node that could not pull gets it streamed from there when its replica is created (runtime/multi.ts).
  if (failures.length < results.length) {
    for (const f of failures) ctx.log.warn('pull failed on a node; its replicas get the image from another node', { service: a.service, image: a.ref, node: f.node ?? 'default', error: f.error.message });
    return;
  }
  throw failures[0]!.error;
}

/** Drains (beforeStop, best effort), stops and removes a container. */
async function stopAndRemove(ctx: Ctx, id: string): Promise<void> {
  if (ctx.beforeStop) {
    await ctx.beforeStop(id).catch((err: unknown) => ctx.log.warn('beforeStop failed; stopping anyway', { container: id, error: asBerthError(err).message }));
  }
  await ctx.runtime.stopContainer(id, ctx.stopGraceSeconds); // absent: the replica's own stopGracePeriod (StopTimeout)
  await ctx.runtime.removeContainer(id);
}

/**
 * Creates (with its secret files written in between: decrypted here, on the operator, and never part of the plan) and
 * starts a replica. A Secret that cannot be decrypted fails this create only; a rolling update keeps the old replica.
 */
async function createAndStart(ctx: Ctx, svc: DesiredService, replica: number, node?: string): Promise<string> {
  const spec = containerSpec(ctx.instance, ctx.revision, svc, replica, node);
  const secrets = await secretDelivery(ctx.instance, spec.name, svc, ctx.secrets);
  ctx.timeline?.mark('create sent');
  const id = await ctx.runtime.createContainer(secrets ? { ...spec, secrets } : spec);
  ctx.timeline?.mark('created');
  await ctx.runtime.startContainer(id);
  ctx.timeline?.mark('started');
  return id;
}

function volumeLabels(ctx: Ctx, namespace: string, name: string, retain: boolean): Record<string, string> {
  return { [LABELS.managed]: 'true', [LABELS.instance]: ctx.instance, [LABELS.kind]: 'Volume', [LABELS.namespace]: namespace, [LABELS.volume]: name, [LABELS.retain]: String(retain) };
}

/** Labels of a network: a namespace's own is claimed by Service; a berth Network's by Network, with its name and spec.labels. */
function networkLabels(instance: string, n: DesiredNetwork): Record<string, string> {
  const base = { [LABELS.managed]: 'true', [LABELS.instance]: instance, [LABELS.namespace]: n.namespace };
  if (n.name === undefined) return { ...base, [LABELS.kind]: 'Service' };
  return { ...n.labels, ...base, [LABELS.kind]: 'Network', [LABELS.network]: n.name };
}
