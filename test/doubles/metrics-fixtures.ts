/** A Metrics whose every source is a fake with one series each: what the metrics and dashboard specs scrape. */
import type { PassResult } from '../../operator/reconciler/reconciler.ts';
import type { ObservedContainer } from '../../operator/model/state.ts';
import { Metrics, type MetricsSources } from '../../operator/server/metrics.ts';

/** A running replica of `ns/name` as a pass observes it. */
export function replica(key: string, n: number, id: string): ObservedContainer {
  const [namespace, name] = key.split('/') as [string, string];
  return {
    id, name: `berth.t.${namespace}.${name}.${n}.abc`, labels: { 'berth.managed': 'true', 'berth.namespace': namespace, 'berth.service': name, 'berth.replica': String(n), 'berth.kind': 'Service' },
    status: 'running', exitCode: 0, imageId: 'sha256:1', command: [], env: {}, restartPolicy: 'no', nanoCpus: 0, memory: 0, createdAt: '2026-01-01T00:00:00Z',
  };
}

/** A pass of revision `rev` that applied `outcomes` and reports `ns/web` with 2 of 3 replicas ready. */
export function pass(over: { rev?: string; ok?: boolean; fetchFailed?: boolean; outcomes?: { type: string; cause: string; service?: string; error?: boolean }[]; containers?: ObservedContainer[] } = {}): PassResult {
  const rev = over.rev ?? 'abc123';
  return {
    revision: rev, plan: null, pending: null, converged: over.ok !== false, desired: null,
    error: over.ok === false ? ({ code: 'E_DOCKER', terminal: false, message: 'engine down' } as unknown as PassResult['error']) : null,
    fetchError: over.fetchFailed ? ({ code: 'E_GIT', terminal: false, message: 'unreachable' } as unknown as PassResult['fetchError']) : null,
    applied: { outcomes: (over.outcomes ?? []).map((o) => ({ action: { type: o.type, cause: o.cause, service: o.service, reason: 'r' }, ...(o.error ? { error: { code: 'E_DOCKER' } } : {}) })) } as unknown as PassResult['applied'],
    observed: { containers: over.containers ?? [] } as unknown as PassResult['observed'],
    status: {
      apiVersion: 'berth/v1', kind: 'Status', instance: 't', source: { repo: 'r', branch: 'main', path: '.' }, revision: { applied: rev, latest: rev },
      conditions: [{ type: 'Ready', status: over.ok === false ? 'False' : 'True' }], drift: [], held: {}, lastError: null,
      services: { 'shop/web': { desired: 3, running: 3, ready: 2, health: 'Progressing', image: 'web:1', specHash: 'h', replicas: [] } },
    } as unknown as PassResult['status'],
  };
}

/** Every optional source, each with one series. */
export function fakeSources(over: Partial<MetricsSources> = {}): MetricsSources {
  return {
    containerStats: async (ids) => Object.fromEntries(ids.map((id) => [id, { cpuNs: 2.5e9, memoryBytes: 64 * 1024 * 1024, readAt: Date.now() }])),
    access: async () => ({
      buckets: [0.005, 0.01],
      listeners: [
        { listener: '0.0.0.0:80', mode: 'http', services: [{ service: 'shop/web', inFlight: 1, connections: 0, requests: { '2xx/upstream': 3, '5xx/proxy': 1 }, duration: { buckets: [1, 3], sum: 0.5, count: 4 }, bytes: { in: 10, out: 20 }, endpoints: { '10.0.0.1:80': 3 }, held: 0 }] },
        { listener: '0.0.0.0:5432', mode: 'tcp', services: [{ service: 'shop/db', inFlight: 0, connections: 2, requests: {}, duration: { buckets: [0, 0], sum: 9, count: 2 }, bytes: { in: 1, out: 1 }, endpoints: {} }] },
      ],
    }),
    autoscale: () => new Map([['shop/web', { min: 1, max: 5, replicas: 3, metrics: [{ metric: 'cpu', value: 40, target: 50 }] }]]),
    logs: () => ({ file: 'logs.db', open: true, bytes: 4096, lines: 12, maxBytes: 1 << 30, retention: '168h', following: 3, ingested: 12, queuedLines: 0, paused: false, forwarded: 5 }),
    ...over,
  };
}

/** A Metrics with every source faked and a pass, a probe and a fetch recorded; the API server's counters set. */
export function populatedMetrics(): Metrics {
  const m = new Metrics(fakeSources());
  m.recordPass(pass({ outcomes: [{ type: 'create', cause: 'change', service: 'shop/web' }, { type: 'start', cause: 'drift', service: 'shop/web' }], containers: [replica('shop/web', 1, 'c1')] }), 0.2);
  m.recordProbe({ service: 'shop/web', probe: 'readiness', type: 'http', ok: true, ms: 3 });
  m.recordProbe({ service: 'shop/web', probe: 'liveness', type: 'tcp', ok: false, ms: 1000 });
  m.recordFetch(0.02);
  m.recordFetch(0.5, Object.assign(new Error('unreachable'), { code: 'E_GIT' }));
  m.serve({
    bodies: () => ({ reading: 1, bufferedBytes: 10, peakBufferedBytes: 10, refused: { E_TOO_LARGE: 2 } }),
    gates: () => [{ name: 'api 127.0.0.1:7070', open: 2, max: 100, reserve: 0, refused: { total: 1, listener: 0, client: 0 } }],
    auth: () => ({ failures: { missing: 2 }, forbidden: 1, limited: 0 }),
  });
  return m;
}
