/**
 * `berth proxy --proxy-workers 2`: both cluster workers serve one published port; a SIGKILLed worker loses no request
 * beyond those in flight on it and is forked again; GET /connections sums over the workers; a rolling update of the
 * endpoints under load fails no request; with --proxy-workers 1 no cluster runs. Real processes (the proxy), backends in this process; loopback only, bounded.
 */
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { controlRequest } from '../operator/dataplane/control-client.ts';
import type { DataplaneConfig, DataplaneHealth } from '../operator/dataplane/protocol.ts';
import { spawnBerth } from './helpers/cli.ts';
import { waitFor } from './helpers/docker.ts';
import { get } from './helpers/load.ts';
import { freePort } from './helpers/net.ts';

const instance = `workers-${process.pid}`;
let stateDir: string;
let child: ChildProcess | undefined;
let socket: string;
let key: string;
let tcpPort: number;
let httpPort: number;
const backends: http.Server[] = [];

async function backend(name: string): Promise<{ server: http.Server; port: number }> {
  const server = http.createServer((req, res) => {
    req.resume();
    res.end(name);
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  backends.push(server);
  return { server, port: (server.address() as net.AddressInfo).port };
}

const endpoint = (id: string, port: number) => ({ id, address: '127.0.0.1', port, weight: 1, ready: true });
const config = (ports: Array<[string, number]>, at = { tcp: tcpPort, http: httpPort }): DataplaneConfig => ({
  services: [
    { key: 'w/tcp', spec: { loadBalancer: { algorithm: 'round-robin', protocol: 'tcp', targetPort: 80, weight: 1, publish: { port: at.tcp, host: '127.0.0.1' } } } },
    { key: 'w/http', spec: { loadBalancer: { algorithm: 'round-robin', protocol: 'http', targetPort: 80, weight: 1, publish: { port: at.http, host: '127.0.0.1' } } } },
  ],
  routes: [],
  endpoints: { 'w/tcp': ports.map(([id, p]) => endpoint(id, p)), 'w/http': ports.map(([id, p]) => endpoint(id, p)) },
});

const control = (method: 'GET' | 'PUT', url: string, body?: unknown) => controlRequest({ socket, key }, method, url, body, 5_000);
const health = async () => (await control('GET', '/healthz')).body as DataplaneHealth;
interface WorkerStats { pid: number; listeners: Array<{ address: string; stats: { total: number; active: number } }> }
const workerStats = async () => ((await control('GET', '/listeners')).body as { workers: WorkerStats[] }).workers;

/** `n` requests, `concurrency` at a time, each on a new connection (the kernel picks a worker per connection). */
async function burst(url: string, n: number, concurrency = 8): Promise<{ ok: number; failures: string[]; bodies: Set<string> }> {
  const out = { ok: 0, failures: [] as string[], bodies: new Set<string>() };
  let left = n;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (left-- > 0) {
      const r = await get(url, undefined, { connection: 'close' });
      if ('body' in r) { out.ok++; out.bodies.add(r.body); } else out.failures.push(r.error);
    }
  }));
  return out;
}

/** Requests back to back until stopped (at most 60 s), each on a new connection. */
function load(url: string, concurrency = 4) {
  let running = true;
  const s = { ok: 0, failures: [] as string[] };
  const deadline = Date.now() + 60_000;
  const loops = Array.from({ length: concurrency }, async () => {
    while (running && Date.now() < deadline) {
      const r = await get(url, undefined, { connection: 'close' });
      if ('body' in r) s.ok++; else s.failures.push(r.error);
      await new Promise((r) => setTimeout(r, 2));
    }
  });
  return { s, stop: async () => { running = false; await Promise.all(loops); return s; } };
}

beforeAll(async () => {
  stateDir = await fs.mkdtemp(path.join(os.tmpdir(), 'bw-'));
  [tcpPort, httpPort] = [await freePort(), await freePort()];
  const a = await backend('a');
  await fs.writeFile(path.join(stateDir, `proxy-${instance}.json`), JSON.stringify(config([['a', a.port]])), { mode: 0o600 });
  child = spawnBerth(['proxy', '--state-dir', stateDir, '--instance', instance, '--proxy-workers', '2', '--proxy-host', '127.0.0.1']);
  child.stderr?.on('data', () => undefined);
  child.stdout?.on('data', () => undefined);
  socket = path.join(stateDir, `proxy-${instance}.sock`);
  await waitFor(() => fs.stat(socket).then(() => true, () => false), { what: 'the control socket', timeoutMs: 30_000 });
  key = (await fs.readFile(path.join(stateDir, `proxy-${instance}.key`), 'utf8')).trim();
}, 60_000);

afterAll(async () => {
  if (child?.pid && child.exitCode === null) {
    child.kill('SIGTERM');
    await waitFor(() => child!.exitCode !== null, { what: 'berth proxy exited', timeoutMs: 10_000 }).catch(() => child!.kill('SIGKILL'));
  }
  for (const b of backends) b.closeAllConnections();
  await Promise.all(backends.map((b) => new Promise((r) => b.close(r))));
  await fs.rm(stateDir, { recursive: true, force: true });
}, 30_000);

describe('a proxy process with 2 workers', () => {
  it('serves one published port from both workers, TCP and HTTP', async () => {
    const h = await health();
    expect(h.pid).toBe(child!.pid);
    expect(h.workers).toHaveLength(2);
    expect(h.listeners).toBe(2);
    for (const port of [tcpPort, httpPort]) {
      const r = await burst(`http://127.0.0.1:${port}/`, 200, 16);
      expect(r.failures).toEqual([]);
      expect(r.ok).toBe(200);
    }
    const stats = await workerStats();
    expect(stats.map((w) => w.pid).sort()).toEqual([...h.workers!].sort());
    for (const w of stats) expect(w.listeners.reduce((n, l) => n + l.stats.total, 0)).toBeGreaterThan(0); // each worker served some
    const merged = ((await control('GET', '/listeners')).body as { listeners: Array<{ address: string; stats: { total: number } }> }).listeners;
    const sum = (address: string) => stats.reduce((n, w) => n + (w.listeners.find((l) => l.address === address)?.stats.total ?? 0), 0);
    for (const l of merged) expect(l.stats.total).toBe(sum(l.address));
    // The access counters (GET /metrics) add up over the workers too.
    const access = (await control('GET', '/metrics')).body as { listeners: Array<{ listener: string; services: Array<{ requests: Record<string, number> }> }> };
    const httpAccess = access.listeners.find((l) => l.listener === `127.0.0.1:${httpPort}`);
    const requests = httpAccess?.services.reduce((n, x) => n + Object.values(x.requests).reduce((a, b) => a + b, 0), 0) ?? 0;
    expect(requests).toBeGreaterThanOrEqual(200);
  }, 60_000);

  it('sums GET /connections over the workers', async () => {
    const a = (await health()).workers!;
    expect(a).toHaveLength(2);
    const target = (((await control('GET', '/listeners')).body as { listeners: Array<{ backends: Record<string, number> }> }).listeners.length);
    expect(target).toBe(2);
    const address = `127.0.0.1:${(backends[0]!.address() as net.AddressInfo).port}`;
    const sockets: net.Socket[] = [];
    for (let i = 0; i < 24; i++) {
      const s = net.connect(tcpPort, '127.0.0.1');
      await new Promise<void>((resolve, reject) => {
        s.once('error', reject);
        s.once('data', () => resolve()); // the upstream answered: the connection is open to the backend
        s.write('GET / HTTP/1.1\r\nhost: x\r\n\r\n');
      });
      sockets.push(s);
    }
    const perWorker = (await workerStats()).map((w) => w.listeners.find((l) => l.address === `127.0.0.1:${tcpPort}`)!.stats.active);
    expect(perWorker.reduce((n, v) => n + v, 0)).toBe(24);
    const open = (await control('GET', `/connections?address=${encodeURIComponent(address)}`)).body as { open: number };
    expect(open.open).toBe(24);
    for (const s of sockets) s.destroy();
    await waitFor(async () => ((await control('GET', `/connections?address=${encodeURIComponent(address)}`)).body as { open: number }).open === 0, { what: 'connections closed', timeoutMs: 10_000 });
  }, 60_000);

  it('forks a SIGKILLed worker again; the port serves throughout, losing at most the requests in flight on it', async () => {
    const before = (await health()).workers!;
    const l = load(`http://127.0.0.1:${httpPort}/`, 4);
    await new Promise((r) => setTimeout(r, 500));
    process.kill(before[0]!, 'SIGKILL');
    await waitFor(async () => { const w = (await health()).workers!; return w.length === 2 && !w.includes(before[0]!); }, { what: 'the worker forked again', timeoutMs: 20_000, intervalMs: 100 });
    await new Promise((r) => setTimeout(r, 500));
    const s = await l.stop();
    expect(s.failures.length).toBeLessThanOrEqual(4); // at most one request in flight per load loop
    expect(s.ok).toBeGreaterThan(50);
    const fresh = (await health()).workers!.find((p) => !before.includes(p))!;
    await waitFor(async () => {
      await burst(`http://127.0.0.1:${httpPort}/`, 40, 8);
      const w = (await workerStats()).find((x) => x.pid === fresh);
      return (w?.listeners.reduce((n, x) => n + x.stats.total, 0) ?? 0) > 0;
    }, { what: 'the new worker serves the current configuration', timeoutMs: 20_000, intervalMs: 100 });
    expect((await health()).listeners).toBe(2);
  }, 60_000);

  it('rolls the endpoints over under load with zero failed requests', async () => {
    const l = load(`http://127.0.0.1:${httpPort}/`, 4);
    const t = load(`http://127.0.0.1:${tcpPort}/`, 4);
    let old = { id: 'a', server: backends[0]!, port: (backends[0]!.address() as net.AddressInfo).port };
    for (const id of ['b', 'c', 'd']) {
      const next = await backend(id);
      expect((await control('PUT', '/config', config([[old.id, old.port], [id, next.port]]))).status).toBe(200); // start first
      await new Promise((r) => setTimeout(r, 300));
      expect((await control('PUT', '/config', config([[id, next.port]]))).status).toBe(200); // then leave the old one
      const address = encodeURIComponent(`127.0.0.1:${old.port}`);
      await waitFor(async () => ((await control('GET', `/connections?address=${address}`)).body as { open: number }).open === 0, { what: 'drained', timeoutMs: 10_000, intervalMs: 50 });
      await new Promise<void>((r) => { old.server.close(() => r()); old.server.closeIdleConnections(); });
      old = { id, server: next.server, port: next.port };
      await new Promise((r) => setTimeout(r, 300));
    }
    const [sh, st] = [await l.stop(), await t.stop()];
    expect(sh.failures).toEqual([]);
    expect(st.failures).toEqual([]);
    expect(sh.ok).toBeGreaterThan(50);
    expect(st.ok).toBeGreaterThan(50);
    const r = await burst(`http://127.0.0.1:${httpPort}/`, 20, 4);
    expect([...r.bodies]).toEqual(['d']);
  }, 90_000);
});

describe('a proxy process with --proxy-workers 1', () => {
  it('runs no cluster: the process itself serves the port', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'bw1-'));
    const one = spawnBerth(['proxy', '--state-dir', dir, '--instance', 'one', '--proxy-workers', '1', '--proxy-host', '127.0.0.1']);
    one.stderr?.on('data', () => undefined);
    one.stdout?.on('data', () => undefined);
    try {
      const a = await backend('one');
      const port = await freePort();
      const cfg = config([['one', a.port]], { tcp: await freePort(), http: port });
      const sock = path.join(dir, 'proxy-one.sock');
      await waitFor(() => fs.stat(sock).then(() => true, () => false), { what: 'the control socket', timeoutMs: 30_000 });
      const k = (await fs.readFile(path.join(dir, 'proxy-one.key'), 'utf8')).trim();
      expect((await controlRequest({ socket: sock, key: k }, 'PUT', '/config', cfg)).status).toBe(200);
      const h = (await controlRequest({ socket: sock, key: k }, 'GET', '/healthz')).body as DataplaneHealth;
      expect(h).toMatchObject({ pid: one.pid, workers: [], listeners: 2 });
      const r = await burst(`http://127.0.0.1:${port}/`, 20, 4);
      expect(r.failures).toEqual([]);
      expect([...r.bodies]).toEqual(['one']);
      expect((await controlRequest({ socket: sock, key: k }, 'GET', '/listeners')).body).not.toHaveProperty('workers');
    } finally {
      one.kill('SIGTERM');
      await waitFor(() => one.exitCode !== null, { what: 'berth proxy exited', timeoutMs: 10_000 }).catch(() => one.kill('SIGKILL'));
      await fs.rm(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
