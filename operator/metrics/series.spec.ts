import { monitorEventLoopDelay } from 'node:perf_hooks';
import { describe, expect, it } from 'vitest';
import { DURATION_BUCKETS_S, type AccessSnapshot, type ServiceAccessSnapshot } from '../proxy/access-stats.ts';
import { histogramQuantile, SeriesSampler, usageIntervalFor, type UsageRow } from './series.ts';

const T0 = 1_700_000_000_000;

/** Cumulative buckets (one per DURATION_BUCKETS_S bound, then +Inf) from per-bucket counts by bound index (11 = +Inf). */
function cumulative(perBucket: Record<number, number>): number[] {
  let c = 0;
  return Array.from({ length: DURATION_BUCKETS_S.length + 1 }, (_, i) => (c += perBucket[i] ?? 0));
}

function svc(service: string, requests: number, perBucket: Record<number, number> = {}): ServiceAccessSnapshot {
  const buckets = cumulative(perBucket);
  const count = buckets[buckets.length - 1]!;
  return { service, inFlight: 0, connections: 0, requests: requests ? { '2xx/upstream': requests } : {}, duration: { buckets, sum: 0, count }, bytes: { in: 0, out: 0 }, endpoints: {} };
}

function snapshot(...services: ServiceAccessSnapshot[]): AccessSnapshot {
  return { buckets: DURATION_BUCKETS_S, listeners: [{ listener: '127.0.0.1:8080', mode: 'http', services }] };
}

/** A sampler on a fake clock, fake sources, and a fake timer. */
function harness(opts: { services?: string[]; capacity?: number; maxServices?: number } = {}) {
  const state = {
    now: T0,
    services: opts.services ?? ['shop/web'],
    access: undefined as AccessSnapshot | undefined,
    usage: [] as UsageRow[],
    ticks: [] as (() => void)[],
  };
  const sampler = new SeriesSampler({
    services: () => state.services,
    access: async () => state.access,
    usage: async () => state.usage,
  }, {
    now: () => state.now, ...(opts.capacity ? { capacity: opts.capacity } : {}), ...(opts.maxServices ? { maxServices: opts.maxServices } : {}),
    every: (_ms, fn) => { state.ticks.push(fn); return () => { state.ticks = []; }; },
  });
  /** Moves the clock one step (10 s) and samples. */
  const step = async (ms = 10_000) => {
    state.now += ms;
    await sampler.sample();
  };
  return { state, sampler, step };
}

describe('histogramQuantile', () => {
  const bounds = [0.005, 0.01, 0.025];
  it('interpolates within the bucket as PromQL does', () => {
    // 2 requests <= 5 ms, 6 in (5, 10], 2 in (10, 25]: rank 5 falls in (5, 10] at 3/6 -> 7.5 ms;
    // rank 9.5 in (10, 25] at 1.5/2 -> 10 + 15 * 0.75 = 21.25 ms
    const c = [2, 8, 10, 10];
    expect(histogramQuantile(0.5, bounds, c)! * 1000).toBeCloseTo(7.5, 9);
    expect(histogramQuantile(0.95, bounds, c)! * 1000).toBeCloseTo(21.25, 9);
    // the first bucket starts at 0: rank 1 of 4 in [0, 5] -> 1.25 ms
    expect(histogramQuantile(0.25, bounds, [4, 4, 4, 4])! * 1000).toBeCloseTo(1.25, 9);
  });
  it('answers the highest finite bound in the +Inf bucket, and null when empty', () => {
    expect(histogramQuantile(0.5, bounds, [0, 0, 0, 3])).toBe(0.025);
    expect(histogramQuantile(0.5, bounds, [0, 0, 0, 0])).toBeNull();
  });
});

describe('SeriesSampler', () => {
  it('gives requests per second and the quantiles of the step from counter deltas', async () => {
    const h = harness();
    h.state.access = snapshot(svc('shop/web', 100, { 0: 100 }));
    await h.sampler.sample(); // the first sample is the baseline: no rate yet
    // 50 more requests in 10 s: 10 <= 5 ms, 30 in (5, 10], 10 in (10, 25]
    h.state.access = snapshot(svc('shop/web', 150, { 0: 110, 1: 30, 2: 10 }));
    await h.step();
    const s = h.sampler.series('shop/web')!;
    expect(s.t).toEqual([T0 / 1000, T0 / 1000 + 10]);
    expect(s.stepMs).toBe(10_000);
    expect(s.rps).toEqual([null, 5]);
    // p50: rank 25 in (5, 10]: 5 + 5 * (15 / 30) = 7.5 ms; p95: rank 47.5 in (10, 25]: 10 + 15 * (7.5 / 10) = 21.25 ms
    expect(s.p50[0]).toBeNull();
    expect(s.p50[1]).toBeCloseTo(7.5, 4);
    expect(s.p95[1]).toBeCloseTo(21.25, 4);
  });

  it('sums the HTTP listeners of a service and ignores TCP ones', async () => {
    const h = harness();
    const both = (n: number): AccessSnapshot => ({
      buckets: DURATION_BUCKETS_S,
      listeners: [
        { listener: 'a:1', mode: 'http', services: [svc('shop/web', n, { 1: n })] },
        { listener: 'b:2', mode: 'http', services: [svc('shop/web', n, { 1: n })] },
        { listener: 'c:3', mode: 'tcp', services: [svc('shop/web', 1000 * n, { 10: 1000 * n })] },
      ],
    });
    h.state.access = both(0);
    await h.sampler.sample();
    h.state.access = both(10);
    await h.step();
    const s = h.sampler.series('shop/web')!;
    expect(s.rps[1]).toBe(2);
    expect(s.p50[1]).toBeCloseTo(7.5, 4); // all 20 in (5, 10]: rank 10 of 20 -> the middle
  });

  it('treats a counter reset as no data, not a negative rate', async () => {
    const h = harness();
    h.state.access = snapshot(svc('shop/web', 100, { 0: 100 }));
    await h.sampler.sample();
    h.state.access = snapshot(svc('shop/web', 20, { 0: 20 })); // the proxy process restarted
    await h.step();
    h.state.access = snapshot(svc('shop/web', 40, { 0: 40 }));
    await h.step();
    const s = h.sampler.series('shop/web')!;
    expect(s.rps).toEqual([null, null, 2]);
    expect(s.p50[1]).toBeNull();
    expect(s.p50[2]).toBeCloseTo(2.5, 4);
  });

  it('writes null where there is no data: no request in the step, no proxy answer, no reading', async () => {
    const h = harness();
    h.state.access = snapshot(svc('shop/web', 10, { 0: 10 }));
    await h.sampler.sample();
    await h.step(); // same counters: rate 0, no quantile
    h.state.access = undefined; // the proxy process did not answer
    await h.step();
    h.state.access = snapshot(svc('shop/web', 30, { 0: 30 }));
    await h.step(); // the delta spans the two steps since the last answer: 20 / 20 s
    h.state.access = snapshot(); // the service is not in the snapshot
    await h.step();
    const s = h.sampler.series('shop/web')!;
    expect(s.rps).toEqual([null, 0, null, 1, null]);
    expect(s.p50).toEqual([null, null, null, expect.any(Number), null]);
    expect(s.p95[1]).toBeNull();
    expect(s.cpu).toEqual([null, null, null, null, null]);
    expect(s.memory).toEqual([null, null, null, null, null]);
    expect(h.sampler.series('shop/other')).toBeUndefined();
  });

  it('gives CPU in cores and memory in bytes summed over the replicas', async () => {
    const h = harness({ services: ['shop/web', 'shop/db'] });
    const reading = (at: number, cpuA: number, cpuB: number): UsageRow[] => [
      { id: 'a', service: 'shop/web', stats: { cpuNs: cpuA, memoryBytes: 1_000_000, readAt: at } },
      { id: 'b', service: 'shop/web', stats: { cpuNs: cpuB, memoryBytes: 3_000_000, readAt: at } },
      { id: 'c', service: 'shop/db', stats: { cpuNs: 0, memoryBytes: 5_000_000, readAt: at } },
    ];
    h.state.usage = reading(T0, 1e9, 2e9);
    await h.sampler.sample();
    h.state.usage = reading(T0 + 10_000, 1e9 + 5e9, 2e9 + 2.5e9); // a: 0.5 core, b: 0.25 core over 10 s
    await h.step();
    await h.step(); // the same reading again (the reader reads at most every 15 s): the same rate
    h.state.usage = [...reading(T0 + 30_000, 1e9 + 5e9, 2e9 + 2.5e9).slice(0, 1), { id: 'b', service: 'shop/web', stats: { cpuNs: 1e8, memoryBytes: 2_000_000, readAt: T0 + 30_000 } }];
    await h.step(); // a idle; b restarted (its counter went down): its rate is unknown, a's is 0
    const web = h.sampler.series('shop/web')!;
    expect(web.cpu[0]).toBeNull();
    expect(web.cpu[1]).toBeCloseTo(0.75, 5);
    expect(web.cpu[2]).toBeCloseTo(0.75, 5);
    expect(web.cpu[3]).toBe(0);
    expect(web.memory).toEqual([4_000_000, 4_000_000, 4_000_000, 3_000_000]);
    const db = h.sampler.series('shop/db')!;
    expect(db.cpu).toEqual([null, 0, 0, null]);
    expect(db.memory).toEqual([5_000_000, 5_000_000, 5_000_000, null]);
  });

  it('keeps the last `capacity` points and filters by since', async () => {
    const h = harness();
    await h.sampler.sample();
    for (let i = 1; i < 400; i++) await h.step();
    const s = h.sampler.series('shop/web')!;
    expect(s.t).toHaveLength(360);
    expect(s.t[0]).toBe(T0 / 1000 + 40 * 10);
    expect(s.t[359]).toBe(T0 / 1000 + 399 * 10);
    for (const col of [s.rps, s.p50, s.p95, s.cpu, s.memory]) expect(col).toHaveLength(360);
    const recent = h.sampler.series('shop/web', 60_000)!;
    expect(recent.t).toEqual([0, 1, 2, 3, 4, 5, 6].map((i) => T0 / 1000 + (393 + i) * 10));
  });

  it('starts a new service at its first sample, and drops one gone from the desired state for more than an hour', async () => {
    const h = harness();
    await h.sampler.sample();
    h.state.services = ['shop/web', 'shop/db'];
    await h.step();
    expect(h.sampler.series('shop/db')!.t).toEqual([T0 / 1000 + 10]);
    h.state.services = ['shop/web'];
    h.state.access = snapshot(svc('shop/db', 0));
    for (let i = 0; i < 360; i++) await h.step(); // exactly an hour gone: still kept
    expect(h.sampler.has('shop/db')).toBe(true);
    await h.step();
    expect(h.sampler.has('shop/db')).toBe(false);
    expect(h.sampler.series('shop/db')).toBeUndefined();
    expect(h.sampler.size).toBe(1);
  });

  it('tracks at most maxServices, evicting the longest gone first', async () => {
    const h = harness({ services: ['a/1', 'a/2', 'a/3'], maxServices: 3 });
    await h.sampler.sample();
    h.state.services = ['a/2', 'a/3'];
    await h.step();
    h.state.services = ['a/3'];
    await h.step();
    h.state.services = ['a/3', 'a/4', 'a/5', 'a/6']; // a/1 (gone longest) then a/2 make room; a/6 finds none
    await h.step();
    expect(['a/1', 'a/2', 'a/3', 'a/4', 'a/5', 'a/6'].filter((k) => h.sampler.has(k))).toEqual(['a/3', 'a/4', 'a/5']);
    expect(h.sampler.size).toBe(3);
  });

  it('samples at start and at every tick, one sample at a time, and stops', async () => {
    const h = harness();
    h.sampler.start();
    await h.sampler.sample(); // joins the sample start() began
    expect(h.sampler.series('shop/web')!.t).toHaveLength(1);
    expect(h.state.ticks).toHaveLength(1);
    h.state.now += 10_000;
    h.state.ticks[0]!();
    await h.sampler.sample();
    expect(h.sampler.series('shop/web')!.t).toHaveLength(2);
    await h.sampler.stop();
    expect(h.state.ticks).toHaveLength(0);
  });

  it('reads container stats as often as a step shorter than the default, 15 s otherwise', () => {
    expect(usageIntervalFor(10_000, 15_000)).toBe(15_000);
    expect(usageIntervalFor(60_000, 15_000)).toBe(15_000);
    expect(usageIntervalFor(500, 15_000)).toBe(500);
  });

  it('costs little per sample with 200 services (measured, printed, not asserted)', async () => {
    const keys = Array.from({ length: 200 }, (_, i) => `ns${i % 10}/svc${i}`);
    const h = harness({ services: keys });
    let n = 0;
    const build = () => {
      n++;
      h.state.access = { buckets: DURATION_BUCKETS_S, listeners: [{ listener: '0.0.0.0:80', mode: 'http', services: keys.map((k) => svc(k, n * 10, { 0: n * 5, 3: n * 5 })) }] };
      h.state.usage = keys.flatMap((k, i) => [0, 1].map((r) => ({ id: `${i}-${r}`, service: k, stats: { cpuNs: n * 1e8, memoryBytes: 50e6, readAt: T0 + n * 10_000 } })));
    };
    build();
    await h.sampler.sample();
    const samples = 50;
    const took: number[] = [];
    const loop = monitorEventLoopDelay({ resolution: 1 });
    loop.enable();
    for (let i = 0; i < samples; i++) {
      build();
      await h.step();
      took.push(h.sampler.lastSampleMs);
    }
    loop.disable();
    took.sort((a, b) => a - b);
    const mean = took.reduce((a, b) => a + b, 0) / samples;
    // the longest synchronous stretch is a chunk of YIELD_EVERY items (the sampler yields between chunks)
    console.log(`series sample, 200 services (400 replicas): mean ${mean.toFixed(3)} ms, median ${took[samples >> 1]!.toFixed(3)} ms, worst ${took[samples - 1]!.toFixed(3)} ms over ${samples} samples; event-loop delay max ${(loop.max / 1e6).toFixed(1)} ms`);
    const s = h.sampler.series(keys[199]!)!;
    expect(s.rps[s.rps.length - 1]).toBe(1);
    expect(s.memory[s.memory.length - 1]).toBe(100e6);
    expect(s.cpu[s.cpu.length - 1]).toBeCloseTo(0.02, 6);
  });
});
