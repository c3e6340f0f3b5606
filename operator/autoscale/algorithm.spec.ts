import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_SCALE_DOWN,
  DEFAULT_SCALE_UP,
  decide,
  initialState,
  type AutoscalePolicy,
  type AutoscaleState,
  type Decision,
  type MetricTarget,
  type Observation,
  type StepBehavior,
} from './algorithm.ts';

const CPU70: MetricTarget = { type: 'cpu', percent: 70 };
const NO_WINDOW_DOWN: StepBehavior = { ...DEFAULT_SCALE_DOWN, stabilizationMs: 0 };

function policy(over: Partial<AutoscalePolicy> = {}): AutoscalePolicy {
  return { min: 1, max: 20, metrics: [CPU70], scaleUp: DEFAULT_SCALE_UP, scaleDown: DEFAULT_SCALE_DOWN, ...over };
}

/** `n` ready replicas at `cpu` % of their request. */
function cpu(n: number, percent: number | undefined, ready = true): Observation['replicas'] {
  return Array.from({ length: n }, () => ({ ready, cpuPercent: percent }));
}

function obs(over: Partial<Observation> & { current: number }): Observation {
  return { now: 1_000_000, replicas: [], ...over };
}

function once(p: AutoscalePolicy, o: Observation, state: AutoscaleState = initialState()): Decision {
  return decide(p, state, o).decision;
}

/** Decides at `times` (ms) with the observation `at(t, current)`, feeding each desired back as the next current. */
function run(p: AutoscalePolicy, start: number, times: number[], at: (t: number, current: number) => Omit<Observation, 'now' | 'current'>) {
  let state = initialState();
  let current = start;
  const out: { t: number; current: number; decision: Decision; before: AutoscaleState; after: AutoscaleState }[] = [];
  for (const t of times) {
    const r = decide(p, state, { ...at(t, current), now: t, current });
    out.push({ t, current, decision: r.decision, before: state, after: r.state });
    state = r.state;
    current = r.decision.desired;
  }
  return out;
}

const every15s = (from: number, to: number): number[] => Array.from({ length: Math.floor((to - from) / 15_000) + 1 }, (_, i) => from + i * 15_000);

describe('cpu / memory utilization (the HPA ratio)', () => {
  it('the HPA doc examples: double at twice the target, halve at half of it', () => {
    expect(once(policy(), obs({ current: 4, replicas: cpu(4, 140) })).desired).toBe(8);
    expect(once(policy(), obs({ current: 4, replicas: cpu(4, 35) })).desired).toBe(2);
  });

  it('proposal = ceil(ratio × replicas counted), with an informative reason and reading', () => {
    const d = once(policy(), obs({ current: 3, replicas: cpu(3, 142) }));
    expect(d.desired).toBe(7);
    expect(d.reason).toBe('cpu 142 % of target 70 % over 3 ready replicas -> 7');
    expect(d.readings).toEqual([{ metric: 'cpu', value: 142, target: 70, proposal: 7 }]);
    expect(d.limitedBy).toBeUndefined();
  });

  it('within the 10 % tolerance nothing changes', () => {
    const d = once(policy(), obs({ current: 3, replicas: cpu(3, 76) }));
    expect(d).toMatchObject({ desired: 3, limitedBy: 'tolerance' });
    expect(d.reason).toBe('cpu 76 % of target 70 % over 3 ready replicas (within tolerance) -> 3');
    expect(once(policy(), obs({ current: 3, replicas: cpu(3, 64) })).desired).toBe(3);
    expect(once(policy(), obs({ current: 3, replicas: cpu(3, 78) })).desired).toBe(4); // ratio 1.114
    expect(once(policy(), obs({ current: 10, replicas: cpu(10, 62) })).desired).toBe(9); // ratio 0.886
  });

  it('scale up: unready replicas and replicas without a sample count as 0 %', () => {
    const d = once(policy(), obs({ current: 5, replicas: [...cpu(3, 140), ...cpu(1, 10, false), { ready: true }] }));
    // ratio 2 over 3 ready; recomputed (420 + 0 + 0) / 5 = 84 % -> ratio 1.2 -> ceil(1.2 × 5) = 6
    expect(d.desired).toBe(6);
    expect(d.reason).toBe('cpu 140 % of target 70 % over 3 ready replicas; counting 1 replica without a sample at 0 % and 1 not ready at 0 %: 84 % -> 6');
  });

  it('scale up with unready replicas that flips to a scale down keeps the count', () => {
    const d = once(policy(), obs({ current: 3, replicas: [...cpu(1, 84), ...cpu(2, 90, false)] }));
    // 84 / 70 = 1.2 says up; with the 2 unready at 0 %: 28 % -> 0.4 says down -> keep
    expect(d).toMatchObject({ desired: 3, limitedBy: 'tolerance' });
    expect(d.reason).toContain('direction flips');
  });

  it('scale down: replicas without a sample count as 100 % (or the target when it is higher); unready ones are left out', () => {
    // 35 % over 3, the 4th at 100 %: (105 + 100) / 4 = 51.25 % -> ratio 0.732 -> ceil(2.93) = 3 (not 2)
    expect(once(policy(), obs({ current: 4, replicas: [...cpu(3, 35), { ready: true }] })).desired).toBe(3);
    expect(once(policy(), obs({ current: 3, replicas: cpu(3, 35) })).desired).toBe(2);
    // 50 % (ratio 0.71), three missing at 100 %: 87.5 % -> ratio 1.25 flips -> keep
    expect(once(policy(), obs({ current: 4, replicas: [...cpu(1, 50), { ready: true }, { ready: false }, { ready: true }] })).desired).toBe(4);
    // target 150 %: missing replicas count at 150 %: (60 + 300) / 3 = 120 -> ratio 0.8 -> ceil(2.4) = 3 (at 100 % it would be 2)
    const hi = policy({ metrics: [{ type: 'cpu', percent: 150 }] });
    const d = once(hi, obs({ current: 3, replicas: [...cpu(1, 60), { ready: true }, { ready: true }] }));
    expect(d.desired).toBe(3);
    expect(d.reason).toBe('cpu 60 % of target 150 % over 1 ready replica; counting 2 replicas without a sample at 150 %: 120 % -> 3');
    // unready replicas (even busy ones) are left out of a scale down
    expect(once(policy(), obs({ current: 4, replicas: [...cpu(2, 35), ...cpu(2, 300, false)] })).desired).toBe(1);
  });

  it('memory counts unready replicas (the HPA sets aside unready pods for cpu only)', () => {
    const mem = policy({ metrics: [{ type: 'memory', percent: 70 }] });
    const d = once(mem, obs({ current: 2, replicas: [{ ready: true, memoryPercent: 140 }, { ready: false, memoryPercent: 140 }] }));
    expect(d.desired).toBe(4);
    expect(d.reason).toBe('memory 140 % of target 70 % over 2 replicas -> 4');
  });

  it('no ready replica with a sample -> no proposal, and the count stays', () => {
    const d = once(policy(), obs({ current: 3, replicas: [...cpu(2, undefined), ...cpu(1, 300, false)] }));
    expect(d).toMatchObject({ desired: 3, limitedBy: 'no-metrics' });
    expect(d.readings).toEqual([{ metric: 'cpu', value: undefined, target: 70, proposal: undefined }]);
    expect(d.reason).toBe('no metrics (cpu: no sample from a ready replica) -> stays at 3');
  });
});

describe('request metrics at the proxy', () => {
  const traffic = (requestsPerSecond: number, inFlight = 0, latencyP95Ms?: number) => ({ requestsPerSecond, inFlight, latencyP95Ms, lastRequestAt: 999_000 });

  it('requestsPerSecond: ceil(total / target) unless within tolerance', () => {
    const rps = policy({ metrics: [{ type: 'requestsPerSecond', value: 50 }] });
    const d = once(rps, obs({ current: 2, traffic: traffic(24) }));
    expect(d.desired).toBe(1);
    expect(d.reason).toBe('requestsPerSecond 12.0 per replica (target 50) -> 1');
    expect(d.readings).toEqual([{ metric: 'requestsPerSecond', value: 12, target: 50, proposal: 1 }]);
    expect(once(rps, obs({ current: 2, traffic: traffic(105) }))).toMatchObject({ desired: 2, limitedBy: 'tolerance' });
    expect(once(rps, obs({ current: 2, traffic: traffic(230) })).desired).toBe(5);
  });

  it('concurrency: ceil(in flight / target)', () => {
    const c = policy({ metrics: [{ type: 'concurrency', value: 10 }] });
    const d = once(c, obs({ current: 2, traffic: traffic(100, 35) }));
    expect(d.desired).toBe(4);
    expect(d.reason).toBe('concurrency 17.5 in flight per replica (target 10) -> 4');
  });

  it('latencyP95: up in proportion above the target (at least +1), -1 below half of it, else stays', () => {
    const l = policy({ metrics: [{ type: 'latencyP95', ms: 200 }] });
    expect(once(l, obs({ current: 2, traffic: traffic(10, 1, 300) })).desired).toBe(3);
    expect(once(l, obs({ current: 4, traffic: traffic(10, 1, 300) })).desired).toBe(6);
    expect(once(l, obs({ current: 2, traffic: traffic(10, 1, 221) })).desired).toBe(3);
    expect(once(l, obs({ current: 2, traffic: traffic(10, 1, 215) }))).toMatchObject({ desired: 2, limitedBy: 'tolerance' });
    expect(once(l, obs({ current: 3, traffic: traffic(10, 1, 90) })).desired).toBe(2);
    expect(once(l, obs({ current: 3, traffic: traffic(10, 1, 90) })).reason).toBe('latencyP95 90 ms (target 200 ms) -> 2');
  });

  it('no requests: latency has nothing to say; no traffic data: no request metric has', () => {
    const l = policy({ metrics: [{ type: 'latencyP95', ms: 200 }] });
    expect(once(l, obs({ current: 3, traffic: traffic(0, 0, 900) }))).toMatchObject({ desired: 3, limitedBy: 'no-metrics', reason: 'no metrics (latencyP95: no requests) -> stays at 3' });
    const all = policy({ metrics: [{ type: 'requestsPerSecond', value: 5 }, { type: 'concurrency', value: 5 }, { type: 'latencyP95', ms: 200 }] });
    const d = once(all, obs({ current: 3 }));
    expect(d).toMatchObject({ desired: 3, limitedBy: 'no-metrics' });
    expect(d.readings.map((r) => r.proposal)).toEqual([undefined, undefined, undefined]);
  });
});

describe('several metrics', () => {
  const both = policy({ metrics: [CPU70, { type: 'requestsPerSecond', value: 50 }] });

  it('the largest proposal wins', () => {
    const d = once(both, obs({ current: 4, replicas: cpu(4, 35), traffic: { requestsPerSecond: 240, inFlight: 3 } }));
    expect(d.desired).toBe(5);
    expect(d.reason).toBe('requestsPerSecond 60.0 per replica (target 50) -> 5 (largest of cpu 2, requestsPerSecond 5)');
    expect(d.readings.map((r) => r.proposal)).toEqual([2, 5]);
  });

  it('a metric without data blocks a scale down but not a scale up (the HPA rule)', () => {
    const down = once(both, obs({ current: 4, replicas: cpu(4, 35) }));
    expect(down).toMatchObject({ desired: 4, limitedBy: 'no-metrics' });
    expect(down.reason).toBe('cpu 35 % of target 70 % over 4 ready replicas -> 2, but no scale down while a metric has no data (requestsPerSecond: the proxy did not answer) -> stays at 4');
    expect(once(both, obs({ current: 4, replicas: cpu(4, 140) })).desired).toBe(8);
  });
});

describe('stabilization windows', () => {
  it('a load drop scales down only after the 5 minute window, which nextScaleDownAt announces', () => {
    const times = every15s(0, 330_000);
    const r = run(policy(), 10, times, (t) => ({ replicas: cpu(10, t === 0 ? 70 : 21) }));
    expect(r[0]!.decision).toMatchObject({ desired: 10, limitedBy: 'tolerance' });
    expect(r[1]!.decision).toMatchObject({ desired: 10, limitedBy: 'stabilization', nextScaleDownAt: 300_000 });
    expect(r[1]!.decision.reason).toBe('cpu 21 % of target 70 % over 10 ready replicas -> 3, held by the highest recommendation of the last 5m -> 10');
    const at = (t: number) => r.find((x) => x.t === t)!.decision;
    expect(at(285_000).desired).toBe(10);
    expect(at(300_000)).toMatchObject({ desired: 3 });
    expect(at(300_000).nextScaleDownAt).toBeUndefined();
    expect(r.filter((x) => x.decision.desired !== x.current)).toHaveLength(1);
  });

  it('the scale-down window takes the highest recommendation: a falling load steps down through the peaks of the window', () => {
    const p = policy({ scaleDown: { ...DEFAULT_SCALE_DOWN, stabilizationMs: 60_000 } });
    let s = initialState();
    const step = (now: number, current: number, pct: number) => {
      const r = decide(p, s, obs({ now, current, replicas: cpu(current, pct) }));
      s = r.state;
      return r.decision;
    };
    expect(step(0, 10, 70).desired).toBe(10); // rec 10
    expect(step(20_000, 10, 42).desired).toBe(10); // rec 6, window max 10
    expect(step(40_000, 10, 28)).toMatchObject({ desired: 10, nextScaleDownAt: 60_000 }); // rec 4
    const d = step(60_000, 10, 28); // 10 left the window; the highest left is 6
    expect(d).toMatchObject({ desired: 6, limitedBy: 'stabilization', nextScaleDownAt: 80_000 });
  });

  it('the scale-up window takes the lowest recommendation', () => {
    const p = policy({ scaleUp: { ...DEFAULT_SCALE_UP, stabilizationMs: 60_000 } });
    const r = run(p, 3, every15s(0, 75_000), (t) => ({ replicas: cpu(3, t === 0 ? 70 : 140) }));
    expect(r.map((x) => x.decision.desired)).toEqual([3, 3, 3, 3, 6, 6]);
    expect(r[1]!.decision).toMatchObject({ limitedBy: 'stabilization' });
    expect(r[1]!.decision.reason).toBe('cpu 140 % of target 70 % over 3 ready replicas -> 6, held by the lowest recommendation of the last 1m -> 3');
  });

  it('history older than the longest window is pruned', () => {
    const p = policy({ scaleDown: NO_WINDOW_DOWN, scaleUp: { ...DEFAULT_SCALE_UP, stabilizationMs: 30_000 } });
    const old: AutoscaleState = { recommendations: [{ at: 0, replicas: 9 }, { at: 50_000, replicas: 4 }], events: [{ at: 0, from: 1, to: 3 }, { at: 60_000, from: 3, to: 4 }] };
    const { state } = decide(p, old, obs({ now: 70_000, current: 4, replicas: cpu(4, 70) }));
    expect(state).toEqual({ recommendations: [{ at: 50_000, replicas: 4 }, { at: 70_000, replicas: 4 }], events: [{ at: 60_000, from: 3, to: 4 }] });
  });
});

describe('step limits', () => {
  it('the HPA default: +4 or +100 % per 15 s, whichever is more', () => {
    const small = once(policy(), obs({ current: 2, replicas: cpu(2, 280) }));
    expect(small).toMatchObject({ desired: 6, limitedBy: 'step' });
    expect(small.reason).toBe('cpu 280 % of target 70 % over 2 ready replicas -> 8, capped at +4 per 15s -> 6');
    const big = once(policy({ max: 50 }), obs({ current: 10, replicas: cpu(10, 280) }));
    expect(big).toMatchObject({ desired: 20, limitedBy: 'step' });
    expect(big.reason).toBe('cpu 280 % of target 70 % over 10 ready replicas -> 40, capped at +10 per 15s -> 20');
  });

  it('the limit counts from the count at the start of the period', () => {
    const r = run(policy({ max: 50 }), 2, [0, 5_000, 10_000, 15_000, 30_000, 45_000], () => ({ replicas: cpu(10, 280) })); // proposal 40
    expect(r.map((x) => x.decision.desired)).toEqual([6, 6, 6, 12, 24, 40]);
    expect(r[1]!.decision).toMatchObject({ limitedBy: 'step' });
    expect(r[1]!.decision.reason).toContain('capped at +4 per 15s from 2 -> 6');
  });

  it('the HPA doc scale-down example: 10 % or 4 pods per minute, percent rounded up', () => {
    const p = policy({ max: 100, scaleDown: { stabilizationMs: 0, maxStepPercent: 10, maxStepReplicas: 4, periodMs: 60_000 } });
    const r = run(p, 80, [0, 30_000, 60_000, 120_000], (_, current) => ({ replicas: cpu(current, 7) })); // wants 10 % of the count
    expect(r.map((x) => x.decision.desired)).toEqual([72, 72, 64, 57]);
    expect(r[0]!.decision.reason).toContain('capped at -8 per 1m -> 72');
  });

  it('a step limit of 0 freezes the direction; the scale-down default (100 %) goes straight down', () => {
    const frozen = policy({ scaleUp: { ...DEFAULT_SCALE_UP, maxStepPercent: 0, maxStepReplicas: 0 } });
    expect(once(frozen, obs({ current: 3, replicas: cpu(3, 300) }))).toMatchObject({ desired: 3, limitedBy: 'step' });
    expect(once(policy({ scaleDown: NO_WINDOW_DOWN }), obs({ current: 20, replicas: cpu(20, 3) })).desired).toBe(1);
  });
});

describe('min / max', () => {
  it('clamps the proposal', () => {
    expect(once(policy({ max: 5 }), obs({ current: 4, replicas: cpu(4, 140) }))).toMatchObject({ desired: 5, limitedBy: 'max', reason: 'cpu 140 % of target 70 % over 4 ready replicas -> 8, max 5 -> 5' });
    expect(once(policy({ min: 3 }), obs({ current: 4, replicas: cpu(4, 10) }))).toMatchObject({ desired: 3, limitedBy: 'min' });
  });

  it('a count outside the bounds (the policy changed) goes to the nearest bound at once', () => {
    expect(once(policy({ max: 5 }), obs({ current: 9 }))).toMatchObject({ desired: 5, limitedBy: 'max', reason: '9 replicas above max 5 -> 5' });
    expect(once(policy({ min: 2 }), obs({ current: 1 }))).toMatchObject({ desired: 2, limitedBy: 'min', reason: '1 replica below min 2 -> 2' });
  });
});

describe('scale to zero and wake up', () => {
  const zero = policy({ min: 0, metrics: [{ type: 'requestsPerSecond', value: 10 }], scaleToZeroAfterMs: 300_000, scaleDown: NO_WINDOW_DOWN });
  const quiet = (lastRequestAt: number, inFlight = 0) => ({ requestsPerSecond: 0, inFlight, lastRequestAt });

  it('idle for scaleToZeroAfterMs -> 0, bypassing the windows', () => {
    const p = { ...zero, scaleDown: DEFAULT_SCALE_DOWN };
    const busy = decide(p, initialState(), obs({ now: 0, current: 3, traffic: { requestsPerSecond: 25, inFlight: 2, lastRequestAt: 0 } }));
    const d = decide(p, busy.state, obs({ now: 300_000, current: 3, traffic: quiet(0) }));
    expect(d.decision).toMatchObject({ desired: 0, reason: 'idle for 5m -> 0 (scale to zero)' });
    expect(d.decision.limitedBy).toBeUndefined();
    expect(d.state.events.at(-1)).toEqual({ at: 300_000, from: 3, to: 0 });
    expect(once(p, obs({ now: 400_000, current: 0, traffic: quiet(0) })).reason).toBe('idle for 6m40s -> stays at 0 (scaled to zero)');
  });

  it('before the idle time, with requests in flight, without traffic data or with min 1, a proposal of 0 stays at 1', () => {
    const d = once(zero, obs({ now: 299_999, current: 2, traffic: quiet(0) }));
    expect(d).toMatchObject({ desired: 1, limitedBy: 'min' });
    expect(d.reason).toBe('requestsPerSecond 0.0 per replica (target 10) -> 0, at least 1 until idle for 5m -> 1');
    expect(once(zero, obs({ now: 900_000, current: 1, traffic: quiet(0, 1) })).desired).toBe(1);
    expect(once(zero, obs({ now: 900_000, current: 1 }))).toMatchObject({ desired: 1, limitedBy: 'no-metrics' });
    expect(once({ ...zero, min: 1 }, obs({ now: 900_000, current: 1, traffic: quiet(0) })).desired).toBe(1);
    expect(once(zero, obs({ now: 900_000, current: 1, traffic: { requestsPerSecond: 0, inFlight: 0 } })).desired).toBe(1); // last request unknown
  });

  it('wake: a waiting request brings a service at 0 to max(1, min) at once, past windows and step limits', () => {
    const stiff = { ...zero, scaleUp: { stabilizationMs: 600_000, maxStepPercent: 0, maxStepReplicas: 0, periodMs: 60_000 } };
    const idle: AutoscaleState = { recommendations: [{ at: 500_000, replicas: 0 }], events: [{ at: 590_000, from: 1, to: 0 }] };
    const r = decide(stiff, idle, obs({ now: 600_000, current: 0, wake: true, rolling: true, traffic: quiet(0) }));
    expect(r.decision).toMatchObject({ desired: 1, reason: 'a request is waiting -> 1 (wake up)' });
    expect(r.state.events.at(-1)).toEqual({ at: 600_000, from: 0, to: 1 });
    // while the request waits the service is not idle
    expect(once(zero, obs({ now: 900_000, current: 1, wake: true, traffic: quiet(0) })).desired).toBe(1);
  });
});

describe('no decision', () => {
  it('no metrics keeps the count, records nothing, and never falls to min', () => {
    const state: AutoscaleState = { recommendations: [{ at: 999_000, replicas: 3 }], events: [] };
    const r = decide(policy({ metrics: [{ type: 'requestsPerSecond', value: 5 }] }), state, obs({ current: 3 }));
    expect(r.decision).toMatchObject({ desired: 3, limitedBy: 'no-metrics', reason: 'no metrics (requestsPerSecond: the proxy did not answer) -> stays at 3' });
    expect(r.state).toEqual(state);
    expect(once(policy({ metrics: [] }), obs({ current: 3 }))).toMatchObject({ desired: 3, reason: 'no metrics -> stays at 3' });
  });

  it('a rolling update keeps the count and leaves the state as it was', () => {
    const state = initialState();
    const r = decide(policy(), state, obs({ current: 3, rolling: true, replicas: cpu(3, 300) }));
    expect(r.decision).toMatchObject({ desired: 3, limitedBy: 'rolling', reason: 'rolling update in progress -> stays at 3' });
    expect(r.decision.readings[0]?.proposal).toBe(13);
    expect(r.state).toBe(state);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// properties

const behaviorArb: fc.Arbitrary<StepBehavior> = fc.record({
  stabilizationMs: fc.constantFrom(0, 15_000, 60_000, 300_000),
  maxStepPercent: fc.integer({ min: 0, max: 200 }),
  maxStepReplicas: fc.integer({ min: 0, max: 6 }),
  periodMs: fc.constantFrom(15_000, 60_000),
});

const metricArb: fc.Arbitrary<MetricTarget> = fc.oneof(
  fc.integer({ min: 10, max: 150 }).map((percent) => ({ type: 'cpu' as const, percent })),
  fc.integer({ min: 10, max: 150 }).map((percent) => ({ type: 'memory' as const, percent })),
  fc.integer({ min: 1, max: 100 }).map((value) => ({ type: 'requestsPerSecond' as const, value })),
  fc.integer({ min: 1, max: 50 }).map((value) => ({ type: 'concurrency' as const, value })),
  fc.integer({ min: 20, max: 1000 }).map((ms) => ({ type: 'latencyP95' as const, ms })),
);

const policyArb = (maxMax = 20): fc.Arbitrary<AutoscalePolicy> =>
  fc
    .record({
      min: fc.integer({ min: 0, max: 3 }),
      span: fc.integer({ min: 0, max: maxMax - 3 }),
      metrics: fc.array(metricArb, { minLength: 0, maxLength: 3 }),
      scaleUp: behaviorArb,
      scaleDown: behaviorArb,
      scaleToZeroAfterMs: fc.constantFrom(30_000, 300_000),
    })
    .map(({ min, span, ...rest }) => ({ min, max: min + span, ...rest }));

const percentArb = fc.option(fc.integer({ min: 0, max: 400 }), { nil: undefined });
const replicasArb = fc.array(fc.record({ ready: fc.boolean(), cpuPercent: percentArb, memoryPercent: percentArb }), { maxLength: 25 });

/** An observation without its clock and count; `sinceLastRequest` is turned into lastRequestAt = now - it. */
type Sample = Omit<Observation, 'now' | 'current' | 'traffic'> & {
  traffic?: { requestsPerSecond: number; inFlight: number; latencyP95Ms?: number; sinceLastRequest?: number };
};
const sampleArb: fc.Arbitrary<Sample> = fc.record({
  replicas: replicasArb,
  traffic: fc.option(
    fc.record({
      requestsPerSecond: fc.oneof(fc.constant(0), fc.double({ min: 0, max: 2000, noNaN: true })),
      inFlight: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 300 })),
      latencyP95Ms: fc.option(fc.integer({ min: 1, max: 5000 }), { nil: undefined }),
      sinceLastRequest: fc.option(fc.integer({ min: 0, max: 900_000 }), { nil: undefined }),
    }),
    { nil: undefined },
  ),
  wake: fc.boolean(),
  rolling: fc.boolean(),
});

function observe(s: Sample, now: number, current: number): Observation {
  const { traffic, ...rest } = s;
  if (!traffic) return { ...rest, now, current };
  const { sinceLastRequest, ...t } = traffic;
  return { ...rest, now, current, traffic: { ...t, lastRequestAt: sinceLastRequest === undefined ? undefined : now - sinceLastRequest } };
}

/** A random history: observations at random intervals, each desired fed back as the next current. */
const historyArb = fc.record({
  policy: policyArb(),
  start: fc.integer({ min: 0, max: 20 }),
  steps: fc.array(fc.record({ dt: fc.integer({ min: 1, max: 40_000 }), sample: sampleArb }), { minLength: 1, maxLength: 40 }),
});

function replay(h: { policy: AutoscalePolicy; start: number; steps: { dt: number; sample: Sample }[] }) {
  const current0 = Math.min(h.policy.max, Math.max(h.policy.min, h.start));
  let now = 0;
  const times = h.steps.map((s) => (now += s.dt));
  return run(h.policy, current0, times, (t, current) => {
    const i = times.indexOf(t);
    const o = observe(h.steps[i]!.sample, t, current);
    return o;
  }).map((r, i) => ({ ...r, obs: observe(h.steps[i]!.sample, r.t, r.current) }));
}

const stepOf = (b: StepBehavior, base: number) => Math.max(Math.ceil((Math.max(0, base) * b.maxStepPercent) / 100), b.maxStepReplicas);
const baseOf = (s: AutoscaleState, now: number, periodMs: number, current: number) =>
  s.events.filter((e) => e.at > now - periodMs).reduce((c, e) => c - (e.to - e.from), current);
const isWake = (o: Observation) => o.wake === true && o.current === 0;
const isScaleToZero = (d: Decision, current: number) => d.desired === 0 && current > 0;

describe('properties', () => {
  it('desired is within [min, max] at any count seen; 0 only with min 0, and reached only by scale to zero', () => {
    fc.assert(
      fc.property(policyArb(), fc.array(fc.record({ current: fc.integer({ min: 0, max: 30 }), sample: sampleArb }), { minLength: 1, maxLength: 20 }), (p, steps) => {
        let state = initialState();
        steps.forEach(({ current, sample }, i) => {
          const o = observe(sample, (i + 1) * 10_000, current);
          const { decision, state: next } = decide(p, state, o);
          state = next;
          if (o.rolling && !isWake(o)) {
            expect(decision.desired).toBe(current);
            return;
          }
          expect(decision.desired).toBeGreaterThanOrEqual(p.min);
          expect(decision.desired).toBeLessThanOrEqual(p.max);
          expect(Number.isInteger(decision.desired)).toBe(true);
          if (decision.desired === 0 && current !== 0 && current <= p.max) expect(decision.reason).toMatch(/\(scale to zero\)$/);
          expect(decision.reason).not.toMatch(/NaN|undefined|Infinity/);
        });
      }),
      { numRuns: 300 },
    );
  });

  it('never scales on no metrics: no traffic data and no sample keeps the count and records nothing', () => {
    fc.assert(
      fc.property(policyArb(), fc.integer({ min: 0, max: 20 }), fc.array(fc.record({ ready: fc.boolean() }), { maxLength: 10 }), (p, start, replicas) => {
        const current = Math.min(p.max, Math.max(p.min, start));
        const state: AutoscaleState = { recommendations: [{ at: 5_000, replicas: p.max }], events: [] };
        const r = decide(p, state, { now: 10_000, current, replicas });
        expect(r.decision).toMatchObject({ desired: current, limitedBy: 'no-metrics' });
        expect(r.state.recommendations).toEqual(state.recommendations.filter((x) => x.at > 10_000 - Math.max(p.scaleUp.stabilizationMs, p.scaleDown.stabilizationMs)));
        expect(r.state.events).toEqual([]);
      }),
      { numRuns: 300 },
    );
  });

  it('scale down never goes below the highest recommendation of the scale-down window (scale to zero aside)', () => {
    fc.assert(
      fc.property(historyArb, (h) => {
        for (const r of replay(h)) {
          if (r.decision.desired >= r.current || isScaleToZero(r.decision, r.current)) continue;
          const window = r.after.recommendations.filter((x) => x.at > r.t - h.policy.scaleDown.stabilizationMs);
          expect(r.decision.desired).toBeGreaterThanOrEqual(Math.max(...window.map((x) => x.replicas)));
        }
      }),
      { numRuns: 300 },
    );
  });

  it('steps never exceed the limits of their period (wake up and scale to zero aside); every change is an event', () => {
    fc.assert(
      fc.property(historyArb, (h) => {
        for (const r of replay(h)) {
          const { desired } = r.decision;
          if (desired !== r.current) expect(r.after.events.at(-1)).toEqual({ at: r.t, from: r.current, to: desired });
          else expect(r.after.events.filter((e) => e.at === r.t)).toEqual([]);
          if (isWake(r.obs) || isScaleToZero(r.decision, r.current)) continue;
          if (desired > r.current) {
            const base = baseOf(r.before, r.t, h.policy.scaleUp.periodMs, r.current);
            expect(desired).toBeLessThanOrEqual(base + stepOf(h.policy.scaleUp, base));
          } else if (desired < r.current) {
            const base = baseOf(r.before, r.t, h.policy.scaleDown.periodMs, r.current);
            expect(desired).toBeGreaterThanOrEqual(base - stepOf(h.policy.scaleDown, base));
          }
        }
      }),
      { numRuns: 300 },
    );
  });

  it('no flapping: a constant observation converges to one count, turning at most once (into scale to zero), and stays', () => {
    fc.assert(
      fc.property(policyArb(15), fc.integer({ min: 0, max: 15 }), sampleArb, (p, start, sample) => {
        const constant = { ...sample, rolling: false, traffic: sample.traffic && { ...sample.traffic, sinceLastRequest: undefined } };
        const lastRequestAt = sample.traffic?.sinceLastRequest === undefined ? undefined : -sample.traffic.sinceLastRequest;
        const times = every15s(0, 600 * 15_000);
        const r = run(p, Math.min(p.max, Math.max(p.min, start)), times, (t, current) => {
          const o = observe(constant, t, current);
          return o.traffic ? { ...o, traffic: { ...o.traffic, lastRequestAt } } : o;
        });
        const counts = r.map((x) => x.decision.desired);
        const tail = counts.slice(-100);
        expect(new Set(tail).size).toBe(1);
        const moves = r.filter((x) => x.decision.desired !== x.current).map((x) => Math.sign(x.decision.desired - x.current));
        const turns = moves.filter((m, i) => i > 0 && m !== moves[i - 1]).length;
        expect(turns).toBeLessThanOrEqual(1);
        if (turns === 1) expect(counts.at(-1)).toBe(0);
        expect(moves.length).toBeLessThanOrEqual(p.max + 1); // monotone to one count, then at most one step to 0
      }),
      { numRuns: 150 },
    );
  });

  it('no flapping under a constant total load spread over the replicas (cpu and requests follow the count)', () => {
    fc.assert(
      fc.property(policyArb(15), fc.integer({ min: 0, max: 15 }), fc.double({ min: 0, max: 3000, noNaN: true }), fc.double({ min: 0, max: 500, noNaN: true }), (p, start, cpuLoad, rps) => {
        const times = every15s(0, 400 * 15_000);
        const r = run(p, Math.min(p.max, Math.max(p.min, start)), times, (_, current) => ({
          replicas: Array.from({ length: current }, () => ({ ready: true, cpuPercent: cpuLoad / current, memoryPercent: 50 })),
          traffic: { requestsPerSecond: rps, inFlight: rps / 10, latencyP95Ms: current > 0 ? 20 + rps / current : undefined, lastRequestAt: rps > 0 ? 0 : -1_000_000 },
        }));
        const counts = r.map((x) => x.decision.desired);
        expect(new Set(counts.slice(-100)).size).toBe(1);
        const moves = r.filter((x) => x.decision.desired !== x.current).map((x) => Math.sign(x.decision.desired - x.current));
        expect(moves.filter((m, i) => i > 0 && m !== moves[i - 1]).length).toBeLessThanOrEqual(1);
        expect(moves.length).toBeLessThanOrEqual(p.max + 1); // monotone to one count, then at most one step to 0
      }),
      { numRuns: 150 },
    );
  });
});
