import { describe, expect, it } from 'vitest';
import { AccessTable, DURATION_BUCKETS_S, MAX_ENDPOINTS, OTHER_ENDPOINT, ServiceAccess } from './access-stats.ts';

function table(): AccessTable {
  const t = new AccessTable();
  t.enabled = true;
  return t;
}

describe('access counters', () => {
  it('counts answers by class and source, a client gone before any answer as aborted', () => {
    const t = table();
    const s = t.listener('127.0.0.1:80', 'http')!.service('ns/web');
    for (const status of [200, 204, 301, 404, 500, 503, 101]) s.record(status, 'upstream', 1, 0, 0, undefined);
    s.record(404, 'proxy', 1, 0, 0, undefined);
    s.record(502, 'proxy', 1, 0, 0, undefined);
    s.record(0, 'proxy', 1, 0, 0, undefined);
    s.record(-1, 'upstream', 1, 0, 0, undefined); // a TCP connection: timed, not an answer
    expect(t.snapshot().listeners[0]!.services[0]!.requests).toEqual({
      '1xx/upstream': 1, '2xx/upstream': 2, '3xx/upstream': 1, '4xx/upstream': 1, '5xx/upstream': 2,
      '4xx/proxy': 1, '5xx/proxy': 1, 'aborted/proxy': 1,
    });
    expect(s.count).toBe(11);
  });

  it('puts durations into cumulative le buckets, with sum and count', () => {
    const t = table();
    const s = t.listener('127.0.0.1:80', 'http')!.service('ns/web');
    for (const ms of [1, 5, 5.1, 30, 999, 10_000, 20_000]) s.record(200, 'upstream', ms, 0, 0, undefined);
    const d = t.snapshot().listeners[0]!.services[0]!.duration;
    expect(DURATION_BUCKETS_S).toEqual([0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]);
    // le:   5ms 10ms 25ms 50ms 100ms 250ms 500ms 1s 2.5s 5s 10s +Inf
    expect(d.buckets).toEqual([2, 3, 3, 4, 4, 4, 4, 5, 5, 5, 6, 7]);
    expect(d.count).toBe(7);
    expect(d.sum).toBeCloseTo((1 + 5 + 5.1 + 30 + 999 + 10_000 + 20_000) / 1000, 9);
  });

  it('adds request and response bytes and counts requests per endpoint, bounded', () => {
    const s = new ServiceAccess('ns/web');
    s.record(200, 'upstream', 1, 10, 100, '10.0.0.1:80');
    s.record(200, 'upstream', 1, 5, 50, '10.0.0.2:80');
    s.record(200, 'upstream', 1, 1, 1, '10.0.0.1:80');
    expect([s.bytesIn, s.bytesOut]).toEqual([16, 151]);
    expect(Object.fromEntries(s.endpoints)).toEqual({ '10.0.0.1:80': 2, '10.0.0.2:80': 1 });
    for (let i = 0; i < MAX_ENDPOINTS + 5; i++) s.record(200, 'upstream', 1, 0, 0, `10.1.0.${i}:80`);
    expect(s.endpoints.size).toBe(MAX_ENDPOINTS + 1);
    expect(s.endpoints.get(OTHER_ENDPOINT)).toBe(7);
  });

  it('keys listeners by mode and address, services within them; snapshots are plain JSON', () => {
    const t = table();
    const a = t.listener('0.0.0.0:8080', 'http')!;
    expect(t.listener('0.0.0.0:8080', 'http')).toBe(a);
    expect(a.service('ns/a')).toBe(a.service('ns/a'));
    a.service('ns/a').inFlight = 2;
    t.listener('0.0.0.0:9000', 'tcp')!.service('ns/db').connections = 3;
    const snap = t.snapshot();
    expect(JSON.parse(JSON.stringify(snap))).toEqual(snap);
    expect(snap.listeners.map((l) => [l.listener, l.mode, l.services.map((s) => [s.service, s.inFlight, s.connections])]))
      .toEqual([['0.0.0.0:8080', 'http', [['ns/a', 2, 0]]], ['0.0.0.0:9000', 'tcp', [['ns/db', 0, 3]]]]);
  });

  it('records nothing while disabled', () => {
    const t = table();
    t.enabled = false;
    expect(t.listener('127.0.0.1:1', 'http')).toBeUndefined();
    expect(t.snapshot().listeners).toEqual([]);
  });
});
