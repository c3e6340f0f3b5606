/**
 * The autoscaler of one berth Service (pure): the Kubernetes HPA's algorithm (utilization ratios with tolerance and
 * unready handling, several metrics -> the largest proposal, stabilization windows, step limits per period) plus
 * Knative's request-driven metrics and scale to zero. State in, decision + new state out; the clock is an input.
 * https://kubernetes.io/docs/tasks/run-application/horizontal-pod-autoscale/#algorithm-details
 */
import { formatDuration } from '../manifests/quantity.ts';
import type { AutoscaleMetric as MetricTarget, AutoscaleSpec as AutoscalePolicy, AutoscaleStep as StepBehavior } from '../model/manifest.ts';

/** What one metric aims at, how fast each direction may move, and the whole policy: spec.autoscale's model types. */
export type { MetricTarget, StepBehavior, AutoscalePolicy };

/** The HPA's default scale-up behavior: +100 % or +4 replicas per 15 s, whichever is more, no window. */
export const DEFAULT_SCALE_UP: StepBehavior = { stabilizationMs: 0, maxStepPercent: 100, maxStepReplicas: 4, periodMs: 15_000 };
/** The HPA's default scale-down behavior: a 5 minute window, then down to the recommendation at once. */
export const DEFAULT_SCALE_DOWN: StepBehavior = { stabilizationMs: 300_000, maxStepPercent: 100, maxStepReplicas: 0, periodMs: 15_000 };
/** The idle time before a min-0 service goes to zero when its policy does not say. */
export const DEFAULT_SCALE_TO_ZERO_AFTER_MS = 300_000;

/** A ratio within 1 ± TOLERANCE of the target changes nothing (the HPA's --horizontal-pod-autoscaler-tolerance). */
export const TOLERANCE = 0.1;

/** What the autoscaler sees at one sync. */
export interface Observation {
  /** ms, injected clock */
  now: number;
  /** the replica count the autoscaler set last (what runs or is being created) */
  current: number;
  /** one per existing replica; percent of its request; undefined = no sample */
  replicas: { ready: boolean; cpuPercent?: number; memoryPercent?: number }[];
  /** service totals over the last period; undefined = the proxy did not answer */
  traffic?: { requestsPerSecond: number; inFlight: number; latencyP95Ms?: number; lastRequestAt?: number };
  /** the proxy holds a request for this service (it is at 0): scale to >= 1 now */
  wake?: boolean;
  /** a rolling update of the service is in progress: no decision (keep current) */
  rolling?: boolean;
}

/** What the autoscaler remembers between syncs (pruned to the longest window / period). */
export interface AutoscaleState {
  /** the recommendation of each decision, before stabilization, step limits and min/max */
  recommendations: { at: number; replicas: number }[];
  /** every change of the count */
  events: { at: number; from: number; to: number }[];
}

/** One metric's view at one sync; value and proposal are undefined when the metric has nothing to say. */
export interface MetricReading { metric: MetricTarget['type']; value: number | undefined; target: number; proposal: number | undefined }

/** The count to run, and why. */
export interface Decision {
  desired: number;
  /** one human line, deterministic */
  reason: string;
  readings: MetricReading[];
  /** the rule that made `desired` differ from what the load alone asks for (or kept it at current) */
  limitedBy?: 'min' | 'max' | 'step' | 'stabilization' | 'tolerance' | 'no-metrics' | 'rolling';
  /** when the scale-down window holds the count up: the time it lets it fall (if the load stays) */
  nextScaleDownAt?: number;
}

/** The state of an autoscaler that has not decided anything yet. */
export function initialState(): AutoscaleState {
  return { recommendations: [], events: [] };
}

/** A reading plus what the decision needs to know about it. */
interface Evaluated {
  reading: MetricReading;
  /** ok: a proposal; missing: the source failed (blocks scale down); silent: nothing to measure (no requests) */
  status: 'ok' | 'missing' | 'silent';
  /** the proposal is `current` because of the tolerance (or a direction flip of the unready correction) */
  tolerated: boolean;
  note: string;
}

type Outcome = { decision: Decision; state: AutoscaleState };

/**
 * One sync of the autoscaler, in this order:
 * 1. a request waits at 0 replicas (`wake`) -> max(1, min) at once, no window or step limit;
 * 2. a rolling update -> keep current, record nothing;
 * 3. current outside [min, max] (the policy changed) -> the nearest bound at once;
 * 4. min 0 and the proxy saw no request for scaleToZeroAfterMs, none in flight -> 0 at once;
 * 5. each metric proposes a count, the largest wins; none -> keep current ('no-metrics'), and so does a scale down
 *    while some metric has no data (the HPA's rule: never scale down on partial stats);
 * 6. with min 0 a proposal of 0 becomes 1 (only step 4 reaches 0); the result is recorded as the recommendation;
 * 7. stabilization: not above the lowest recommendation of the scale-up window, not below the highest of the
 *    scale-down window (the count stays when it is between the two);
 * 8. step limits: relative to the count at the start of the period, +max(ceil(base × %), replicas) up,
 *    -max(ceil(base × %), replicas) down;
 * 9. clamp to [min, max]. A change is recorded as an event.
 */
export function decide(policy: AutoscalePolicy, state: AutoscaleState, obs: Observation): Outcome {
  const { min, max } = bounds(policy);
  const current = obs.current;
  const evaluated = policy.metrics.map((m) => evaluate(m, obs));
  const readings = evaluated.map((e) => e.reading);
  const idleAfter = policy.scaleToZeroAfterMs ?? DEFAULT_SCALE_TO_ZERO_AFTER_MS;

  if (obs.wake && current === 0) {
    const to = Math.min(max, Math.max(1, min));
    return commit(policy, state, obs, { desired: to, reason: `a request is waiting -> ${to} (wake up)`, readings }, to);
  }
  if (obs.rolling) {
    return { decision: { desired: current, reason: `rolling update in progress -> stays at ${current}`, readings, limitedBy: 'rolling' }, state };
  }
  if (current > max) {
    return commit(policy, state, obs, { desired: max, reason: `${plural(current, 'replica')} above max ${max} -> ${max}`, readings, limitedBy: 'max' });
  }
  if (current < min) {
    return commit(policy, state, obs, { desired: min, reason: `${plural(current, 'replica')} below min ${min} -> ${min}`, readings, limitedBy: 'min' });
  }
  const idle = min === 0 ? idleMs(obs, idleAfter) : undefined;
  if (idle !== undefined) {
    const reason = current === 0 ? `idle for ${formatDuration(idle)} -> stays at 0 (scaled to zero)` : `idle for ${formatDuration(idle)} -> 0 (scale to zero)`;
    return commit(policy, state, obs, { desired: 0, reason, readings }, 0);
  }

  const proposed = propose(evaluated, current);
  if ('hold' in proposed) {
    return { decision: { desired: current, reason: `${proposed.hold} -> stays at ${current}`, readings, limitedBy: 'no-metrics' }, state: prune(policy, state, obs.now) };
  }
  return scale(policy, state, obs, { min, max, idleAfter }, proposed, readings);
}

/** Steps 6-9 of decide, from the winning proposal. */
function scale(
  policy: AutoscalePolicy,
  state: AutoscaleState,
  obs: Observation,
  b: { min: number; max: number; idleAfter: number },
  proposed: { value: number; winner: Evaluated; note: string },
  readings: MetricReading[],
): Outcome {
  const { now, current } = obs;
  const steps: string[] = [];
  let limitedBy: Decision['limitedBy'] = proposed.winner.tolerated && proposed.value === current ? 'tolerance' : undefined;
  let value = proposed.value;
  if (b.min === 0 && value === 0) {
    value = 1;
    limitedBy = 'min';
    steps.push(`at least 1 until idle for ${formatDuration(b.idleAfter)} -> 1`);
  }
  const recommendation = value;

  const window = stabilize(policy, state, now, current, recommendation);
  let nextScaleDownAt: number | undefined;
  if (window.value !== value) {
    limitedBy = 'stabilization';
    if (window.value > value) {
      nextScaleDownAt = window.fallsAt;
      steps.push(`held by the highest recommendation of the last ${formatDuration(policy.scaleDown.stabilizationMs)} -> ${window.value}`);
    } else {
      steps.push(`held by the lowest recommendation of the last ${formatDuration(policy.scaleUp.stabilizationMs)} -> ${window.value}`);
    }
    value = window.value;
  }

  const limited = stepLimit(policy, state, now, current, value);
  if (limited.value !== value) {
    limitedBy = 'step';
    steps.push(`${limited.note} -> ${limited.value}`);
    value = limited.value;
  }

  if (value > b.max || value < b.min) {
    const bound = value > b.max ? b.max : b.min;
    limitedBy = value > b.max ? 'max' : 'min';
    steps.push(`${limitedBy} ${bound} -> ${bound}`);
    value = bound;
  }

  const reason = [proposed.note, ...steps].join(', ');
  const decision: Decision = { desired: value, reason, readings };
  if (limitedBy) decision.limitedBy = limitedBy;
  if (nextScaleDownAt !== undefined && value > recommendation) decision.nextScaleDownAt = nextScaleDownAt;
  return commit(policy, state, obs, decision, recommendation);
}

/** Records the recommendation (if any) and the change (if any), prunes the history and returns both. */
function commit(policy: AutoscalePolicy, state: AutoscaleState, obs: Observation, decision: Decision, recommendation?: number): Outcome {
  const next: AutoscaleState = {
    recommendations: recommendation === undefined ? state.recommendations : [...state.recommendations, { at: obs.now, replicas: recommendation }],
    events: decision.desired === obs.current ? state.events : [...state.events, { at: obs.now, from: obs.current, to: decision.desired }],
  };
  return { decision, state: prune(policy, next, obs.now) };
}

/** Drops recommendations older than the longest window and events older than the longest period. */
function prune(policy: AutoscalePolicy, state: AutoscaleState, now: number): AutoscaleState {
  const window = Math.max(policy.scaleUp.stabilizationMs, policy.scaleDown.stabilizationMs);
  const period = Math.max(policy.scaleUp.periodMs, policy.scaleDown.periodMs);
  return {
    recommendations: state.recommendations.filter((r) => r.at > now - window),
    events: state.events.filter((e) => e.at > now - period),
  };
}

/** min and max as whole non-negative counts, max at least min. */
function bounds(policy: AutoscalePolicy): { min: number; max: number } {
  const min = Math.max(0, Math.floor(policy.min));
  return { min, max: Math.max(min, Math.floor(policy.max)) };
}

/** How long the service has been idle, when that is at least `after` and nothing waits or runs; else undefined. */
function idleMs(obs: Observation, after: number): number | undefined {
  const t = obs.traffic;
  if (!t || obs.wake || t.inFlight > 0 || t.requestsPerSecond > 0 || t.lastRequestAt === undefined) return undefined;
  const idle = obs.now - t.lastRequestAt;
  return idle >= after ? idle : undefined;
}

/** The largest proposal, or why there is none to act on. */
function propose(evaluated: Evaluated[], current: number): { value: number; winner: Evaluated; note: string } | { hold: string } {
  const ok = evaluated.filter((e) => e.status === 'ok');
  const missing = evaluated.filter((e) => e.status === 'missing');
  const describe = (list: Evaluated[]): string => list.map((e) => `${e.reading.metric}: ${e.note}`).join('; ');
  const gaps = describe(missing);
  let winner: Evaluated | undefined;
  for (const e of ok) if (!winner || e.reading.proposal! > winner.reading.proposal!) winner = e;
  if (!winner) {
    const silent = describe(evaluated.filter((e) => e.status !== 'ok'));
    return { hold: silent ? `no metrics (${silent})` : 'no metrics' };
  }
  const value = winner.reading.proposal!;
  let note = winner.note;
  if (ok.length > 1) note += ` (largest of ${ok.map((e) => `${e.reading.metric} ${e.reading.proposal}`).join(', ')})`;
  if (missing.length > 0 && value < current) return { hold: `${note}, but no scale down while a metric has no data (${gaps})` };
  return { value, winner, note };
}

/** The count after the stabilization windows, and when the scale-down window stops holding it up. */
function stabilize(policy: AutoscalePolicy, state: AutoscaleState, now: number, current: number, recommendation: number): { value: number; fallsAt?: number } {
  const upCut = now - policy.scaleUp.stabilizationMs;
  const downCut = now - policy.scaleDown.stabilizationMs;
  let lowest = recommendation;
  let highest = recommendation;
  for (const r of state.recommendations) {
    if (r.at > upCut) lowest = Math.min(lowest, r.replicas);
    if (r.at > downCut) highest = Math.max(highest, r.replicas);
  }
  const value = Math.min(Math.max(current, lowest), highest);
  if (value <= recommendation) return { value };
  // it falls once every recommendation at or above the held count has left the window
  const holders = state.recommendations.filter((r) => r.at > downCut && r.replicas >= value).map((r) => r.at);
  return { value, fallsAt: holders.length ? Math.max(...holders) + policy.scaleDown.stabilizationMs : undefined };
}

/** The count at the start of the period: current minus the changes recorded since. */
function periodBase(state: AutoscaleState, now: number, periodMs: number, current: number): number {
  let base = current;
  for (const e of state.events) if (e.at > now - periodMs) base -= e.to - e.from;
  return base;
}

/** The largest change one period allows from `base` (a percent rounded up, or a count, whichever is more). */
function maxStep(behavior: StepBehavior, base: number): number {
  return Math.max(Math.ceil((Math.max(0, base) * behavior.maxStepPercent) / 100), behavior.maxStepReplicas, 0);
}

/** The count after the step limits of the direction it moves in. */
function stepLimit(policy: AutoscalePolicy, state: AutoscaleState, now: number, current: number, value: number): { value: number; note: string } {
  if (value > current) {
    const b = policy.scaleUp;
    const base = periodBase(state, now, b.periodMs, current);
    const step = maxStep(b, base);
    const limit = Math.max(current, base + step);
    return { value: Math.min(value, limit), note: `capped at +${step} per ${formatDuration(b.periodMs)}${base !== current ? ` from ${base}` : ''}` };
  }
  if (value < current) {
    const b = policy.scaleDown;
    const base = periodBase(state, now, b.periodMs, current);
    const step = maxStep(b, base);
    const limit = Math.min(current, base - step);
    return { value: Math.max(value, limit), note: `capped at -${step} per ${formatDuration(b.periodMs)}${base !== current ? ` from ${base}` : ''}` };
  }
  return { value, note: '' };
}

/** One metric's reading and proposal. */
function evaluate(m: MetricTarget, obs: Observation): Evaluated {
  switch (m.type) {
    case 'cpu':
      return utilization('cpu', m.percent, obs);
    case 'memory':
      return utilization('memory', m.percent, obs);
    case 'requestsPerSecond':
      return perReplica('requestsPerSecond', m.value, obs.traffic?.requestsPerSecond, obs.current, (v) => `${v.toFixed(1)} per replica (target ${m.value})`);
    case 'concurrency':
      return perReplica('concurrency', m.value, obs.traffic?.inFlight, obs.current, (v) => `${v.toFixed(1)} in flight per replica (target ${m.value})`);
    case 'latencyP95':
      return latency(m.ms, obs);
  }
}

function unavailable(metric: MetricTarget['type'], target: number, note: string, status: 'missing' | 'silent' = 'missing'): Evaluated {
  return { reading: { metric, value: undefined, target, proposal: undefined }, status, tolerated: false, note };
}

function withinTolerance(ratio: number): boolean {
  return Math.abs(ratio - 1) <= TOLERANCE;
}

/**
 * cpu / memory as the HPA: the average over replicas with a sample (for cpu only ready ones); if some replica has no
 * sample (or, for cpu, is not ready) the ratio is recomputed with those at 0 % on a scale up and the replicas
 * without a sample at max(100 %, target) on a scale down (unready ones left out); a recomputed ratio that flips
 * direction or falls within tolerance keeps the count.
 */
function utilization(metric: 'cpu' | 'memory', target: number, obs: Observation): Evaluated {
  if (!(target > 0)) return unavailable(metric, target, `invalid target ${target} %`);
  const key = metric === 'cpu' ? 'cpuPercent' : 'memoryPercent';
  const current = obs.current;
  const counted: number[] = [];
  let unready = 0;
  let missing = 0;
  for (const r of obs.replicas) {
    const v = r[key];
    if (v === undefined) missing++;
    else if (metric === 'cpu' && !r.ready) unready++;
    else counted.push(v);
  }
  if (counted.length === 0) return unavailable(metric, target, metric === 'cpu' ? 'no sample from a ready replica' : 'no sample from a replica');
  const average = counted.reduce((a, b) => a + b, 0) / counted.length;
  const ratio = average / target;
  const over = `${metric} ${Math.round(average)} % of target ${target} % over ${plural(counted.length, metric === 'cpu' ? 'ready replica' : 'replica')}`;
  const reading = (proposal: number): MetricReading => ({ metric, value: average, target, proposal });
  const ok = (proposal: number, tolerated: boolean, detail = ''): Evaluated => ({ reading: reading(proposal), status: 'ok', tolerated, note: `${over}${detail} -> ${proposal}` });

  const scaleUpWithUnready = unready > 0 && ratio > 1;
  if (!scaleUpWithUnready && missing === 0) {
    if (withinTolerance(ratio)) return ok(current, true, ' (within tolerance)');
    return ok(Math.ceil(ratio * counted.length), false);
  }
  const values = [...counted];
  const assumed: string[] = [];
  if (missing > 0 && ratio < 1) {
    const fallback = Math.max(100, target);
    for (let i = 0; i < missing; i++) values.push(fallback);
    assumed.push(`${plural(missing, 'replica')} without a sample at ${fallback} %`);
  } else if (missing > 0 && ratio > 1) {
    for (let i = 0; i < missing; i++) values.push(0);
    assumed.push(`${plural(missing, 'replica')} without a sample at 0 %`);
  }
  if (scaleUpWithUnready) {
    for (let i = 0; i < unready; i++) values.push(0);
    assumed.push(`${unready} not ready at 0 %`);
  }
  const newRatio = values.reduce((a, b) => a + b, 0) / values.length / target;
  const detail = assumed.length ? `; counting ${assumed.join(' and ')}: ${Math.round(newRatio * target)} %` : '';
  if (withinTolerance(newRatio) || (ratio < 1 && newRatio > 1) || (ratio > 1 && newRatio < 1)) {
    return ok(current, true, `${detail} (${withinTolerance(newRatio) ? 'within tolerance' : 'direction flips'})`);
  }
  const proposal = Math.ceil(newRatio * values.length);
  if ((newRatio < 1 && proposal > current) || (newRatio > 1 && proposal < current)) return ok(current, true, `${detail} (direction flips)`);
  return ok(proposal, false, detail);
}

/** requestsPerSecond / concurrency: ceil(total / target), unless the per-replica value is within tolerance. */
function perReplica(metric: 'requestsPerSecond' | 'concurrency', target: number, total: number | undefined, current: number, describe: (perReplica: number) => string): Evaluated {
  if (total === undefined) return unavailable(metric, target, 'the proxy did not answer');
  if (!(target > 0)) return unavailable(metric, target, `invalid target ${target}`);
  const value = current > 0 ? total / current : total;
  const tolerated = current > 0 && withinTolerance(total / (target * current));
  const proposal = tolerated ? current : Math.ceil(total / target);
  return { reading: { metric, value, target, proposal }, status: 'ok', tolerated, note: `${metric} ${describe(value)}${tolerated ? ' (within tolerance)' : ''} -> ${proposal}` };
}

/** latencyP95: above target × (1 + tolerance) -> at least one more; below half the target -> one less; no requests -> nothing. */
function latency(target: number, obs: Observation): Evaluated {
  const t = obs.traffic;
  if (!t) return unavailable('latencyP95', target, 'the proxy did not answer');
  if (!(target > 0)) return unavailable('latencyP95', target, `invalid target ${target} ms`);
  if (t.latencyP95Ms === undefined || t.requestsPerSecond <= 0) return unavailable('latencyP95', target, 'no requests', 'silent');
  const p95 = t.latencyP95Ms;
  const current = obs.current;
  let proposal = current;
  if (p95 > target * (1 + TOLERANCE)) proposal = Math.max(current + 1, Math.ceil((current * p95) / target));
  else if (p95 < target / 2) proposal = Math.max(0, current - 1);
  const tolerated = proposal === current;
  return {
    reading: { metric: 'latencyP95', value: p95, target, proposal },
    status: 'ok',
    tolerated,
    note: `latencyP95 ${Math.round(p95)} ms (target ${target} ms)${tolerated ? ' (within range)' : ''} -> ${proposal}`,
  };
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}
