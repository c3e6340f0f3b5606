/** The status report: a pure function of what the pass saw and did. Written to git, served by the API, printed by `berth status`. */
import type { AutoscaleStatus } from '../autoscale/controller.ts';
import { stringify } from 'yaml';
import type { BerthError } from '../model/errors.ts';
import { claimantOf, KIND_TABLE, type KindStatusEntry, type ServiceStatus } from '../manifests/kinds/index.ts';
import type { Action, Plan } from '../model/plan.ts';
import type { NodeStatus } from '../model/cluster.ts';
import type { DesiredState, ImageState, LastPull, ObservedState } from '../model/state.ts';
import type { Health, ReplicaHealth } from '../health/health.ts';
import type { CrashLoopInfo, HeldUpdate } from '../model/healing.ts';
import { actionView } from '../diff/render.ts';
import type { JobStatus } from '../jobs/plan.ts';
import type { CronJobStatus } from '../jobs/cron-plan.ts';
import type { OutputsByContainer } from '../jobs/output.ts';
import type { DriftPause } from '../healing/drift-pause.ts';

export type ConditionType = 'Ready' | 'Reconciling' | 'Stalled' | 'Degraded';

/** Service health that makes the Degraded condition true (starting replicas are Progressing, not Degraded). */
const DEGRADED = new Set<Health>(['Degraded', 'Unhealthy', 'CrashLoop']);

export interface Condition {
  type: ConditionType;
  status: 'True' | 'False';
  reason: string;
  message: string;
  /** Changes only when `status` or `reason` changes, so an unchanged state renders identically. */
  lastTransitionTime: string;
}

export type { ReplicaStatus, ServiceStatus } from '../manifests/kinds/index.ts';
export type { NodeStatus } from '../model/cluster.ts';

export interface StatusDoc {
  apiVersion: 'berth/v1';
  kind: 'Status';
  instance: string;
  source: { repo: string; branch: string; path: string };
  revision: { applied: string | null; latest: string | null };
  conditions: Condition[];
  services: Record<string, ServiceStatus>;
  /** Drift seen and not corrected (`--drift detect`), one line per action. */
  drift: string[];
  /** Updates rolled back or paused, per service: kept across restarts so a failed spec is not retried until it changes. */
  held: Record<string, HeldUpdate>;
  lastError: { code: string; message: string; revision: string | null } | null;
  /** The engines berth schedules onto (absent with a single engine and no Node manifests). */
  nodes?: NodeStatus[];
  /** Per Job (kinds/job/status.ts): phase, completions, attempts; absent in a revision without Jobs. */
  jobs?: Record<string, JobStatus>;
  /** Per CronJob (kinds/cronjob/status.ts): next time, last scheduled, its runs; absent in a revision without CronJobs. */
  cronJobs?: Record<string, CronJobStatus>;
  /** The log store (logs/service.ts): absent while it works; its file and the problem when it cannot be opened or written. */
  logs?: { store: 'failing'; file: string; error: string };
  /** Services whose drift correction is paused (berth pause-drift), with the drift actions left uncorrected; absent: none. */
  driftPaused?: Record<string, DriftPausedStatus>;
}

export interface DriftPausedStatus {
  by: string;
  at: string;
  reason?: string;
  /** Drift actions on the service pending and not run because of the pause. */
  uncorrected: number;
}

export interface ReportInput {
  instance: string;
  source: StatusDoc['source'];
  appliedRevision: string | null;
  latestRevision: string | null;
  desired: DesiredState | null;
  observed: ObservedState | null;
  /** What still differs after the pass (drift left alone in detect mode, failed actions). */
  pending: Plan | null;
  error: BerthError | null;
  errorRevision: string | null;
  now: string;
  previous: StatusDoc | null;
  /** Probe-based health of a running container (absent: running counts as healthy). */
  health?: (containerId: string) => ReplicaHealth | undefined;
  crashes?: ReadonlyMap<string, CrashLoopInfo>;
  held?: ReadonlyMap<string, HeldUpdate>;
  nodes?: NodeStatus[];
  /** Nodes past their grace: their containers no longer count as replicas. */
  lostNodes?: ReadonlySet<string>;
  /** Service key -> why some replicas wait for a node. */
  unschedulable?: ReadonlyMap<string, string>;
  images?: ReadonlyMap<string, ImageState>;
  pullErrors?: ReadonlyMap<string, string>;
  pulls?: ReadonlyMap<string, LastPull>;
  /** Autoscaled services: their bounds, count and last decisions. */
  autoscale?: ReadonlyMap<string, AutoscaleStatus>;
  /** Last lines of output of finished Job and CronJob containers, by container name (read by the reconciler). */
  jobOutputs?: OutputsByContainer;
  /** Services whose drift correction is paused (healing/drift-pause.ts). */
  driftPaused?: readonly DriftPause[];
}

/** Builds the status document; `previous` keeps transition times of unchanged conditions. */
export function buildStatus(input: ReportInput): StatusDoc {
  const sections = kindSections(input);
  // The Service descriptor's section; other kinds' sections are written under their own names next to it.
  const services = (sections.get('services') ?? {}) as Record<string, ServiceStatus>;
  const entries = [...sections.values()].flatMap((e) => Object.entries(e));
  const pending = input.pending?.actions ?? [];
  // Exited replicas waiting out their restart backoff are healing, not drift left alone.
  const backingOff = backoffWaits(pending, input);
  const driftActions = pending.filter((a) => a.cause === 'drift' && !backingOff.some((b) => b.action === a));
  const drift = driftActions.map((a) => { const v = actionView(a); return `${v.type} ${v.container ?? `${v.service} #${v.replica}`}: ${a.reason}`; });
  const driftPaused = pausedSection(input.driftPaused, driftActions, services);
  const describe = ([k, s]: [string, KindStatusEntry]) => `${k} ${s.ready}/${s.desired} ready${s.message ? ` (${s.message})` : ''}`;
  const short = entries.filter(([, s]) => s.health !== 'Healthy').map(describe);
  const degraded = entries.filter(([, s]) => DEGRADED.has(s.health)).map(describe);
  const err = input.error;
  const stalled = err?.terminal === true;
  const conds: Omit<Condition, 'lastTransitionTime'>[] = [
    ready(input, sections, pending.length, drift.length, short, backingOff, driftPaused),
    pending.length > drift.length
      ? { type: 'Reconciling', status: 'True', reason: 'Progressing', message: `${pending.length - drift.length} action(s) still to do` }
      : { type: 'Reconciling', status: 'False', reason: 'Idle', message: 'no work pending' },
    stalled
      ? { type: 'Stalled', status: 'True', reason: reasonOf(err.code), message: `revision ${shortRev(input.errorRevision)} rejected: ${firstLine(err.message)}` }
      : { type: 'Stalled', status: 'False', reason: 'None', message: 'latest revision accepted' },
    degraded.length
      ? { type: 'Degraded', status: 'True', reason: degradedReason(entries.map(([, e]) => e)), message: degraded.join(', ') }
      : { type: 'Degraded', status: 'False', reason: 'None', message: 'all replicas ready' },
  ];
  return {
    apiVersion: 'berth/v1',
    kind: 'Status',
    instance: input.instance,
    source: input.source,
    revision: { applied: input.appliedRevision, latest: input.latestRevision },
    conditions: conds.map((c) => withTransition(c, input.previous, input.now)),
    ...Object.fromEntries(sections),
    services,
    drift,
    held: Object.fromEntries(input.held ?? []),
    lastError: err ? { code: err.code, message: err.message, revision: input.errorRevision } : null,
    ...(input.nodes ? { nodes: withAllocation(input.nodes, input.observed) } : {}),
    ...(driftPaused ? { driftPaused } : {}),
  };
}

/**
 * The status's `driftPaused` (absent without pauses): each paused service with its drift actions left pending. A paused
 * service with drift left says so in its entry's message too.
 */
function pausedSection(pauses: readonly DriftPause[] | undefined, driftActions: readonly Action[], services: Record<string, ServiceStatus>): Record<string, DriftPausedStatus> | undefined {
  if (!pauses?.length) return undefined;
  const out: Record<string, DriftPausedStatus> = {};
  for (const p of pauses) {
    const uncorrected = driftActions.filter((a) => a.service === p.service).length;
    out[p.service] = { by: p.by, at: p.at, ...(p.reason ? { reason: p.reason } : {}), uncorrected };
    const entry = services[p.service];
    if (entry && uncorrected) {
      const mark = `drift correction paused by ${p.by}: ${uncorrected} drifted action(s) not corrected`;
      entry.message = entry.message ? `${entry.message}; ${mark}` : mark;
    }
  }
  return out;
}

/** Each node's allocation: the CPU and memory limits of the running containers berth placed there (the scheduler's view). */
function withAllocation(nodes: readonly NodeStatus[], observed: ObservedState | null): NodeStatus[] {
  if (!observed) return [...nodes];
  const sums = new Map<string, { cpu: number; memory: number; containers: number }>();
  for (const c of observed.containers) {
    if (!c.node || c.status !== 'running') continue;
    const a = sums.get(c.node) ?? { cpu: 0, memory: 0, containers: 0 };
    a.cpu += c.nanoCpus > 0 ? c.nanoCpus / 1e9 : 0;
    a.memory += c.memory > 0 ? c.memory : 0;
    a.containers++;
    sums.set(c.node, a);
  }
  return nodes.map((n) => ({ ...n, allocated: sums.get(n.name) ?? { cpu: 0, memory: 0, containers: 0 } }));
}

interface BackoffWait {
  action: Action;
  crash: CrashLoopInfo & { retryAt: number };
}

/** The start actions of replicas whose next restart is still ahead (crash-loop backoff). */
function backoffWaits(pending: readonly Action[], input: ReportInput): BackoffWait[] {
  const now = Date.parse(input.now);
  return pending.flatMap((action) => {
    const crash = action.type === 'start' ? input.crashes?.get(action.container.id) : undefined;
    return crash?.retryAt !== undefined && crash.retryAt > now ? [{ action, crash: { ...crash, retryAt: crash.retryAt } }] : [];
  });
}

function backoffCondition(waits: readonly BackoffWait[]): Omit<Condition, 'lastTransitionTime'> {
  const reason = waits.some((w) => w.crash.crashLoop) ? 'CrashLoop' : 'BackingOff';
  const message = waits.map(({ crash: c }) => `${c.service} #${c.replica} exited with code ${c.exitCode}; restart ${c.restarts} at ${new Date(c.retryAt).toISOString()}`).join(', ');
  return { type: 'Ready', status: 'False', reason, message };
}

function ready(input: ReportInput, sections: ReadonlyMap<string, Record<string, KindStatusEntry>>, pending: number, drift: number, short: string[], backingOff: readonly BackoffWait[], paused?: Record<string, DriftPausedStatus>): Omit<Condition, 'lastTransitionTime'> {
  const err = input.error;
  if (err?.terminal) return { type: 'Ready', status: 'False', reason: 'Stalled', message: firstLine(err.message) };
  if (err) return { type: 'Ready', status: 'False', reason: 'ReconcileFailed', message: `${err.code}: ${firstLine(err.message)}` };
  if (!input.desired) return { type: 'Ready', status: 'False', reason: 'NoRevision', message: 'no revision applied yet' };
  if (backingOff.length && !drift) return backoffCondition(backingOff);
  const pausedDrift = Object.values(paused ?? {}).reduce((n, p) => n + p.uncorrected, 0);
  if (drift) return { type: 'Ready', status: 'False', reason: 'DriftDetected', message: `${drift} drifted object(s) left uncorrected (${pausedDrift >= drift ? 'drift correction paused: berth resume-drift' : '--drift detect'})` };
  if (pending || short.length) return { type: 'Ready', status: 'False', reason: 'Progressing', message: short.length ? `waiting for ${short.join(', ')}` : `${pending} action(s) pending` };
  const counts = [...sections].map(([name, e]) => `${Object.keys(e).length} ${name.replace(/s$/, '')}(s)`);
  const n = [...sections.values()].flatMap((e) => Object.values(e)).reduce((sum, x) => sum + x.ready, 0);
  return { type: 'Ready', status: 'True', reason: 'Converged', message: `revision ${shortRev(input.appliedRevision)}: ${counts.join(', ')}, ${n} replica(s) ready` };
}

/** Each kind's section (`services`, ...), from the containers it claims. */
function kindSections(input: ReportInput): Map<string, Record<string, KindStatusEntry>> {
  const all = input.observed?.containers ?? [];
  const out = new Map<string, Record<string, KindStatusEntry>>();
  for (const d of KIND_TABLE) {
    if (!d.status) continue;
    const containers = all.filter((c) => claimantOf('container', c.labels) === d.kind);
    const previous = (input.previous as unknown as Record<string, Record<string, KindStatusEntry> | undefined> | null)?.[d.status.section];
    const entries = d.status.report({
      desired: input.desired, containers, health: input.health, crashes: input.crashes, held: input.held,
      multiNode: input.nodes !== undefined, lostNodes: input.lostNodes, unschedulable: input.unschedulable,
      images: input.images, pullErrors: input.pullErrors, pulls: input.pulls, autoscale: input.autoscale,
      now: Date.parse(input.now), ...(previous ? { previous } : {}), ...(input.jobOutputs ? { jobOutputs: input.jobOutputs } : {}),
    });
    // Services always have their section; another kind's appears once the revision has some of its resources.
    if (d.kind === 'Service' || Object.keys(entries).length) out.set(d.status.section, entries);
  }
  return out;
}

function degradedReason(all: readonly KindStatusEntry[]): string {
  if (all.some((s) => s.replicas.some((r) => r.health === 'CrashLoop'))) return 'CrashLoop';
  if (all.some((s) => s.message?.startsWith('job failed'))) return 'JobFailed';
  if (all.some((s) => /^(ErrImagePull|ImagePullBackOff)\b/.test(s.message ?? ''))) return 'ErrImagePull';
  if (all.some((s) => s.message?.startsWith('update rolled back'))) return 'RolledBack';
  if (all.some((s) => s.message?.startsWith('update paused'))) return 'UpdatePaused';
  if (all.some((s) => s.replicas.some((r) => !r.ready && r.health !== 'Progressing'))) return 'ReplicasUnhealthy';
  return 'ReplicasUnavailable';
}

function withTransition(c: Omit<Condition, 'lastTransitionTime'>, previous: StatusDoc | null, now: string): Condition {
  const prev = previous?.conditions.find((p) => p.type === c.type);
  const same = prev && prev.status === c.status && prev.reason === c.reason;
  return { ...c, lastTransitionTime: same ? prev.lastTransitionTime : now };
}

function reasonOf(code: string): string {
  const map: Record<string, string> = { E_YAML: 'InvalidYAML', E_SCHEMA: 'ValidationFailed', E_SEMANTIC: 'ValidationFailed', E_UNKNOWN_KIND: 'ValidationFailed', E_EMPTY_REVISION: 'EmptyRevision', E_PATH_MISSING: 'PathMissing', E_BUILD: 'BuildFailed', E_IMAGE_MISSING: 'ImageMissing', E_PULL: 'ErrImagePull', E_CONFIG: 'InvalidConfig', E_TOO_LARGE: 'TooLarge', E_INTERNAL: 'InternalError' };
  return map[code] ?? 'Failed';
}

function firstLine(s: string): string {
  const lines = s.split('\n');
  return lines.length > 1 && lines[0]?.endsWith(':') ? `${lines[0]} ${lines[1]}` : (lines[0] ?? '');
}

function shortRev(rev: string | null): string {
  return rev ? rev.slice(0, 7) : 'none';
}

/** The status file's text. */
export function renderStatusYaml(doc: StatusDoc): string {
  return stringify(doc, { lineWidth: 0 });
}

/** What a status document says was applied per service (spec hash and replica count): tells drift from change. */
export function appliedServices(doc: StatusDoc | null): Map<string, { specHash: string; replicas: number }> {
  return new Map(Object.entries(doc?.services ?? {}).map(([k, s]) => [k, { specHash: s.specHash, replicas: s.desired }]));
}
