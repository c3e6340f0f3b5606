/**
 * The autoscaler of the operator (the edge around algorithm.ts): every sync period it reads the CPU and memory of the
 * autoscaled services' replicas from their engines (one-shot stats; CPU as the rate between two reads) and their
 * request rate, in-flight requests and latency from berth's proxies (their access counters), decides each service's
 * count, and asks for a pass when one changed. A request held by the proxy for a service at zero (`wake`) scales it
 * to its first replica at once. The counts live here; the planners read them through autoscaledReplicas(), and a
 * restarted operator starts from what runs (replicas.ts), so nothing of this needs to be stored.
 */
import type { ReplicaHealth } from '../model/health.ts';
import { LABELS } from '../model/keys.ts';
import type { AutoscaleSpec } from '../model/manifest.ts';
import type { DesiredService, DesiredState, ObservedContainer, ObservedState } from '../model/state.ts';
import type { AccessSnapshot } from '../proxy/access-stats.ts';
import type { ContainerStats } from '../runtime/runtime.ts';
import type { Logger } from '../util/log.ts';
import { decide, initialState, type AutoscaleState, type Decision, type Observation } from './algorithm.ts';
import { clampReplicas, startingReplicas } from './replicas.ts';
import { sampleOf, trafficBetween, type TrafficSample } from './traffic.ts';

/** The HPA's sync period. */
export const DEFAULT_AUTOSCALE_INTERVAL_MS = 15_000;

export interface AutoscalerDeps {
  /** One-shot counters of running containers (runtime.containerStats); a container that does not answer is left out. */
  stats(ids: string[]): Promise<Record<string, ContainerStats>>;
  /** The proxies' access counters, merged; undefined when they do not answer (bounded by the caller). */
  traffic(): Promise<AccessSnapshot | undefined>;
  /** Probe-based health of a replica (absent: running counts as ready). */
  health(containerId: string): ReplicaHealth | undefined;
  /** Asks for a pass (the loop's trigger). */
  trigger(reason: string): void;
  log: Logger;
  now?: () => number;
  /** Sync period (default 15 s). */
  intervalMs?: number;
}

/** What status shows of an autoscaled service. */
export interface AutoscaleStatus {
  min: number;
  max: number;
  /** The count the replicas follow. */
  replicas: number;
  metrics: { metric: string; value: number | null; target: number }[];
  /** The decision of the last sync. */
  lastDecision?: { at: string; reason: string };
  /** The last decision that changed the count. */
  lastScale?: { at: string; from: number; to: number; reason: string };
  /** When the scale-down window lets the count fall, while it holds it up. */
  nextScaleDownAt?: string;
}

interface Entry {
  key: string;
  svc: DesiredService;
  policy: AutoscaleSpec;
  count: number;
  state: AutoscaleState;
  /** The previous stats read per container (CPU is the difference of two). */
  stats: Map<string, ContainerStats>;
  lastRequestAt: number;
  wake: boolean;
  decision?: Decision;
  decidedAt?: number;
  lastScale?: { at: number; from: number; to: number; reason: string };
}

export class Autoscaler {
  private readonly entries = new Map<string, Entry>();
  private observed: ObservedState | null = null;
  private previousTraffic: TrafficSample | undefined;
  private timer: NodeJS.Timeout | undefined;
  private syncing: Promise<void> | undefined;
  private readonly now: () => number;

  constructor(private readonly deps: AutoscalerDeps) {
    this.now = deps.now ?? Date.now;
  }

  /**
   * The count of every autoscaled service of `desired`, for the planners: the autoscaler's, or for a service it has
   * not seen yet what runs (else spec.replicas), clamped to the policy in force (a lowered max scales down at once).
   */
  counts(desired: DesiredState, observed: ObservedState): Map<string, number> {
    this.observed = observed;
    const seen = new Set<string>();
    for (const svc of desired.services) {
      const policy = svc.spec.autoscale;
      if (!policy) continue;
      seen.add(svc.key);
      let entry = this.entries.get(svc.key);
      if (!entry) {
        entry = { key: svc.key, svc, policy, count: startingReplicas(svc, observed), state: initialState(), stats: new Map(), lastRequestAt: this.now(), wake: false };
        this.entries.set(svc.key, entry);
      }
      entry.svc = svc;
      entry.policy = policy;
      entry.count = clampReplicas(entry.count, policy.min, policy.max);
    }
    for (const key of [...this.entries.keys()]) if (!seen.has(key)) this.entries.delete(key);
    return new Map([...this.entries.values()].map((e) => [e.key, e.count]));
  }

  /** Services the proxies hold requests for: each at zero goes to its first replicas now, and a pass is asked for. */
  wake(services: readonly string[]): void {
    let woke = false;
    for (const key of services) {
      const e = this.entries.get(key);
      if (!e) continue;
      e.lastRequestAt = this.now();
      if (e.count > 0) continue;
      e.wake = true;
      this.decideOne(e, { now: this.now(), current: 0, replicas: [], wake: true });
      woke = true;
    }
    if (woke) this.deps.trigger('autoscale wake');
  }

  /** Starts the sync timer. */
  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => { void this.sync(); }, this.deps.intervalMs ?? DEFAULT_AUTOSCALE_INTERVAL_MS);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.syncing;
  }

  /** One sync of every autoscaled service (one at a time: a slow engine delays the next, never piles them up). */
  sync(): Promise<void> {
    this.syncing ??= this.syncAll().catch((err: unknown) => {
      this.deps.log.warn('autoscale sync failed; counts stay', { error: err instanceof Error ? err.message : String(err) });
    }).finally(() => { this.syncing = undefined; });
    return this.syncing;
  }

  private async syncAll(): Promise<void> {
    const observed = this.observed;
    if (this.entries.size === 0 || !observed) return;
    const entries = [...this.entries.values()];
    const needTraffic = entries.some((e) => e.policy.min === 0 || e.policy.metrics.some((m) => m.type !== 'cpu' && m.type !== 'memory'));
    const needStats = entries.filter((e) => e.policy.metrics.some((m) => m.type === 'cpu' || m.type === 'memory'));
    const mine = (e: Entry) => observed.containers.filter((c) => c.status === 'running' && c.labels[LABELS.namespace] === e.svc.namespace && c.labels[LABELS.service] === e.svc.name);
    const [snapshot, stats] = await Promise.all([
      needTraffic ? this.deps.traffic().catch(() => undefined) : Promise.resolve(undefined),
      needStats.length ? this.deps.stats(needStats.flatMap((e) => mine(e).map((c) => c.id))).catch(() => ({} as Record<string, ContainerStats>)) : Promise.resolve({} as Record<string, ContainerStats>),
    ]);
    const now = this.now();
    const sample = snapshot ? sampleOf(snapshot, now) : undefined;
    let changed = false;
    for (const e of entries) {
      if (this.entries.get(e.key) !== e) continue; // dropped meanwhile
      const containers = mine(e);
      const before = e.count;
      this.decideOne(e, {
        now,
        current: e.count,
        replicas: containers.map((c) => this.replicaOf(e, c, stats[c.id])),
        ...this.trafficOf(e, sample, now),
        ...(e.wake && e.count === 0 ? { wake: true } : {}),
        ...(rolling(e.svc, observed) ? { rolling: true } : {}),
      });
      changed ||= e.count !== before;
    }
    if (sample) this.previousTraffic = sample;
    if (changed) this.deps.trigger('autoscale');
  }

  private decideOne(e: Entry, obs: Observation): void {
    const { decision, state } = decide(e.policy, e.state, obs);
    e.state = state;
    e.decision = decision;
    e.decidedAt = obs.now;
    if (decision.desired !== e.count) {
      this.deps.log.info('autoscale', { service: e.key, from: e.count, to: decision.desired, reason: decision.reason });
      e.lastScale = { at: obs.now, from: e.count, to: decision.desired, reason: decision.reason };
      e.count = decision.desired;
      if (e.count > 0) e.wake = false;
    }
  }

  /** One replica as the algorithm sees it: ready, and its CPU (since the previous read) and memory in % of its requests. */
  private replicaOf(e: Entry, c: ObservedContainer, now: ContainerStats | undefined): Observation['replicas'][number] {
    const ready = this.deps.health(c.id)?.ready ?? true;
    const out: Observation['replicas'][number] = { ready };
    if (!now) return out;
    const prev = e.stats.get(c.id);
    e.stats.set(c.id, now);
    const cpu = e.svc.spec.resources.cpu;
    if (prev && cpu && now.readAt > prev.readAt && now.cpuNs >= prev.cpuNs) {
      out.cpuPercent = ((now.cpuNs - prev.cpuNs) / ((now.readAt - prev.readAt) * 1e6)) / cpu * 100;
    }
    const memory = e.svc.spec.resources.memory;
    if (memory) out.memoryPercent = (now.memoryBytes / memory) * 100;
    return out;
  }

  /** The service's traffic since the previous sync; none when the proxies did not answer now or before. */
  private trafficOf(e: Entry, sample: TrafficSample | undefined, now: number): Pick<Observation, 'traffic'> {
    if (!sample || !this.previousTraffic) return {};
    const t = trafficBetween(this.previousTraffic, sample, e.key);
    if (t.requestsPerSecond > 0 || t.inFlight > 0) e.lastRequestAt = now;
    return { traffic: { ...t, lastRequestAt: e.lastRequestAt } };
  }

  /** Per autoscaled service: bounds, count, the metrics of the last decision and its reason. */
  status(): Map<string, AutoscaleStatus> {
    const out = new Map<string, AutoscaleStatus>();
    for (const e of this.entries.values()) {
      const d = e.decision;
      out.set(e.key, {
        min: e.policy.min,
        max: e.policy.max,
        replicas: e.count,
        metrics: (d?.readings ?? []).map((r) => ({ metric: r.metric, value: r.value === undefined ? null : round(r.value), target: r.target })),
        ...(d && e.decidedAt !== undefined ? { lastDecision: { at: new Date(e.decidedAt).toISOString(), reason: d.reason } } : {}),
        ...(e.lastScale ? { lastScale: { ...e.lastScale, at: new Date(e.lastScale.at).toISOString() } } : {}),
        ...(d?.nextScaleDownAt !== undefined ? { nextScaleDownAt: new Date(d.nextScaleDownAt).toISOString() } : {}),
      });
    }
    return out;
  }
}

/** A replica of another spec than the desired one still runs: a rolling update is under way (no decision). */
function rolling(svc: DesiredService, observed: ObservedState): boolean {
  return observed.containers.some((c) => c.labels[LABELS.namespace] === svc.namespace && c.labels[LABELS.service] === svc.name && c.labels[LABELS.specHash] !== svc.specHash);
}

const round = (n: number): number => Math.round(n * 100) / 100;
