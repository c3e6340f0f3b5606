/**
 * Many hosts on real engines: the main engine plus berth-e1 (unix socket) and berth-e2 (TCP + TLS client
 * certificates) as Nodes. Replicas spread over the three, constraints pin them, an image that only the main engine has
 * is delivered to the others by berth, a node that stops answering has its replicas moved and, once back, its stale
 * replicas removed (no duplicates), and a high-priority replica preempts a low one. The "killed" node is berth-e1
 * reached through a loopback TCP relay this test opens and closes: the fault never touches the shared engines.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type Dockerode from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeRemote, type Remote } from './helpers/git.ts';
import { cleanupInstance, testDocker, TEST_IMAGE, uniqueInstance, waitFor } from './helpers/docker.ts';
import { extraEngines } from './helpers/engines.ts';
import { createRelay, freePort } from './helpers/net.ts';
import { berth } from './helpers/cli.ts';
import { startTestOperator, type TestOperator } from './helpers/operator.ts';
import type { PassResult } from '../operator/reconciler/reconciler.ts';

const docker = testDocker();
const { e1, e2 } = extraEngines();
const instance = uniqueInstance('nodes');
const IMAGE = `berth-test/${instance}:v1`; // only on the main engine: berth must carry it to the others
let remote: Remote;
let op: TestOperator;
/** Node e1 is berth-e1 reached through this loopback relay: closing it "kills" the node. */
const relay = createRelay('/run/berth-engines/e1/docker.sock');

function nodes(extra = ''): string {
  return `apiVersion: berth/v1
kind: Node
metadata: { name: main }
spec: { endpoint: "unix:///var/run/docker.sock", labels: { zone: a }${extra} }
---
apiVersion: berth/v1
kind: Node
metadata: { name: e1 }
spec: { endpoint: "tcp://127.0.0.1:${relay.port()}", labels: { zone: b }${extra} }
---
apiVersion: berth/v1
kind: Node
metadata: { name: e2 }
spec:
  endpoint: "${e2.endpoint}"
  tls: { ca: ${e2.tls.ca}, cert: ${e2.tls.cert}, key: ${e2.tls.key} }
  labels: { zone: c }${extra ? `\n  ${extra.replace(/^, /, '')}` : ''}
`;
}

function svc(name: string, o: { replicas: number; placement?: string; memory?: string }): string {
  return `apiVersion: berth/v1
kind: Service
metadata: { name: ${name}, namespace: test }
spec:
  image: ${IMAGE}
  command: [sleep, "3600"]
  replicas: ${o.replicas}
${o.memory ? `  resources: { memory: ${o.memory} }\n` : ''}${o.placement ? `  placement: ${o.placement}\n` : ''}`;
}

/** Running containers of `service` of this instance on one engine. */
async function on(engine: Dockerode, service: string): Promise<Dockerode.ContainerInfo[]> {
  return engine.listContainers({ filters: { label: [`berth.instance=${instance}`, `berth.service=${service}`], status: ['running'] } });
}

async function placement(service: string): Promise<{ main: number; e1: number; e2: number }> {
  const [a, b, c] = await Promise.all([on(docker, service), on(e1.docker, service), on(e2.docker, service)]);
  return { main: a.length, e1: b.length, e2: c.length };
}

async function push(files: Record<string, string | null>): Promise<void> {
  await remote.commit(files);
  op.trigger('test push');
}

const serviceOf = (r: PassResult, key: string) => r.status.services[key];

beforeAll(async () => {
  await relay.open();
  await docker.getImage(TEST_IMAGE).tag({ repo: `berth-test/${instance}`, tag: 'v1' });
  remote = await makeRemote({ 'nodes.yaml': nodes(), 'web.yaml': svc('web', { replicas: 3 }) });
  op = await startTestOperator(remote.url, instance, { 'node-grace': '2s' });
}, 60_000);

afterAll(async () => {
  await op?.stop();
  await relay.close();
  await remote?.close();
  await Promise.all([docker, e1.docker, e2.docker].map((d) => cleanupInstance(d, instance)));
}, 60_000);

describe('several engines', () => {
  it('spreads replicas one per node and delivers the image to the nodes that lacked it', async () => {
    const r = await op.waitPass((p) => p.converged && serviceOf(p, 'test/web')?.ready === 3, 'web 3/3 over three nodes', 90_000);
    expect(await placement('web')).toEqual({ main: 1, e1: 1, e2: 1 });
    expect(r.status.nodes?.map((n) => [n.name, n.state])).toEqual([['e1', 'Ready'], ['e2', 'Ready'], ['main', 'Ready']]);
    expect(serviceOf(r, 'test/web')!.replicas.map((x) => x.node).sort()).toEqual(['e1', 'e2', 'main']);
    for (const engine of [e1.docker, e2.docker]) expect((await engine.getImage(IMAGE).inspect()).Id).toBe((await docker.getImage(IMAGE).inspect()).Id);
  }, 120_000);

  it('honours constraints', async () => {
    await push({ 'api.yaml': svc('api', { replicas: 2, placement: '{ constraints: ["node.labels.zone == c"] }' }) });
    await op.waitPass((p) => p.converged && serviceOf(p, 'test/api')?.ready === 2, 'api on zone c', 60_000);
    expect(await placement('api')).toEqual({ main: 0, e1: 0, e2: 2 });
  }, 90_000);

  it('probes, balances and heals replicas on every engine', async () => {
    const port = await freePort();
    await push({ 'www.yaml': `apiVersion: berth/v1
kind: Service
metadata: { name: www, namespace: test }
spec:
  image: ${IMAGE}
  command: [sh, -c, "mkdir -p /www && hostname > /www/index.html && exec httpd -f -p 8080 -h /www"]
  replicas: 3
  ports: [{ port: 8080 }]
  health: { readiness: { http: { path: /, port: 8080 }, interval: 200ms, timeout: 200ms } }
  loadBalancer: { publish: { port: ${port}, host: 127.0.0.1 } }
` });
    await op.waitPass((p) => p.converged && serviceOf(p, 'test/www')?.ready === 3, 'www ready on three nodes', 60_000);
    expect(await placement('www')).toEqual({ main: 1, e1: 1, e2: 1 });
    const hosts = await waitFor(async () => {
      const seen = new Set<string>();
      for (let i = 0; i < 9; i++) seen.add(await fetch(`http://127.0.0.1:${port}/`).then((r) => r.text(), () => 'error'));
      return seen.size === 3 && !seen.has('error') ? seen : undefined;
    }, { what: 'the proxy reaching a replica on each engine', timeoutMs: 20_000 });
    expect(hosts.size).toBe(3);
    const [onE2] = await on(e2.docker, 'www');
    await e2.docker.getContainer(onE2!.Id).remove({ force: true }); // by hand, on the TLS engine: drift
    await waitFor(async () => (await on(e2.docker, 'www')).length === 1 && (await on(e2.docker, 'www'))[0]!.Id !== onE2!.Id, { what: 'www recreated on e2', timeoutMs: 30_000 }).catch((e: Error) => { throw new Error(`${e.message}\nlast log lines:\n${op.recentLog().join('\n')}`); });
    await push({ 'www.yaml': null });
  }, 120_000);

  it('moves the replicas of a node that stops answering, and removes the stale ones when it is back', async () => {
    await relay.close();
    const moved = await op.waitPass((p) => p.status.nodes?.find((n) => n.name === 'e1')?.state === 'NotReady' && p.converged && serviceOf(p, 'test/web')?.ready === 3, 'web moved off e1', 60_000);
    expect(serviceOf(moved, 'test/web')!.replicas.map((x) => x.node)).not.toContain('e1');
    const away = await placement('web');
    expect(away.main + away.e2).toBe(3);
    expect(away.e1).toBe(1); // still running on the engine berth cannot reach: left alone, not counted

    await relay.open(); // same port: the node answers again
    await op.waitPass((p) => p.status.nodes?.find((n) => n.name === 'e1')?.state === 'Ready' && p.converged, 'e1 back', 60_000);
    await waitFor(async () => (await placement('web')).e1 === 0, { what: 'stale replica on e1 removed', timeoutMs: 30_000 });
    const back = await placement('web');
    expect(back.main + back.e1 + back.e2).toBe(3);
  }, 120_000);

  it('preempts a lower-priority replica for one that fits nowhere, which waits as pending', async () => {
    await push({
      'nodes.yaml': nodes(', capacity: { memory: 100Mi }'),
      'web.yaml': null, 'api.yaml': null,
      'low.yaml': svc('low', { replicas: 3, memory: '60Mi', placement: '{ priority: 0 }' }),
    });
    await op.waitPass((p) => p.converged && serviceOf(p, 'test/low')?.ready === 3, 'low x3', 90_000);
    await push({ 'high.yaml': svc('high', { replicas: 1, memory: '60Mi', placement: '{ priority: 100 }' }) });
    const r = await op.waitPass((p) => serviceOf(p, 'test/high')?.ready === 1 && /pending/.test(serviceOf(p, 'test/low')?.message ?? ''), 'high placed by preemption', 90_000);
    expect(serviceOf(r, 'test/low')!.message).toMatch(/1 replica\(s\) pending: 0\/3 nodes available: 3 insufficient memory/);
    const low = await placement('low');
    expect(low.main + low.e1 + low.e2).toBe(2);
  }, 150_000);

  it('reports an unauthenticated engine and an unreadable TLS file clearly and keeps the other nodes working', async () => {
    const before = await placement('low');
    const bad = `---
apiVersion: berth/v1
kind: Node
metadata: { name: plain }
spec: { endpoint: "tcp://localhost:23760", labels: { zone: d } }
---
apiVersion: berth/v1
kind: Node
metadata: { name: nocert }
spec:
  endpoint: "tcp://127.0.0.1:1"
  tls: { ca: /nonexistent/ca.pem, cert: /nonexistent/cert.pem, key: /nonexistent/key.pem }
`;
    await push({ 'bad-nodes.yaml': bad });
    const r = await op.waitPass((p) => (p.status.nodes ?? []).filter((n) => n.state === 'NotReady').length === 2, 'both bad nodes NotReady', 60_000);
    const byName = Object.fromEntries((r.status.nodes ?? []).map((n) => [n.name, n]));
    expect(byName.plain?.error).toMatch(/HTTPS/i);
    expect(byName.nocert?.error).toMatch(/node nocert: cannot read TLS CA \/nonexistent\/ca\.pem: ENOENT/);
    expect(byName.main?.state).toBe('Ready');
    expect(await placement('low')).toEqual(before);
    expect(serviceOf(r, 'test/high')?.ready).toBe(1);
  }, 90_000);

  it('berth plan explains a replica that fits on no node', async () => {
    await push({ 'huge.yaml': svc('huge', { replicas: 1, memory: '200Mi' }) });
    const stateDir = await mkdtemp(path.join(os.tmpdir(), 'berth-plan-'));
    try {
      const r = await berth(['plan', '--repo', remote.url, '--instance', instance, '--state-dir', stateDir]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toContain('unschedulable:');
      expect(r.stdout).toMatch(/test\/huge: 1 replica\(s\) pending: 0\/4 nodes available: 3 insufficient memory, 1 node not ready/);
    } finally {
      await rm(stateDir, { recursive: true, force: true });
    }
  }, 60_000);
});
