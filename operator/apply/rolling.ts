/**
 * Rolling replacement of one service's replicas, in batches of update.parallelism.
 * start-first: a batch's new replicas start (and must become ready) while the previous batch is still in its
 * monitor window; the batch's old replicas go only once the previous batch held and the new ones are ready.
 * A same-spec replacement (healing, drift) is start-first too: the old container is renamed out of the way first
 * (after a crash, the renamed one is a duplicate of its slot, which the next plan removes).
 * stop-first: old out, new in, ready, held — one batch at a time.
 * When more than maxFailureRatio of the replicas failed their gate, failureAction applies.
 */
import { BerthError, asBerthError } from '../model/errors.ts';
import { LABELS } from '../model/keys.ts';
import type { ReplaceAction } from '../model/plan.ts';
import type { DesiredService } from '../model/state.ts';

export interface GateResult {
  ok: boolean;
  reason: string;
}

/** The health gate of an update. */
export interface Gate {
  /** Resolves once the new replica is ready, or failed / timed out. */
  ready(containerId: string, svc: DesiredService): Promise<GateResult>;
  /** Resolves once the replica stayed healthy for update.monitor, or failed during it. */
  hold(containerId: string, svc: DesiredService): Promise<GateResult>;
  /**
   * A dependency with `condition: healthy` (spec.healthyDependencies): ok once every running replica of it is
   * ready. `wait` false (the dependency had nothing to do this pass) answers from the health seen now, without waiting.
   */
  dependencyReady?(key: string, wait: boolean): Promise<GateResult>;
}

export interface RolloutOutcome {
  service: string;
  action: 'rollback' | 'pause' | 'continue';
  failed: number;
  total: number;
  /** The first failure, e.g. `web #2 failed: readiness: HTTP 500`. */
  reason: string;
}

export interface RollingCtx {
  gate?: Gate;
  /** Creates and starts replica `replica` of `svc` (engine slot held inside); returns the container id. */
  /** Creates and starts replica `replica` on `node` (the replaced container's node; absent = the default node). */
  start(svc: DesiredService, replica: number, node?: string): Promise<string>;
  /** Stops and removes a container (engine slot held inside). */
  remove(containerId: string): Promise<void>;
  /** Renames a container out of the way of its replacement's deterministic name. */
  rename(containerId: string, name: string): Promise<void>;
  /** Records the outcome of an action (logs it). */
  record(a: ReplaceAction, error?: BerthError): void;
}

/** Runs the replacements; returns how the update ended when replicas failed, else null. */
export async function rollingUpdate(ctx: RollingCtx, replaces: ReplaceAction[]): Promise<RolloutOutcome | null> {
  const first = replaces[0];
  if (!first) return null;
  const { parallelism, failureAction, maxFailureRatio, order } = first.desired.spec.update;
  const state = { failed: 0, reason: '' };
  const fail = (a: ReplaceAction, why: string): void => {
    state.failed++;
    const msg = `${a.service} #${a.replica} failed: ${why}`;
    state.reason ||= msg;
    ctx.record(a, new BerthError('E_ROLLOUT', msg));
  };
  const verdict = (): RolloutOutcome | null =>
    state.failed > 0 && state.failed / replaces.length > maxFailureRatio
      ? { service: first.service, action: failureAction, failed: state.failed, total: replaces.length, reason: state.reason }
      : null;
  let holding: Promise<void> = Promise.resolve();
  for (let i = 0; i < replaces.length; i += parallelism) {
    const batch = replaces.slice(i, i + parallelism);
    const startFirst = order === 'start-first';
    if (startFirst) await Promise.all(batch.filter(sameName).map((a) => ctx.rename(a.old.id, `${a.old.name}.replaced`).catch((err: unknown) => ctx.record(a, asBerthError(err)))));
    else await Promise.all(batch.map((a) => removeOld(ctx, a)));
    const started = (await Promise.all(batch.map((a) => startReady(ctx, a, fail)))).filter((x): x is Started => x !== null);
    await holding;
    const early = verdict();
    if (early && early.action !== 'continue') return early;
    if (startFirst) await Promise.all(started.map((s) => removeOld(ctx, s.a)));
    holding = Promise.all(started.map((s) => hold(ctx, s, fail))).then(() => undefined);
    if (!startFirst) await holding;
  }
  await holding;
  return verdict();
}

/** A same-spec replacement (healing, drift) would take the old container's deterministic name; a spec.containerName, always. */
function sameName(a: ReplaceAction): boolean {
  const custom = a.desired.spec.container?.containerName;
  if (custom !== undefined) return a.old.name.replace(/^\//, '') === custom;
  return a.old.labels[LABELS.specHash] === a.desired.specHash;
}

interface Started {
  a: ReplaceAction;
  id: string;
}

async function startReady(ctx: RollingCtx, a: ReplaceAction, fail: (a: ReplaceAction, why: string) => void): Promise<Started | null> {
  let id: string;
  try {
    id = await ctx.start(a.desired, a.replica, a.old.node);
  } catch (err) {
    ctx.record(a, asBerthError(err));
    return null;
  }
  if (!ctx.gate || a.cause !== 'change') return { a, id };
  const r = await ctx.gate.ready(id, a.desired);
  if (r.ok) return { a, id };
  await ctx.remove(id).catch(() => undefined);
  fail(a, r.reason);
  return null;
}

async function removeOld(ctx: RollingCtx, a: ReplaceAction): Promise<void> {
  try {
    await ctx.remove(a.old.id);
  } catch (err) {
    ctx.record(a, asBerthError(err));
  }
}

async function hold(ctx: RollingCtx, s: Started, fail: (a: ReplaceAction, why: string) => void): Promise<void> {
  if (!ctx.gate || s.a.cause !== 'change') return ctx.record(s.a);
  const r = await ctx.gate.hold(s.id, s.a.desired);
  if (r.ok) return ctx.record(s.a);
  fail(s.a, r.reason);
}
