/**
 * berth's proxies in front of real containers: a published Service balanced round-robin (TCP) and by a
 * header (HTTP), rolling update and scale-down under a real load with zero failed requests, a Route with weighted
 * canary backends shifted in git without dropping a keep-alive connection, discovery for containers (network alias,
 * dependsOn environment), and a bad revision that leaves the proxies serving.
 */
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeRemote, type Remote } from './helpers/git.ts';
import { cleanupInstance, testDocker, uniqueInstance, waitFor } from './helpers/docker.ts';
import { get, startLoad } from './helpers/load.ts';
import { freePort } from './helpers/net.ts';
import { runningOf, startTestOperator, type TestOperator } from './helpers/operator.ts';
import { createDockerRuntime } from '../operator/runtime/docker.ts';
import type { PassResult } from '../operator/reconciler/reconciler.ts';

const docker = testDocker();
const runtime = createDockerRuntime(docker);
const instance = uniqueInstance('proxy');
let remote: Remote;
let op: TestOperator;
let webPort: number;
let apiPort: number;
let routePort: number;

/** A busybox httpd answering `<body> <hostname>` on / and ok on /healthz, gated by readiness. */
function httpService(name: string, o: { body: string; replicas: number; lb?: string; extra?: string }): string {
  return `apiVersion: berth/v1
kind: Service
metadata: { name: ${name}, namespace: px }
spec:
  image: berth-local/busybox:1
  command: [sh, -c, "mkdir -p /www && echo \\"$BODY $(hostname)\\" > /www/index.html && echo ok > /www/healthz && exec httpd -f -p 8080 -h /www"]
  env: { BODY: "${o.body}" }
  replicas: ${o.replicas}
  ports: [{ name: http, port: 8080 }]
  health:
    readiness: { http: { path: /healthz, port: 8080 }, interval: 200ms, timeout: 200ms, failureThreshold: 1 }
  update: { order: start-first, parallelism: 1, monitor: 300ms }
${o.lb ? `  loadBalancer: ${o.lb}\n` : ''}${o.extra ?? ''}`;
}

const web = (body: string, replicas: number) => httpService('web', { body, replicas, lb: `{ algorithm: round-robin, publish: { port: ${webPort} } }` });

function route(weights: [number, number]): string {
  return `apiVersion: berth/v1
kind: Route
metadata: { name: shop, namespace: px }
spec:
  publish: { port: ${routePort}, host: 127.0.0.1 }
  rules:
    - pathPrefix: /
      backends: [{ service: web, weight: ${weights[0]} }, { service: canary, weight: ${weights[1]} }]
`;
}

/** Commits, pushes and wakes the operator (as the webhook would). */
async function push(files: Record<string, string | null>): Promise<string> {
  const rev = await remote.commit(files);
  op.trigger('test push');
  return rev;
}

function converged(what: string, pred: (r: PassResult) => boolean = () => true) {
  return op.waitPass((r) => r.converged && r.status.conditions.find((c) => c.type === 'Ready')?.status === 'True' && pred(r), what, 90_000);
}

/** Distinct bodies seen over `n` sequential requests. */
async function sample(url: string, n: number, headers: Record<string, string> = {}): Promise<Map<string, number>> {
  const seen = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const r = await get(url, undefined, headers);
    if ('error' in r) throw new Error(`${url}: ${r.error}`);
    seen.set(r.body, (seen.get(r.body) ?? 0) + 1);
  }
  return seen;
}

beforeAll(async () => {
  [webPort, apiPort, routePort] = await Promise.all([freePort(), freePort(), freePort()]);
  remote = await makeRemote({ 'web.yaml': web('v1', 3) });
  op = await startTestOperator(remote.url, instance);
  await converged('web v1 x3');
}, 120_000);

afterAll(async () => {
  await op?.stop();
  await remote?.close();
  await cleanupInstance(docker, instance);
}, 60_000);

describe('a Service with loadBalancer.publish', () => {
  it('balances round-robin over every ready replica and lists the listener', async () => {
    const url = `http://127.0.0.1:${webPort}/`;
    const seen = await waitFor(async () => {
      const s = await sample(url, 6);
      return s.size === 3 ? s : undefined;
    }, { what: '3 replicas behind the proxy', timeoutMs: 20_000 });
    expect([...seen.keys()].every((b) => b.startsWith('v1 '))).toBe(true);
    const listed = await (await fetch(`${op.url}/v1/proxies`, { headers: op.auth })).json() as { proxies: { address: string; kind: string; protocol: string; owners: string[]; backends: Record<string, number> }[] };
    expect(listed.proxies).toContainEqual(expect.objectContaining({ address: `0.0.0.0:${webPort}`, kind: 'service', protocol: 'tcp', owners: ['px/web'], backends: { 'px/web': 3 } }));
  });

  it('loses no request while a rolling update replaces every replica under load', async () => {
    const load = startLoad(`http://127.0.0.1:${webPort}/`, { concurrency: 8 });
    await waitFor(() => load.result.ok > 50, { what: 'load running' });
    await push({ 'web.yaml': web('v2', 3) });
    await converged('v2 applied', (p) => p.desired?.services.find((x) => x.name === 'web')?.spec.env.BODY === 'v2');
    expect((await runningOf(docker, instance, 'web')).length).toBe(3);
    const okBefore = load.result.ok;
    await waitFor(() => load.result.ok > okBefore + 50, { what: 'load after the update' });
    const r = await load.stop();
    expect(r.failures).toEqual([]);
    expect(r.failed).toBe(0);
    expect(r.ok).toBeGreaterThan(200);
  }, 120_000);

  it('loses no request while scaling down from 3 to 1 under load', async () => {
    const load = startLoad(`http://127.0.0.1:${webPort}/`, { concurrency: 8 });
    await waitFor(() => load.result.ok > 50, { what: 'load running' });
    await push({ 'web.yaml': web('v2', 1) });
    await waitFor(async () => (await runningOf(docker, instance, 'web')).length === 1, { what: 'one replica left', timeoutMs: 60_000 });
    const okBefore = load.result.ok;
    await waitFor(() => load.result.ok > okBefore + 50, { what: 'load after the scale-down' });
    const r = await load.stop();
    expect(r.failures).toEqual([]);
    expect(r.failed).toBe(0);
  }, 120_000);
});

describe('consistent hashing on a header (HTTP listener)', () => {
  it('sends one user to one replica and spreads users over replicas', async () => {
    const api = httpService('api', { body: 'api', replicas: 3, lb: `{ algorithm: consistent-hash, hashKey: "header:x-user", publish: { port: ${apiPort}, host: 127.0.0.1 } }` });
    await push({ 'api.yaml': api });
    const url = `http://127.0.0.1:${apiPort}/`;
    await waitFor(async () => (await sample(url, 30, {}).catch(() => new Map())).size === 3, { what: 'api x3 ready behind the proxy', timeoutMs: 60_000, intervalMs: 300 });
    const owners = new Set<string>();
    for (let u = 0; u < 20; u++) {
      const seen = await sample(url, 5, { 'x-user': `user-${u}` });
      expect(seen.size).toBe(1);
      owners.add([...seen.keys()][0]!);
    }
    expect(owners.size).toBeGreaterThan(1);
  }, 90_000);
});

describe('a Route with weighted backends', () => {
  it('splits 90/10 exactly and shifts to the canary in git without dropping a keep-alive connection', async () => {
    const canary = httpService('canary', { body: 'canary', replicas: 1 });
    await push({ 'canary.yaml': canary, 'route.yaml': route([90, 10]) });
    const url = `http://127.0.0.1:${routePort}/`;
    await waitFor(async () => {
      const s = await sample(url, 20).catch(() => new Map<string, number>());
      return [...s.keys()].some((b) => b.startsWith('canary ')) && [...s.keys()].some((b) => b.startsWith('v2 '));
    }, { what: 'both backends ready behind the route', timeoutMs: 60_000, intervalMs: 300 });
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    let canaries = 0;
    const ports = new Set<number | undefined>();
    for (let i = 0; i < 200; i++) {
      const r = await get(url, agent);
      if ('error' in r) throw new Error(r.error);
      ports.add(r.localPort);
      if (r.body.startsWith('canary ')) canaries++;
    }
    expect(canaries).toBe(20); // smooth weighted round-robin is exact over whole cycles
    const load = startLoad(url, { concurrency: 4 });
    await push({ 'route.yaml': route([0, 100]) });
    let streak = 0; // under 90/10 a canary answer comes every 10th request: wait for more than a cycle of them
    await waitFor(async () => {
      const r = await get(url, agent);
      if ('error' in r) throw new Error(r.error);
      ports.add(r.localPort);
      streak = r.body.startsWith('canary ') ? streak + 1 : 0;
      return streak >= 12;
    }, { what: 'all traffic on the canary', timeoutMs: 30_000, intervalMs: 10 });
    for (let i = 0; i < 20; i++) {
      const r = await get(url, agent);
      if ('error' in r) throw new Error(r.error);
      ports.add(r.localPort);
      expect(r.body.startsWith('canary ')).toBe(true);
    }
    expect(ports.size).toBe(1); // one keep-alive connection all along
    agent.destroy();
    const r = await load.stop();
    expect(r.failures).toEqual([]);
  }, 120_000);
});

describe('discovery for containers', () => {
  it('gives dependsOn services their address in the environment and a name on the namespace network', async () => {
    const client = `apiVersion: berth/v1
kind: Service
metadata: { name: client, namespace: px }
spec:
  image: berth-local/busybox:1
  command: [sleep, "3600"]
  dependsOn: [web, canary]
`;
    await push({ 'client.yaml': client });
    const [c] = await waitFor(async () => {
      const running = await runningOf(docker, instance, 'client');
      return running.length === 1 ? running : undefined;
    }, { what: 'client running', timeoutMs: 60_000 });
    const env = ((await docker.getContainer(c!.Id).inspect()).Config.Env ?? []);
    expect(env).toContain('WEB_SERVICE_HOST=host.docker.internal');
    expect(env).toContain(`WEB_SERVICE_PORT=${webPort}`);
    expect(env).toContain('CANARY_SERVICE_HOST=canary');
    expect(env).toContain('CANARY_SERVICE_PORT=8080');
    // busybox's static wget crashes resolving names in a container with extra /etc/hosts entries; nc does not.
    const byName = await runtime.exec(c!.Id, ['sh', '-c', 'printf "GET / HTTP/1.0\r\n\r\n" | nc -w 3 "$CANARY_SERVICE_HOST" "$CANARY_SERVICE_PORT"'], 10_000);
    expect(byName.exitCode).toBe(0);
    expect(byName.output).toMatch(/\r\n\r\ncanary /);
    // The web proxy listens on the host, reached through the gateway as host.docker.internal.
    const viaProxy = await runtime.exec(c!.Id, ['sh', '-c', 'printf "GET / HTTP/1.0\r\n\r\n" | nc -w 3 "$WEB_SERVICE_HOST" "$WEB_SERVICE_PORT"'], 10_000);
    expect(viaProxy.exitCode).toBe(0);
    expect(viaProxy.output).toMatch(/\r\n\r\nv2 /);
  }, 90_000);
});

describe('bad input', () => {
  it('rejects a second publisher of a port with file:line and keeps serving', async () => {
    const before = await runningOf(docker, instance, 'web');
    const clash = httpService('clash', { body: 'x', replicas: 1, lb: `{ algorithm: round-robin, publish: { port: ${webPort} } }` });
    await push({ 'clash.yaml': clash });
    const r = await op.waitPass((p) => p.error !== null, 'the clash rejected', 60_000);
    expect(r.error?.message).toMatch(/clash\.yaml:\d+/);
    expect(r.error?.message).toMatch(new RegExp(`${webPort}`));
    const after = await runningOf(docker, instance, 'web');
    expect(after.map((c) => c.Id)).toEqual(before.map((c) => c.Id));
    const answer = await get(`http://127.0.0.1:${webPort}/`, undefined);
    expect('body' in answer && answer.body.startsWith('v2 ')).toBe(true);
    expect(await runningOf(docker, instance, 'clash')).toEqual([]);
  }, 90_000);
});
