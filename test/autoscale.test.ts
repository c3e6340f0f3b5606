/**
 * The autoscaler on the real engine with real load on loopback through berth's proxy: replicas that burn CPU per
 * request (busybox httpd + a CGI loop, each replica limited to 0.1 core) grow under load and fall back after the
 * scale-down window, with no failed request either way; slow requests scale a service on concurrency and on p95
 * latency; a push that changes another field keeps the count; a push lowering max scales down through the drain.
 * Short windows and a 1 s sync period (--autoscale-interval) keep it quick; every wait has a deadline.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanupInstance, testDocker, uniqueInstance } from './helpers/docker.ts';
import { makeRemote, type Remote } from './helpers/git.ts';
import { freePort } from './helpers/net.ts';
import { runningOf, startTestOperator, type TestOperator } from './helpers/operator.ts';

const docker = testDocker();
const instance = uniqueInstance('ascale');
let remote: Remote;
let op: TestOperator;
const ports = { burn: 0, slow: 0, late: 0, zero: 0 };

/** A service of busybox httpd serving /cgi-bin/run, which runs `script`; published on `port` by berth's proxy. */
function cgiService(name: string, port: number, script: string, autoscale: string, extra = ''): string {
  return `apiVersion: berth/v1
kind: Service
metadata: { name: ${name}, namespace: test }
spec:
  image: berth-local/busybox:1
  command: [sh, -c, "mkdir -p /www && echo ok > /www/index.html && exec httpd -f -p 80 -h /www"]
  files:
    - { content: ${JSON.stringify(`#!/bin/sh\nprintf 'Content-Type: text/plain\\r\\n\\r\\n'\n${script}\necho done\n`)}, target: /www/cgi-bin/run, mode: "0755" }
  ports: [{ port: 80 }]
  resources: { cpu: 0.1, memory: 32Mi }
  health:
    readiness: { tcp: { port: 80 }, interval: 200ms, timeout: 200ms }
  loadBalancer: { publish: { port: ${port}, host: 127.0.0.1 } }
  update: { monitor: 0s }
  autoscale: ${autoscale}
${extra}`;
}

// About 0.3 s of one core per request: at 0.1 core per replica, a replica is busy all the time under load.
const BURN = 'i=0; while [ $i -lt 30000 ]; do i=$((i+1)); done';
const WINDOWS = 'behavior: { scaleUp: { period: 1s }, scaleDown: { stabilization: 4s, period: 1s } }';
const burn = (max = 4, env = '') => cgiService('burn', ports.burn, BURN, `{ min: 1, max: ${max}, metrics: [{ cpu: 50% }], ${WINDOWS} }`, env);
const slow = () => cgiService('slow', ports.slow, 'sleep 1', `{ min: 1, max: 3, metrics: [{ concurrency: 2 }], ${WINDOWS} }`);
const late = () => cgiService('late', ports.late, 'sleep 0.4', `{ min: 1, max: 3, metrics: [{ latencyP95: 150ms }], ${WINDOWS} }`);
const zero = () => cgiService('zero', ports.zero, 'true', '{ min: 0, max: 2, metrics: [{ concurrency: 10 }], scaleToZero: { after: 2s } }');

beforeAll(async () => {
  ports.burn = await freePort();
  ports.slow = await freePort();
  ports.late = await freePort();
  ports.zero = await freePort();
  remote = await makeRemote({ 'burn.yaml': burn(), 'slow.yaml': slow(), 'late.yaml': late(), 'zero.yaml': zero() });
  op = await startTestOperator(remote.url, instance, { 'autoscale-interval': '1s', 'proxy-host': '127.0.0.1', 'metrics-public': true });
}, 60_000);

afterAll(async () => {
  await op?.stop();
  await remote?.close();
  await cleanupInstance(docker, instance);
});

/** Clients sending requests one after the other to `port` until stopped; every answer other than 200 "done" counts as failed. */
function load(port: number, clients: number, pauseMs = 0): { stop(): Promise<{ ok: number; failed: string[] }> } {
  let running = true;
  const result = { ok: 0, failed: [] as string[] };
  const loops = Array.from({ length: clients }, async () => {
    while (running) {
      try {
        const res = await fetch(`http://127.0.0.1:${port}/cgi-bin/run`, { signal: AbortSignal.timeout(20_000) });
        const body = await res.text();
        if (res.status === 200 && body.includes('done')) result.ok++;
        else result.failed.push(`${res.status} ${body.slice(0, 80)}`);
      } catch (err) {
        result.failed.push(`${String(err)} ${String((err as { cause?: unknown }).cause ?? "")}`);
      }
      if (pauseMs) await new Promise((resolve) => setTimeout(resolve, pauseMs));
    }
  });
  return { async stop() { running = false; await Promise.all(loops); return result; } };
}

/** The first pass (one triggered every 500 ms as well) where the service's ready and desired counts satisfy `pred`. */
async function replicas(service: string, pred: (ready: number, desired: number) => boolean, what: string, timeoutMs = 90_000): Promise<number> {
  const timer = setInterval(() => op.trigger('test'), 500);
  try {
    const pass = await op.waitPass((p) => {
      const s = p.status.services[`test/${service}`];
      return s !== undefined && pred(s.ready, s.desired);
    }, what, timeoutMs);
    return pass.status.services[`test/${service}`]!.ready;
  } finally {
    clearInterval(timer);
  }
}

describe('autoscale', () => {
  it('all three start at one ready replica', async () => {
    for (const s of ['burn', 'slow', 'late']) await replicas(s, (ready, desired) => ready === 1 && desired === 1, `${s} ready`);
  }, 120_000);

  it('CPU: grows under load to the HPA proposal and falls after the window, with no failed request', async () => {
    const traffic = load(ports.burn, 6);
    let grown = 0;
    try {
      grown = await replicas('burn', (ready) => ready >= 3, 'burn scaled up to at least 3 ready replicas');
      const status = op.passes.at(-1)!.status.services['test/burn']!;
      expect(status.autoscale).toMatchObject({ min: 1, max: 4 });
      expect(status.autoscale!.lastScale!.reason).toMatch(/^cpu \d+ % of target 50 %/);
      const metrics = await (await fetch(`${op.url}/metrics`)).text();
      expect(metrics).toMatch(/^berth_autoscale_replicas\{service="test\/burn"\} [2-4]$/m);
      expect(metrics).toMatch(/^berth_autoscale_metric_target\{service="test\/burn",metric="cpu"\} 50$/m);
    } finally {
      const r = await traffic.stop();
      expect(r.failed).toEqual([]);
      expect(r.ok).toBeGreaterThan(0);
    }
    expect(grown).toBeLessThanOrEqual(4);
    // a light load through the scale-down (about 0.05 core, a quarter of one replica's): the drain keeps every request whole
    const light = load(ports.burn, 1, 1500);
    try {
      await replicas('burn', (ready, desired) => desired === 1 && ready === 1, 'burn back at one replica', 90_000);
    } finally {
      const r = await light.stop();
      expect(r.failed).toEqual([]);
    }
    expect(await runningOf(docker, instance, 'burn')).toHaveLength(1);
  }, 240_000);

  it('concurrency: slow requests in flight scale up; p95 latency above the target scales up', async () => {
    const a = load(ports.slow, 6);
    const b = load(ports.late, 4);
    try {
      await replicas('slow', (ready) => ready >= 2, 'slow scaled on concurrency');
      await replicas('late', (ready) => ready >= 2, 'late scaled on latency');
      const services = op.passes.at(-1)!.status.services;
      expect(services['test/slow']!.autoscale!.lastScale!.reason).toMatch(/^concurrency/);
      expect(services['test/late']!.autoscale!.lastScale!.reason).toMatch(/^latencyP95/);
    } finally {
      const [ra, rb] = [await a.stop(), await b.stop()];
      expect([...ra.failed, ...rb.failed]).toEqual([]);
    }
  }, 240_000);

  it('a push of another field keeps the count; a push lowering max below it scales down through the drain', async () => {
    const traffic = load(ports.burn, 6);
    try {
      await replicas('burn', (ready) => ready >= 3, 'burn scaled up again');
      const before = op.passes.at(-1)!.status.services['test/burn']!.desired;
      // env changes the spec: a rolling update of every replica, at the autoscaler's count (not spec.replicas 1)
      await remote.commit({ 'burn.yaml': burn(4, '  env: { V: "2" }\n') }, 'burn env');
      const timer = setInterval(() => op.trigger('test'), 500);
      const rolled = await op.waitPass((p) => {
        const s = p.status.services['test/burn'];
        return s !== undefined && p.desired?.services.find((d) => d.key === 'test/burn')?.env.V === '2' && s.ready >= 2 && (p.pending?.actions.length ?? 1) === 0;
      }, 'burn rolled to env V=2', 120_000).finally(() => clearInterval(timer));
      expect(rolled.status.services['test/burn']!.desired).toBeGreaterThanOrEqual(Math.min(before, 2));
      await remote.commit({ 'burn.yaml': burn(2, '  env: { V: "2" }\n') }, 'burn max 2');
      await replicas('burn', (ready, desired) => desired <= 2 && ready <= 2 && ready >= 1, 'burn at most 2 after max 2', 90_000);
    } finally {
      const r = await traffic.stop();
      expect(r.failed).toEqual([]);
    }
  }, 300_000);

  it('scale to zero: idle -> 0 replicas with the listener open; the first request is answered 200 and the service is back at 1', async () => {
    await replicas('zero', (ready, desired) => desired === 0 && ready === 0, 'zero scaled to zero', 60_000);
    expect(await runningOf(docker, instance, 'zero')).toHaveLength(0);
    expect(op.passes.at(-1)!.status.services['test/zero']!.autoscale!.lastScale!.reason).toMatch(/^idle for 2s(\d+ms)? -> 0 \(scale to zero\)$/);
    // three requests at once while at zero: held by the proxy, none refused
    const answers = await Promise.all([1, 2, 3].map(async () => {
      const res = await fetch(`http://127.0.0.1:${ports.zero}/cgi-bin/run`, { signal: AbortSignal.timeout(30_000) });
      return `${res.status} ${(await res.text()).trim()}`;
    }));
    expect(answers).toEqual(['200 done', '200 done', '200 done']);
    await replicas('zero', (ready, desired) => desired === 1 && ready === 1, 'zero back at one replica', 30_000);
    expect(op.passes.at(-1)!.status.services['test/zero']!.autoscale!.lastScale!.reason).toMatch(/wake up/);
  }, 120_000);
});
