/** How a Service is reported in the status document: desired, running and ready replicas and the worst replica's health. */
import type { AutoscaleStatus } from '../../../autoscale/controller.ts';
import { LABELS } from '../../../model/keys.ts';
import { runRef, type DesiredService, type LastPull, type ObservedContainer } from '../../../model/state.ts';
import { worstOf, type Health } from '../../../model/health.ts';
import type { StatusContext } from '../types.ts';

export interface ReplicaStatus {
  replica: string;
  container: string;
  /** The node it runs on (with several engines). */
  node?: string;
  health: Health;
  ready: boolean;
  message?: string;
  restarts?: number;
}

export interface ServiceStatus {
  desired: number;
  running: number;
  ready: number;
  /** worstOf the replicas' health, Degraded when fewer are ready than desired. */
  health: Health;
  /** As written in the manifest. */
  image: string;
  /** The registry digest the replicas run (absent: the image as the node has it). */
  digest?: string;
  /** The last pull of the image: when, and per node what it moved. */
  pulled?: LastPull;
  specHash: string;
  /** Why the service is not Healthy (crash loop, failed probe, rolled-back update). */
  message?: string;
  /** spec.autoscale: bounds, count, each metric's value and target, the last decisions and when it may scale down. */
  autoscale?: AutoscaleStatus;
  replicas: ReplicaStatus[];
}

/** The `services` section: one entry per desired service, from the Service containers of its spec in force. */
export function serviceStatuses(ctx: StatusContext): Record<string, ServiceStatus> {
  const out: Record<string, ServiceStatus> = {};
  for (const s of ctx.desired?.services ?? []) out[s.key] = serviceStatus(s, ctx);
  return out;
}

function serviceStatus(s: DesiredService, ctx: StatusContext): ServiceStatus {
  const mine = ctx.containers.filter((c) => c.labels[LABELS.namespace] === s.namespace && c.labels[LABELS.service] === s.name
    && c.labels[LABELS.specHash] === s.specHash && !(c.node && ctx.lostNodes?.has(c.node)),
  ).sort((a, b) => Number(a.labels[LABELS.replica]) - Number(b.labels[LABELS.replica]));
  const replicas = mine.map((c) => replicaStatus(c, ctx));
  const ready = Math.min(replicas.filter((r) => r.ready).length, s.spec.replicas);
  const running = Math.min(mine.filter((c) => c.status === 'running').length, s.spec.replicas);
  const held = ctx.held?.get(s.key);
  let health = worstOf(...replicas.map((r) => r.health));
  if (ready < s.spec.replicas) health = worstOf(health, replicas.some((r) => r.health === 'Progressing') ? 'Progressing' : 'Degraded');
  if (held) health = worstOf(health, 'Degraded');
  const problem = replicas.find((r) => r.health !== 'Healthy' && r.message);
  const waiting = ctx.unschedulable?.get(s.key);
  const pull = imageProblem(s, ctx);
  if (pull && ready < s.spec.replicas) health = worstOf(health, 'Degraded');
  const message = held ? `update ${held.action === 'rollback' ? 'rolled back' : 'paused'} at ${held.revision.slice(0, 7)}: ${held.reason}` : pull ?? waiting ?? (problem ? `#${problem.replica} ${problem.message}` : undefined);
  const digest = s.image.type === 'ref' ? s.image.digest : undefined;
  const pulled = ctx.pulls?.get(s.key);
  const autoscale = ctx.autoscale?.get(s.key);
  return { desired: s.spec.replicas, running, ready, health, image: s.image.ref, ...(digest ? { digest } : {}), ...(pulled && pulled.image === runRef(s.image) ? { pulled } : {}), specHash: s.specHash, ...(message ? { message } : {}), ...(autoscale ? { autoscale } : {}), replicas };
}

/** ErrImagePull / ImagePullBackOff with the registry's answer, from this pass's pull or tag resolution. */
function imageProblem(s: DesiredService, ctx: StatusContext): string | undefined {
  // The registry's own answer (from resolving the tag) says more than the engine's pull error that follows it.
  const state = ctx.images?.get(s.image.ref);
  if (state?.reason) return `${state.reason}: ${state.message ?? 'registry failed'}${state.digest ? ` (replicas keep ${state.digest})` : ''}`;
  const pulled = ctx.pullErrors?.get(s.key);
  return pulled ? `ErrImagePull: ${pulled}` : undefined;
}

function replicaStatus(c: ObservedContainer, ctx: StatusContext): ReplicaStatus {
  const base = { replica: c.labels[LABELS.replica] ?? '?', container: c.name, ...(c.node && ctx.multiNode ? { node: c.node } : {}) };
  const crash = ctx.crashes?.get(c.id);
  if (c.status !== 'running') {
    const restarts = crash?.restarts;
    if (crash?.crashLoop) return { ...base, health: 'CrashLoop', ready: false, restarts, message: `CrashLoop: exited with code ${crash.exitCode}, ${crash.restarts} restarts` };
    return { ...base, health: 'Unhealthy', ready: false, ...(restarts ? { restarts } : {}), message: `${c.status} (exit code ${c.exitCode})` };
  }
  const h = ctx.health?.(c.id);
  if (!h) return { ...base, health: 'Healthy', ready: true };
  return { ...base, health: h.health, ready: h.ready, ...(h.health === 'Healthy' ? {} : { message: h.message }) };
}
