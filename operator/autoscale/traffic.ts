/**
 * Request rate, in-flight requests and latency per service, from two access snapshots of berth's proxies
 * (operator/proxy/access-stats.ts: cumulative counters per listener and service). Pure.
 */
import type { AccessSnapshot, ServiceAccessSnapshot } from '../proxy/access-stats.ts';

/** One service's counters summed over every listener (its own publish, ports[].publish, the Routes naming it). */
export interface ServiceCounters {
  /** Requests ended (HTTP) plus connections accepted (TCP). */
  requests: number;
  inFlight: number;
  /** Cumulative duration buckets aligned with `bounds`, then +Inf. */
  buckets: number[];
}

export interface TrafficSample {
  at: number;
  bounds: readonly number[];
  services: Map<string, ServiceCounters>;
}

/** What the autoscaler reads of a service over one period. */
export interface Traffic {
  requestsPerSecond: number;
  inFlight: number;
  /** Undefined when no request ended in the period. */
  latencyP95Ms?: number;
}

/** Sums a snapshot per service. */
export function sampleOf(snapshot: AccessSnapshot, at: number): TrafficSample {
  const services = new Map<string, ServiceCounters>();
  for (const l of snapshot.listeners) {
    for (const s of l.services) {
      if (s.service === '') continue;
      const into = services.get(s.service) ?? { requests: 0, inFlight: 0, buckets: new Array<number>(snapshot.buckets.length + 1).fill(0) };
      add(into, s, l.mode);
      services.set(s.service, into);
    }
  }
  return { at, bounds: snapshot.buckets, services };
}

function add(into: ServiceCounters, s: ServiceAccessSnapshot, mode: 'tcp' | 'http'): void {
  into.requests += mode === 'tcp' ? s.connections : s.duration.count;
  into.inFlight += s.inFlight;
  s.duration.buckets.forEach((n, i) => { if (i < into.buckets.length) into.buckets[i]! += n; });
}

/** The traffic of `service` between two samples; undefined when either lacks it and it had no traffic ever. */
export function trafficBetween(prev: TrafficSample, cur: TrafficSample, service: string): Traffic {
  const a = prev.services.get(service);
  const b = cur.services.get(service);
  const seconds = Math.max(0.001, (cur.at - prev.at) / 1000);
  if (!b) return { requestsPerSecond: 0, inFlight: 0 };
  // Counters restart with a new proxy process: a decrease means the process is new, count from 0.
  const reset = !a || b.requests < a.requests;
  const requests = reset ? b.requests : b.requests - a.requests;
  const buckets = b.buckets.map((n, i) => (reset ? n : n - (a.buckets[i] ?? 0)));
  const p95 = quantileMs(cur.bounds, buckets, 0.95);
  return { requestsPerSecond: requests / seconds, inFlight: b.inFlight, ...(p95 !== undefined ? { latencyP95Ms: p95 } : {}) };
}

/**
 * The q-quantile of cumulative bucket counts in ms, interpolated linearly within its bucket as Prometheus'
 * histogram_quantile does; a quantile in the +Inf bucket is the largest finite bound. Undefined with no observation.
 */
export function quantileMs(boundsS: readonly number[], cumulative: readonly number[], q: number): number | undefined {
  const total = cumulative.at(-1) ?? 0;
  if (total <= 0) return undefined;
  const rank = q * total;
  for (let i = 0; i < cumulative.length; i++) {
    if (cumulative[i]! < rank) continue;
    if (i >= boundsS.length) return (boundsS.at(-1) ?? 0) * 1000;
    const lower = i === 0 ? 0 : boundsS[i - 1]!;
    const below = i === 0 ? 0 : cumulative[i - 1]!;
    const inBucket = cumulative[i]! - below;
    const fraction = inBucket > 0 ? (rank - below) / inBucket : 1;
    return (lower + (boundsS[i]! - lower) * fraction) * 1000;
  }
  return (boundsS.at(-1) ?? 0) * 1000;
}
