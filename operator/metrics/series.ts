/**
 * A short history of each Service's metrics, for the dashboard's charts (GET /v1/series, server/series-route.ts).
 * Every `stepMs` (default 10 s) the sampler reads the sources /metrics reads (the proxy processes' access snapshot,
 * the container usage readings) and appends one point per Service key `ns/name`:
 *
 * - rps: HTTP requests proxied to the service (every listener in HTTP mode, all code classes and sources, as
 *   berth_proxy_requests_total) over the step: counter delta / seconds since the last sample. A counter that went
 *   down (a proxy process restarted) gives no point (null), never a negative rate.
 * - p50, p95 (ms): quantiles of the step's requests, from the deltas of the cumulative buckets of
 *   berth_proxy_request_duration_seconds (HTTP listeners), interpolated linearly within the bucket as PromQL's
 *   histogram_quantile does; null when the step had no request.
 * - cpu (cores): the sum over the service's running replicas of each container's CPU time delta / wall time delta
 *   between two engine readings (berth_container_cpu_seconds_total's source); a reading repeated (the usage reader
 *   reads at most every 15 s) keeps the container's last rate.
 * - memory (bytes): the sum of the replicas' memory in use (berth_container_memory_bytes' source).
 *
 * Missing data is null (uPlot draws a gap). Bounded by construction: one ring of `capacity` (360: 1 h at 10 s)
 * points shared for the times, 5 Float32Array columns of `capacity` per service, at most `maxServices` (2000)
 * services; a service out of the desired state for more than `retainMs` (1 h) is dropped. Loops over services and
 * snapshot rows yield to the event loop every YIELD_EVERY items.
 */
import type { AccessSnapshot } from '../proxy/access-stats.ts';
import type { ContainerStats } from '../runtime/runtime.ts';

export const SERIES_STEP_MS = 10_000;
export const SERIES_CAPACITY = 360;
export const SERIES_MAX_SERVICES = 2_000;
export const SERIES_RETAIN_MS = 3_600_000;
/** Items handled between two yields to the event loop. */
export const YIELD_EVERY = 256;

/** One running replica's container reading (metrics/usage.ts ContainerUsage.current()). */
export interface UsageRow {
  id: string;
  service: string;
  stats: ContainerStats;
}

export interface SeriesSources {
  /** The Service keys of the desired state in force (the last pass's status). */
  services(): Iterable<string>;
  /** The proxy processes' merged access snapshot; undefined when none answers. */
  access?: () => Promise<AccessSnapshot | undefined>;
  /** The latest readings of the running service replicas. */
  usage?: () => Promise<Iterable<UsageRow>>;
}

export interface SeriesOptions {
  stepMs?: number;
  capacity?: number;
  maxServices?: number;
  retainMs?: number;
  /** ms since the epoch. */
  now?: () => number;
  /** Calls `fn` every `ms`; returns the cancel. Default: an unref'ed setInterval. */
  every?: (ms: number, fn: () => void) => () => void;
}

/** The columns of one service, as GET /v1/series answers them (uPlot's data). */
export interface SeriesColumns {
  service: string;
  stepMs: number;
  t: number[];
  rps: (number | null)[];
  p50: (number | null)[];
  p95: (number | null)[];
  cpu: (number | null)[];
  memory: (number | null)[];
}

const RPS = 0, P50 = 1, P95 = 2, CPU = 3, MEM = 4, COLUMNS = 5;

interface Counts {
  /** ms since the epoch of the sample these were read at. */
  at: number;
  requests: number;
  /** Cumulative counts per bucket bound, then +Inf (= count). */
  cumulative: number[];
}

interface Tracked {
  cols: Float32Array;
  /** Sample number of the first point of this service. */
  first: number;
  /** ms since the epoch it was last in the desired state. */
  lastSeen: number;
  prev: Counts | undefined;
}

const yieldNow = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * The q-quantile (0..1) of a histogram given by upper `bounds` and `cumulative` counts (one per bound, then +Inf),
 * as PromQL's histogram_quantile: the bucket where the rank falls, interpolated linearly from its lower bound (0
 * for the first) to its upper bound; the +Inf bucket answers the highest finite bound. null for an empty histogram.
 */
export function histogramQuantile(q: number, bounds: readonly number[], cumulative: readonly number[]): number | null {
  const total = cumulative[cumulative.length - 1] ?? 0;
  if (!(total > 0) || bounds.length === 0) return null;
  const rank = q * total;
  let b = 0;
  while (b < cumulative.length - 1 && cumulative[b]! < rank) b++;
  if (b >= bounds.length) return bounds[bounds.length - 1]!;
  const upper = bounds[b]!;
  if (b === 0 && upper <= 0) return upper;
  const lower = b === 0 ? 0 : bounds[b - 1]!;
  const below = b === 0 ? 0 : cumulative[b - 1]!;
  const inBucket = cumulative[b]! - below;
  if (inBucket <= 0) return upper;
  return lower + (upper - lower) * ((rank - below) / inBucket);
}

export class SeriesSampler {
  readonly stepMs: number;
  private readonly capacity: number;
  private readonly maxServices: number;
  private readonly retainMs: number;
  private readonly now: () => number;
  private readonly every: (ms: number, fn: () => void) => () => void;
  /** Sample times (unix seconds), by sample number % capacity. */
  private readonly times: Float64Array;
  /** Samples taken. */
  private seq = 0;
  private readonly tracked = new Map<string, Tracked>();
  /** Per container: its last reading and the CPU rate (cores) of the two last readings. */
  private cpu = new Map<string, { cpuNs: number; readAt: number; cores: number | null }>();
  private running: Promise<void> | null = null;
  private cancel: (() => void) | null = null;
  /** Duration of the last sample, ms (wall time, awaits on the sources included). */
  lastSampleMs = 0;

  constructor(private readonly sources: SeriesSources, opts: SeriesOptions = {}) {
    this.stepMs = opts.stepMs ?? SERIES_STEP_MS;
    this.capacity = opts.capacity ?? SERIES_CAPACITY;
    this.maxServices = opts.maxServices ?? SERIES_MAX_SERVICES;
    this.retainMs = opts.retainMs ?? SERIES_RETAIN_MS;
    this.now = opts.now ?? Date.now;
    this.every = opts.every ?? ((ms, fn) => {
      const timer = setInterval(fn, ms);
      timer.unref();
      return () => clearInterval(timer);
    });
    this.times = new Float64Array(this.capacity);
  }

  /** Samples now, then every step; a sample still running when the next is due makes that one skip. */
  start(): void {
    if (this.cancel) return;
    this.cancel = this.every(this.stepMs, () => void this.sample());
    void this.sample();
  }

  /** Stops the timer and waits for a sample in flight. */
  async stop(): Promise<void> {
    this.cancel?.();
    this.cancel = null;
    await this.running;
  }

  /** Services tracked now. */
  get size(): number {
    return this.tracked.size;
  }

  /** One sample of every tracked service (sources that fail give nulls); at most one at a time. */
  sample(): Promise<void> {
    if (this.running) return this.running;
    const p = this.sampleOnce().catch(() => undefined).finally(() => { this.running = null; });
    this.running = p;
    return p;
  }

  private async sampleOnce(): Promise<void> {
    const started = performance.now();
    const at = this.now();
    const [snap, usage] = await Promise.all([
      this.sources.access ? this.sources.access().catch(() => undefined) : Promise.resolve(undefined),
      this.sources.usage ? this.sources.usage().catch(() => undefined) : Promise.resolve(undefined),
    ]);
    await this.follow(at);
    const access = snap ? await this.accessByService(snap) : undefined;
    const used = usage ? await this.usageByService(usage) : undefined;
    const slot = this.seq % this.capacity;
    this.times[slot] = at / 1000;
    let n = 0;
    for (const [key, tr] of this.tracked) {
      if (++n % YIELD_EVERY === 0) await yieldNow();
      const base = slot * COLUMNS;
      const cols = tr.cols;
      cols.fill(NaN, base, base + COLUMNS);
      if (snap && access) this.point(tr, cols, base, access.get(key), snap.buckets, at);
      const u = used?.get(key);
      if (u) {
        cols[base + MEM] = u.memory;
        if (u.cpu !== null) cols[base + CPU] = u.cpu;
      }
    }
    this.seq++;
    this.lastSampleMs = performance.now() - started;
  }

  /** Writes rps and the quantiles of one service from its counters now and at the previous sample. */
  private point(tr: Tracked, cols: Float32Array, base: number, now: { requests: number; cumulative: number[] } | undefined, bounds: readonly number[], at: number): void {
    if (!now) {
      tr.prev = undefined; // not in the snapshot: a later appearance starts a new baseline
      return;
    }
    const prev = tr.prev;
    tr.prev = { at, requests: now.requests, cumulative: now.cumulative };
    if (!prev || at <= prev.at || prev.cumulative.length !== now.cumulative.length) return;
    const dRequests = now.requests - prev.requests;
    const delta = now.cumulative.map((c, i) => c - prev.cumulative[i]!);
    if (dRequests < 0 || delta.some((d) => d < 0)) return; // a counter reset: no point
    cols[base + RPS] = dRequests / ((at - prev.at) / 1000);
    const p50 = histogramQuantile(0.5, bounds, delta);
    const p95 = histogramQuantile(0.95, bounds, delta);
    if (p50 !== null) cols[base + P50] = p50 * 1000;
    if (p95 !== null) cols[base + P95] = p95 * 1000;
  }

  /** Tracks the services of the desired state, drops the ones gone longer than retainMs, evicts when full. */
  private async follow(at: number): Promise<void> {
    let n = 0;
    const fresh: string[] = [];
    for (const key of this.sources.services()) {
      if (++n % YIELD_EVERY === 0) await yieldNow();
      const tr = this.tracked.get(key);
      if (tr) tr.lastSeen = at;
      else if (fresh.length < this.maxServices) fresh.push(key);
    }
    const gone: [string, number][] = [];
    for (const [key, tr] of this.tracked) {
      if (tr.lastSeen === at) continue;
      if (at - tr.lastSeen > this.retainMs) this.tracked.delete(key);
      else gone.push([key, tr.lastSeen]);
    }
    if (!fresh.length) return;
    gone.sort((a, b) => a[1] - b[1]);
    let evict = 0;
    for (const key of fresh) {
      if (this.tracked.has(key)) continue; // listed twice
      if (this.tracked.size >= this.maxServices) {
        const victim = gone[evict++];
        if (!victim) break; // full of services in the desired state: the rest are not tracked
        this.tracked.delete(victim[0]);
      }
      this.tracked.set(key, { cols: new Float32Array(this.capacity * COLUMNS).fill(NaN), first: this.seq, lastSeen: at, prev: undefined });
    }
  }

  /** Request counts and cumulative duration buckets of the tracked services, summed over the HTTP listeners. */
  private async accessByService(snap: AccessSnapshot): Promise<Map<string, { requests: number; cumulative: number[] }>> {
    const out = new Map<string, { requests: number; cumulative: number[] }>();
    const width = snap.buckets.length + 1;
    let n = 0;
    for (const l of snap.listeners) {
      if (l.mode !== 'http') continue;
      for (const s of l.services) {
        if (++n % YIELD_EVERY === 0) await yieldNow();
        if (!this.tracked.has(s.service)) continue;
        let into = out.get(s.service);
        if (!into) out.set(s.service, (into = { requests: 0, cumulative: new Array<number>(width).fill(0) }));
        for (const v of Object.values(s.requests)) into.requests += v;
        for (let i = 0; i < snap.buckets.length; i++) into.cumulative[i]! += s.duration.buckets[i] ?? s.duration.count;
        into.cumulative[width - 1]! += s.duration.count;
      }
    }
    return out;
  }

  /** Memory and CPU (cores) per tracked service, summed over its replicas; the CPU rates per container kept. */
  private async usageByService(rows: Iterable<UsageRow>): Promise<Map<string, { memory: number; cpu: number | null }>> {
    const out = new Map<string, { memory: number; cpu: number | null }>();
    const cpu = new Map<string, { cpuNs: number; readAt: number; cores: number | null }>();
    let n = 0;
    for (const r of rows) {
      if (++n % YIELD_EVERY === 0) await yieldNow();
      const prev = this.cpu.get(r.id);
      let cores: number | null = null;
      if (prev && r.stats.readAt === prev.readAt) cores = prev.cores;
      else if (prev && r.stats.readAt > prev.readAt && r.stats.cpuNs >= prev.cpuNs) cores = (r.stats.cpuNs - prev.cpuNs) / 1e6 / (r.stats.readAt - prev.readAt);
      cpu.set(r.id, { cpuNs: r.stats.cpuNs, readAt: r.stats.readAt, cores });
      if (!this.tracked.has(r.service)) continue;
      let into = out.get(r.service);
      if (!into) out.set(r.service, (into = { memory: 0, cpu: null }));
      into.memory += r.stats.memoryBytes;
      if (cores !== null) into.cpu = (into.cpu ?? 0) + cores;
    }
    this.cpu = cpu; // containers no longer running are forgotten
    return out;
  }

  /** True when `service` is tracked. */
  has(service: string): boolean {
    return this.tracked.has(service);
  }

  /** The points of `service` from `sinceMs` ago (default: all kept), oldest first; undefined when not tracked. */
  series(service: string, sinceMs?: number): SeriesColumns | undefined {
    const tr = this.tracked.get(service);
    if (!tr) return undefined;
    const out: SeriesColumns = { service, stepMs: this.stepMs, t: [], rps: [], p50: [], p95: [], cpu: [], memory: [] };
    const from = Math.max(tr.first, this.seq - this.capacity);
    const after = sinceMs === undefined ? -Infinity : (this.now() - sinceMs) / 1000;
    // float32 holds about 7 significant digits: answer those, not the binary noise after them
    const v = (x: number): number | null => (Number.isNaN(x) ? null : Number(x.toPrecision(7)));
    for (let i = from; i < this.seq; i++) {
      const slot = i % this.capacity;
      const t = this.times[slot]!;
      if (t < after) continue;
      const base = slot * COLUMNS;
      out.t.push(t);
      out.rps.push(v(tr.cols[base + RPS]!));
      out.p50.push(v(tr.cols[base + P50]!));
      out.p95.push(v(tr.cols[base + P95]!));
      out.cpu.push(v(tr.cols[base + CPU]!));
      out.memory.push(v(tr.cols[base + MEM]!));
    }
    return out;
  }
}

/** How often the container usage reader may read the engines for a sampler of `stepMs`: 15 s, or a shorter step's. */
export function usageIntervalFor(stepMs: number, usageIntervalMs: number): number {
  return stepMs < SERIES_STEP_MS ? Math.min(stepMs, usageIntervalMs) : usageIntervalMs;
}
