/**
 * GET /v1/series on a running operator and the real engine: a published HTTP service behind berth's proxy, a short
 * --series-step, 50 loopback requests; the service's history shows a request rate, a median latency and the memory
 * of its replicas within seconds.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SeriesColumns } from '../operator/metrics/series.ts';
import { cleanupInstance, testDocker, uniqueInstance, waitFor } from './helpers/docker.ts';
import { makeRemote, type Remote } from './helpers/git.ts';
import { freePort } from './helpers/net.ts';
import { startTestOperator, type TestOperator } from './helpers/operator.ts';

const docker = testDocker();
const instance = uniqueInstance('series');
let remote: Remote;
let op: TestOperator;
let port = 0;

const web = (p: number): string => `apiVersion: berth/v1
kind: Service
metadata: { name: web, namespace: test }
spec:
  image: berth-local/busybox:1
  command: [sh, -c, "mkdir -p /www && echo ok > /www/index.html && exec httpd -f -p 80 -h /www"]
  replicas: 2
  ports: [{ port: 80 }]
  health:
    readiness: { http: { path: /, port: 80 }, interval: 500ms, timeout: 400ms }
  loadBalancer: { protocol: http, publish: { port: ${p}, host: 127.0.0.1 } }
`;

const series = async (query: string): Promise<{ status: number; body: unknown }> => {
  const res = await fetch(`${op.url}/v1/series?${query}`, { headers: op.auth });
  return { status: res.status, body: await res.json() };
};

beforeAll(async () => {
  port = await freePort();
  remote = await makeRemote({ 'web.yaml': web(port) });
  op = await startTestOperator(remote.url, instance, { 'proxy-host': '127.0.0.1', 'series-step': '500ms' });
  await op.reached((r) => r.status.services['test/web']?.ready === 2, 'web ready');
}, 90_000);

afterAll(async () => {
  await op?.stop();
  await remote?.close();
  await cleanupInstance(docker, instance);
});

describe('GET /v1/series on a running operator', () => {
  it('shows the request rate, the median latency and the memory of a service', async () => {
    // A rate is a difference between two samples of the proxy's counters: the traffic goes once the sampler has read
    // them (a rate of 0), not while the proxy process is still starting (no counters: no rate, no baseline).
    await waitFor(async () => {
      const { status, body } = await series('service=test/web');
      return status === 200 && (body as SeriesColumns).rps.some((v) => v !== null);
    }, { what: 'a first rate of test/web' });
    for (let i = 0; i < 50; i++) expect((await fetch(`http://127.0.0.1:${port}/`)).status).toBe(200);
    const s = await waitFor(async () => {
      const { status, body } = await series('service=test/web&since=15m');
      if (status !== 200) return undefined;
      const c = body as SeriesColumns;
      const has = (col: (number | null)[]) => col.some((v) => v !== null && v > 0);
      return has(c.rps) && has(c.p50) && has(c.memory) ? c : undefined;
    }, { what: 'rps, p50 and memory on /v1/series', timeoutMs: 20_000 }).catch(async (e: Error) => { throw new Error(`${e.message}: ${JSON.stringify((await series('service=test/web')).body)}`); });
    expect(s.service).toBe('test/web');
    expect(s.stepMs).toBe(500);
    const n = s.t.length;
    for (const col of [s.rps, s.p50, s.p95, s.cpu, s.memory]) expect(col).toHaveLength(n);
    const now = Date.now() / 1000;
    for (let i = 0; i < n; i++) {
      expect(s.t[i]).toBeGreaterThan(now - 120);
      expect(s.t[i]).toBeLessThanOrEqual(now + 1);
      if (i) expect(s.t[i]).toBeGreaterThan(s.t[i - 1]!);
    }
    // the 50 requests, and the probes' none (they go to the replicas directly): at most 50 over the steps
    const rate = s.rps.reduce<number>((sum, v, i) => sum + (v ?? 0) * (i ? s.t[i]! - s.t[i - 1]! : 0), 0);
    expect(rate).toBeGreaterThan(0);
    expect(rate).toBeLessThanOrEqual(51);
    for (const v of s.p50) if (v !== null) expect(v).toBeGreaterThan(0), expect(v).toBeLessThan(10_000);
    for (const v of s.memory) if (v !== null) expect(v).toBeGreaterThan(0), expect(v).toBeLessThan(512 * 1024 * 1024);
  }, 40_000);

  it('answers 404 for an unknown service and 400 for a bad parameter', async () => {
    expect((await series('service=test/nope')).status).toBe(404);
    expect((await series('service=test/web&since=soon')).status).toBe(400);
    expect((await series('')).status).toBe(400);
  });
});
