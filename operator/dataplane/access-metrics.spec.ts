import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { accessTable, type AccessSnapshot, type ServiceAccessSnapshot } from '../proxy/access-stats.ts';
import { Metrics } from '../server/metrics.ts';
import { startServer } from '../server/server.ts';
import { silentLogger } from '../util/log.ts';
import { accessSnapshot, mergeAccess, renderAccessMetrics } from './access-metrics.ts';
import { startControlServer } from './control-server.ts';
import { ensureKey } from './files.ts';
import { dataplanePaths } from './protocol.ts';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function stateDir(): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'berth-access-'));
  cleanups.push(() => fs.rm(dir, { recursive: true, force: true }));
  return dir;
}

function service(over: Partial<ServiceAccessSnapshot> = {}): ServiceAccessSnapshot {
  return {
    service: 'ns/web', inFlight: 1, connections: 0, requests: { '2xx/upstream': 3, '5xx/proxy': 1 },
    duration: { buckets: [1, 2, 4], sum: 0.5, count: 4 }, bytes: { in: 10, out: 20 }, endpoints: { '10.0.0.1:80': 3 }, ...over,
  };
}
const snap = (services: ServiceAccessSnapshot[], mode: 'tcp' | 'http' = 'http', listener = '0.0.0.0:80'): AccessSnapshot => ({ buckets: [0.005, 0.01], listeners: [{ listener, mode, services }] });

describe('proxy access metrics (operator side)', () => {
  it('renders requests, duration histogram, bytes, in flight and endpoints per listener and service', async () => {
    const text = await renderAccessMetrics(snap([service()]));
    const ls = 'listener="0.0.0.0:80",service="ns/web"';
    for (const line of [
      `berth_proxy_requests_total{${ls},code="2xx",source="upstream"} 3`, `berth_proxy_requests_total{${ls},code="5xx",source="proxy"} 1`,
      `berth_proxy_request_duration_seconds_bucket{${ls},le="0.005"} 1`, `berth_proxy_request_duration_seconds_bucket{${ls},le="0.01"} 2`,
      `berth_proxy_request_duration_seconds_bucket{${ls},le="+Inf"} 4`, `berth_proxy_request_duration_seconds_sum{${ls}} 0.5`,
      `berth_proxy_request_duration_seconds_count{${ls}} 4`, `berth_proxy_bytes_total{${ls},direction="in"} 10`, `berth_proxy_bytes_total{${ls},direction="out"} 20`,
      `berth_proxy_in_flight{${ls}} 1`, `berth_proxy_upstream_requests_total{${ls},endpoint="10.0.0.1:80"} 3`,
      '# TYPE berth_proxy_request_duration_seconds histogram',
    ]) expect(text.split('\n')).toContain(line);
    expect(text).not.toContain('berth_proxy_connections_total{');
  });

  it('renders TCP listeners as connections, without request codes', async () => {
    const text = await renderAccessMetrics(snap([service({ service: 'ns/db', connections: 7, requests: {} })], 'tcp', '0.0.0.0:5432'));
    expect(text).toContain('berth_proxy_connections_total{listener="0.0.0.0:5432",service="ns/db"} 7\n');
    expect(text).not.toContain('berth_proxy_requests_total{');
  });

  it('sums the snapshots of several proxy processes field by field', () => {
    const merged = mergeAccess([snap([service()]), snap([service({ requests: { '2xx/upstream': 2 }, endpoints: { '10.0.0.2:80': 1 } })]), snap([service({ service: 'ns/api' })])]);
    expect(merged.listeners).toHaveLength(1);
    expect(merged.listeners[0]!.services).toEqual([
      { service: 'ns/web', inFlight: 2, connections: 0, requests: { '2xx/upstream': 5, '5xx/proxy': 1 }, duration: { buckets: [2, 4, 8], sum: 1, count: 8 }, bytes: { in: 20, out: 40 }, endpoints: { '10.0.0.1:80': 3, '10.0.0.2:80': 1 } },
      service({ service: 'ns/api' }),
    ]);
  });

  it('sums and renders the held gauge of services with a wake queue, and nothing of it for the others', async () => {
    const merged = mergeAccess([snap([service({ held: 2 })]), snap([service({ held: 1 }), service({ service: 'ns/api' })])]);
    expect(merged.listeners[0]!.services.map((s) => [s.service, s.held])).toEqual([['ns/web', 3], ['ns/api', undefined]]);
    const text = await renderAccessMetrics(merged);
    expect(text).toContain('# TYPE berth_proxy_held gauge\nberth_proxy_held{listener="0.0.0.0:80",service="ns/web"} 3\n');
    expect(text).not.toContain('berth_proxy_held{listener="0.0.0.0:80",service="ns/api"}');
  });

  it('fetches the snapshot from the proxy control server (GET /metrics)', async () => {
    const paths = dataplanePaths(await stateDir(), 'spec');
    const key = await ensureKey(paths.key);
    const server = await startControlServer({
      socket: paths.socket, key, log: silentLogger, list: () => [], openTo: () => 0, gates: () => [], apply: async () => {},
      health: () => ({ pid: 1, instance: 'spec', settings: { proxyHost: '127.0.0.1', idleTimeoutMs: 1_000, maxConnections: 'auto', maxConnectionsPerClient: 8 }, startedAt: '', configuredAt: null, listeners: 0 }),
    });
    cleanups.push(() => server.close());
    accessTable.enabled = true;
    accessTable.listener('0.0.0.0:8080', 'http')!.service('ns/web').record(200, 'upstream', 3, 1, 2, '10.0.0.1:80');
    cleanups.push(() => accessTable.clear());
    const line = 'berth_proxy_requests_total{listener="0.0.0.0:8080",service="ns/web",code="2xx",source="upstream"} 1\n';
    expect(await renderAccessMetrics((await accessSnapshot([paths])())!)).toContain(line);
    // and through berth's own /metrics, with its other series
    const api = await startServer('127.0.0.1', 0, { log: silentLogger, metrics: new Metrics({ access: accessSnapshot([paths]) }), status: () => null, trigger: () => {} });
    cleanups.push(() => api.close());
    const scraped = await (await fetch(`${api.url}/metrics`)).text();
    expect(scraped).toContain('berth_passes_total');
    expect(scraped).toContain(line);
  });

  it('reads nothing, within the bound, when the proxy process is absent or does not answer', async () => {
    const dir = await stateDir();
    expect(await accessSnapshot([dataplanePaths(dir, 'none')])()).toBeUndefined();
    const paths = dataplanePaths(dir, 'hung');
    await ensureKey(paths.key);
    const sockets = new Set<net.Socket>();
    const hung = net.createServer((s) => sockets.add(s)); // accepts, never answers
    await new Promise<void>((resolve) => hung.listen(paths.socket, resolve));
    cleanups.push(() => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      hung.close(() => resolve());
    }));
    const started = Date.now();
    expect(await accessSnapshot([paths], 200)()).toBeUndefined();
    expect(Date.now() - started).toBeLessThan(1_000);
  });
});
