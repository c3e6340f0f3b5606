/**
 * The data plane as its own process: a published Service keeps serving, with zero failed requests, while the
 * operator is stopped and while a `berth run` child is SIGKILLed; an operator started again attaches to the same
 * proxy process and pushes changes to it (a scale-up gets traffic); a SIGKILLed proxy process is started again by the
 * operator; a proxy process started alone serves its persisted configuration; control requests need the key.
 * Real processes, real sockets, the real engine; all traffic to 127.0.0.1, bounded in count and time.
 */
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { controlRequest } from '../operator/dataplane/control-client.ts';
import type { DataplaneInfo } from '../operator/dataplane/remote.ts';
import { berth, spawnBerth } from './helpers/cli.ts';
import { cleanupInstance, testDocker, uniqueInstance, waitFor } from './helpers/docker.ts';
import { makeRemote, type Remote } from './helpers/git.ts';
import { get } from './helpers/load.ts';
import { freePort } from './helpers/net.ts';
import { processAlive, proxyPid, runningOf, startTestOperator, stopProxyProcess, type TestOperator } from './helpers/operator.ts';

const docker = testDocker();
const instance = uniqueInstance('dataplane');
let remote: Remote;
let stateDir: string;
let port: number;
let op: TestOperator | undefined;
const children: ChildProcess[] = [];

const web = (replicas: number) => `apiVersion: berth/v1
kind: Service
metadata: { name: web, namespace: dp }
spec:
  image: berth-local/busybox:1
  command: [sh, -c, "mkdir -p /www && hostname > /www/index.html && exec httpd -f -p 8080 -h /www"]
  replicas: ${replicas}
  ports: [{ name: http, port: 8080 }]
  health:
    readiness: { http: { path: /, port: 8080 }, interval: 200ms, timeout: 200ms, failureThreshold: 1 }
  update: { order: start-first, parallelism: 1, monitor: 300ms }
  loadBalancer: { publish: { port: ${port}, host: 127.0.0.1 } }
`;

interface Steady {
  ok: number;
  failed: number;
  failures: string[];
  bodies: Set<string>;
  stop(): Promise<void>;
}

/** Requests back to back from `concurrency` loops, at most `maxRequests` in all and for at most `maxMs`. */
function steadyLoad(url: string, opts: { concurrency?: number; maxRequests?: number; maxMs?: number } = {}): Steady {
  const agent = new http.Agent({ keepAlive: true, maxSockets: opts.concurrency ?? 4 });
  const deadline = Date.now() + (opts.maxMs ?? 90_000);
  const max = opts.maxRequests ?? 200_000;
  let running = true;
  const s: Steady = { ok: 0, failed: 0, failures: [], bodies: new Set(), stop: async () => { running = false; await Promise.all(loops); agent.destroy(); } };
  const loops = Array.from({ length: opts.concurrency ?? 4 }, async () => {
    while (running && Date.now() < deadline && s.ok + s.failed < max) {
      const r = await get(url, agent);
      if ('body' in r) {
        s.ok++;
        s.bodies.add(r.body);
      } else {
        s.failed++;
        if (s.failures.length < 10) s.failures.push(r.error);
      }
      await new Promise((r) => setTimeout(r, 2));
    }
  });
  return s;
}

async function serves(): Promise<boolean> {
  return 'body' in (await get(`http://127.0.0.1:${port}/`, undefined));
}

async function dataplaneInfo(o: TestOperator): Promise<DataplaneInfo> {
  const r = await fetch(`${o.url}/v1/proxies`, { headers: o.auth });
  return ((await r.json()) as { dataplane: DataplaneInfo }).dataplane;
}

const converged = (o: TestOperator, what: string, pred: (ready: number) => boolean) =>
  o.waitPass((r) => r.converged && pred(r.status.services?.['dp/web']?.ready ?? -1), what, 90_000);

beforeAll(async () => {
  port = await freePort();
  stateDir = await fs.mkdtemp(path.join(os.tmpdir(), 'berth-state-'));
  remote = await makeRemote({ 'web.yaml': web(2) });
  op = await startTestOperator(remote.url, instance, {}, { stateDir });
  await converged(op, 'web x2', (n) => n === 2);
  await waitFor(serves, { what: 'the published port serving', timeoutMs: 30_000 });
}, 120_000);

afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await op?.stop(); // the operator, then its proxy process by pid, then the state dir
  await stopProxyProcess(stateDir, instance);
  await fs.rm(stateDir, { recursive: true, force: true });
  await remote?.close();
  await cleanupInstance(docker, instance);
}, 60_000);

describe('the proxy process outlives the operator', () => {
  it('serves with zero failed requests while the operator is stopped and while berth run is SIGKILLed, and is attached again', async () => {
    const pid = await proxyPid(stateDir, instance);
    expect(pid).not.toBeNull();
    expect(pid).not.toBe(process.pid);
    const load = steadyLoad(`http://127.0.0.1:${port}/`);
    await waitFor(() => load.ok > 50, { what: 'load running' });

    await op!.stopOperator();
    op = undefined;
    const downFrom = load.ok;
    await waitFor(() => load.ok > downFrom + 200, { what: 'requests served while the operator is down', timeoutMs: 20_000 });
    expect(load.failures).toEqual([]);

    // a real `berth run` process attaches to the same proxy process, then dies without any chance to clean up
    const child = spawnBerth(['run', '--repo', remote.url, '--instance', instance, '--state-dir', stateDir, '--listen', '127.0.0.1:0', '--interval', '1h', '--log-level', 'debug']);
    children.push(child);
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => { stderr += String(d); });
    await waitFor(() => /proxy process attached/.test(stderr) && /pass done/.test(stderr), { what: `berth run attached, one pass done (stderr: ${stderr.slice(-500)})`, timeoutMs: 30_000 });
    await new Promise((r) => setTimeout(r, 200)); // its configuration push (debounced) is out
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    const killedAt = load.ok;
    await waitFor(() => load.ok > killedAt + 200, { what: 'requests served after berth run was killed', timeoutMs: 20_000 });
    expect(load.failures).toEqual([]);
    expect(load.failed).toBe(0);
    expect(await proxyPid(stateDir, instance)).toBe(pid);
    expect(processAlive(pid!)).toBe(true);

    op = await startTestOperator(remote.url, instance, {}, { stateDir });
    await converged(op, 'web x2 again', (n) => n === 2);
    expect(load.failures).toEqual([]); // its replicas stayed ready while the new operator's probes had no verdict yet
    const info = await dataplaneInfo(op);
    expect(info).toMatchObject({ pid, state: 'running', restarts: 0 });
    const before = new Set(load.bodies);
    await remote.commit({ 'web.yaml': web(3) });
    op.trigger('test push');
    await converged(op, 'web x3', (n) => n === 3);
    const hosts = new Set((await runningOf(docker, instance, 'web')).map((c) => c.Id.slice(0, 12)));
    const added = [...hosts].filter((h) => !before.has(h));
    expect(added).toHaveLength(1);
    await waitFor(() => load.bodies.has(added[0]!), { what: 'the new replica getting traffic through the same proxy process', timeoutMs: 20_000 });
    await load.stop();
    expect(load.failures).toEqual([]);
    expect(load.failed).toBe(0);
    expect(await proxyPid(stateDir, instance)).toBe(pid);
  }, 180_000);

  it('starts a SIGKILLed proxy process again and serves within a deadline', async () => {
    const pid = (await proxyPid(stateDir, instance))!;
    process.kill(pid, 'SIGKILL');
    await waitFor(() => !processAlive(pid), { what: 'the proxy process gone' });
    const started = Date.now();
    await waitFor(serves, { what: 'the port serving again', timeoutMs: 20_000, intervalMs: 50 });
    expect(Date.now() - started).toBeLessThan(20_000);
    const info = await waitFor(async () => { const i = await dataplaneInfo(op!); return i.state === 'running' && i.pid !== pid ? i : undefined; }, { what: 'a new proxy process' });
    expect(info.restarts).toBeGreaterThanOrEqual(1);
    expect(await proxyPid(stateDir, instance)).toBe(info.pid); // written before its socket answered
  }, 60_000);
});

describe('a proxy process on its own', () => {
  it('serves its persisted configuration before any operator connects, and refuses control requests without the key', async () => {
    await op!.stopOperator();
    op = undefined;
    await stopProxyProcess(stateDir, instance);
    expect(await serves()).toBe(false);
    const child = spawnBerth(['proxy', '--state-dir', stateDir, '--instance', instance]);
    children.push(child);
    await waitFor(serves, { what: 'the persisted configuration served', timeoutMs: 20_000, intervalMs: 50 });

    const socket = path.join(stateDir, `proxy-${instance}.sock`);
    await waitFor(() => fs.stat(socket).then(() => true, () => false), { what: 'the control socket (opened after the listeners)' });
    expect((await fs.stat(socket)).mode & 0o777).toBe(0o600);
    expect((await fs.stat(path.join(stateDir, `proxy-${instance}.key`))).mode & 0o777).toBe(0o600);
    const key = (await fs.readFile(path.join(stateDir, `proxy-${instance}.key`), 'utf8')).trim();
    for (const [method, url] of [['GET', '/healthz'], ['GET', '/listeners'], ['GET', '/connections?address=127.0.0.1:1'], ['PUT', '/config']] as const) {
      expect((await controlRequest({ socket, key: 'wrong' }, method, url, method === 'PUT' ? { services: [], routes: [], endpoints: {} } : undefined)).status).toBe(401);
      expect((await controlRequest({ socket, key: '' }, method, url)).status).toBe(401);
    }
    expect(await serves()).toBe(true); // the refused PUT changed nothing
    const health = await controlRequest({ socket, key }, 'GET', '/healthz');
    expect(health.body).toMatchObject({ pid: child.pid, instance, listeners: 1 });

    const stopped = await berth(['proxy', '--stop', '--state-dir', stateDir, '--instance', instance]);
    expect(stopped.code).toBe(0);
    await waitFor(() => child.exitCode !== null, { what: 'berth proxy exited' });
    expect(child.exitCode).toBe(0);
    expect(await serves()).toBe(false);
  }, 60_000);
});
