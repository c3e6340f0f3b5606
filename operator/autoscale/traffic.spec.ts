/** Request rate, in-flight and p95 latency between two access snapshots of the proxies. */
import { describe, expect, it } from 'vitest';
import type { AccessSnapshot, ServiceAccessSnapshot } from '../proxy/access-stats.ts';
import { quantileMs, sampleOf, trafficBetween } from './traffic.ts';

const BOUNDS = [0.01, 0.1, 1];
const svc = (service: string, count: number, buckets: number[], inFlight = 0, connections = 0): ServiceAccessSnapshot => ({
  service, inFlight, connections, requests: {}, duration: { buckets, sum: 0, count }, bytes: { in: 0, out: 0 }, endpoints: {},
});
const snap = (listeners: AccessSnapshot['listeners']): AccessSnapshot => ({ buckets: BOUNDS, listeners });

describe('traffic', () => {
  it('sums a service over its listeners (its own HTTP listener and a Route; TCP counts connections)', () => {
    const a = sampleOf(snap([
      { listener: '0.0.0.0:1', mode: 'http', services: [svc('shop/web', 10, [5, 9, 10, 10], 2)] },
      { listener: '0.0.0.0:2', mode: 'http', services: [svc('shop/web', 4, [0, 4, 4, 4], 1), svc('', 3, [3, 3, 3, 3])] },
      { listener: '0.0.0.0:3', mode: 'tcp', services: [svc('shop/db', 7, [7, 7, 7, 7], 1, 9)] },
    ]), 0);
    expect(a.services.get('shop/web')).toEqual({ requests: 14, inFlight: 3, buckets: [5, 13, 14, 14] });
    expect(a.services.get('shop/db')?.requests).toBe(9);
    expect(a.services.has('')).toBe(false);
  });

  it('gives the rate and p95 of the period, and counts from 0 when a new proxy process restarted the counters', () => {
    const before = sampleOf(snap([{ listener: 'l', mode: 'http', services: [svc('s', 100, [100, 100, 100, 100])] }]), 0);
    const after = sampleOf(snap([{ listener: 'l', mode: 'http', services: [svc('s', 200, [100, 110, 200, 200], 4)] }]), 10_000);
    const t = trafficBetween(before, after, 's');
    expect(t.requestsPerSecond).toBe(10);
    expect(t.inFlight).toBe(4);
    // 100 requests in the period: 10 in (10 ms, 100 ms], 90 in (100 ms, 1 s]; the 95th is the 95th of them
    expect(t.latencyP95Ms).toBeCloseTo(100 + 900 * (85 / 90), 5);
    const restarted = sampleOf(snap([{ listener: 'l', mode: 'http', services: [svc('s', 5, [5, 5, 5, 5])] }]), 20_000);
    expect(trafficBetween(after, restarted, 's').requestsPerSecond).toBe(0.5);
    expect(trafficBetween(before, after, 'other')).toEqual({ requestsPerSecond: 0, inFlight: 0 });
  });

  it('interpolates within a bucket like histogram_quantile; the +Inf bucket gives the largest bound; no data gives none', () => {
    expect(quantileMs(BOUNDS, [0, 0, 10, 10], 0.5)).toBeCloseTo(550, 5);
    expect(quantileMs(BOUNDS, [0, 0, 0, 10], 0.95)).toBe(1000);
    expect(quantileMs(BOUNDS, [0, 0, 0, 0], 0.95)).toBeUndefined();
  });
});
