/**
 * Hold-and-wake in a real `berth proxy` process: services published with `wake` and no endpoint hold what arrives
 * (HTTP requests, a TCP connection), the wake is seen through watchWakeups on the control socket, and once a config
 * with a ready endpoint is pushed every held request is answered by the backend (none refused); beyond the queue and
 * past the timeout the proxy answers 503 with Retry-After. With --proxy-workers 2 the workers' wakes reach the primary.
 * Real processes (the proxy), backends in this process; loopback only, bounded in count and time.
 */
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { controlRequest } from '../operator/dataplane/control-client.ts';
import type { DataplaneConfig, MirrorEndpoint } from '../operator/dataplane/protocol.ts';
import { watchWakeups, type WakeupWatch } from '../operator/dataplane/wakeups.ts';
import type { PublishedService } from '../operator/proxy/proxies.ts';
import { spawnBerth } from './helpers/cli.ts';
import { waitFor } from './helpers/docker.ts';
import { freePort } from './helpers/net.ts';

interface Got {
  status: number;
  retryAfter: string | undefined;
  body: string;
}

/** One GET on its own connection, rejected after 15 s. */
function get(port: number, urlPath = '/'): Promise<Got> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: urlPath, agent: false, timeout: 15_000 }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, retryAfter: res.headers['retry-after'] as string | undefined, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    req.end();
  });
}

const closers: (() => Promise<void>)[] = [];

async function httpBackend(name: string): Promise<number> {
  const server = http.createServer((req, res) => {
    req.resume();
    res.end(`${name} ${req.url}`);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  closers.push(() => new Promise((r) => { server.closeAllConnections(); server.close(() => r()); }));
  return (server.address() as net.AddressInfo).port;
}

async function echoBackend(): Promise<number> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
    s.on('data', (d) => s.write(`echo:${d.toString()}`));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  closers.push(() => new Promise((r) => { for (const s of sockets) s.destroy(); server.close(() => r()); }));
  return (server.address() as net.AddressInfo).port;
}

/** A `berth proxy` process of its own instance and state dir. */
interface ProxyProcess {
  child: ChildProcess;
  stateDir: string;
  socket: string;
  keyFile: string;
  key: string;
  put(config: DataplaneConfig): Promise<void>;
  stop(): Promise<void>;
}

async function startProxyProcess(name: string, workers: number): Promise<ProxyProcess> {
  const stateDir = await fs.mkdtemp(path.join(os.tmpdir(), 'bwk-'));
  const instance = `${name}-${process.pid}`;
  const child = spawnBerth(['proxy', '--state-dir', stateDir, '--instance', instance, '--proxy-workers', String(workers), '--proxy-host', '127.0.0.1']);
  child.stderr?.on('data', () => undefined);
  child.stdout?.on('data', () => undefined);
  const socket = path.join(stateDir, `proxy-${instance}.sock`);
  const keyFile = path.join(stateDir, `proxy-${instance}.key`);
  await waitFor(() => fs.stat(socket).then(() => true, () => false), { what: 'the control socket', timeoutMs: 30_000 });
  const key = (await fs.readFile(keyFile, 'utf8')).trim();
  return {
    child, stateDir, socket, keyFile, key,
    async put(config) {
      const r = await controlRequest({ socket, key }, 'PUT', '/config', config, 5_000);
      expect(r.status).toBe(200);
    },
    async stop() {
      if (child.pid && child.exitCode === null) {
        child.kill('SIGTERM');
        await waitFor(() => child.exitCode !== null, { what: 'berth proxy exited', timeoutMs: 10_000 }).catch(() => child.kill('SIGKILL'));
      }
      await fs.rm(stateDir, { recursive: true, force: true });
    },
  };
}

const endpoint = (id: string, port: number): MirrorEndpoint => ({ id, address: '127.0.0.1', port, weight: 1, ready: true });
const published = (key: string, protocol: 'tcp' | 'http', port: number, wake?: { queue: number; timeoutMs: number }): PublishedService => ({
  key, spec: { loadBalancer: { algorithm: 'round-robin', protocol, targetPort: 80, weight: 1, publish: { port, host: '127.0.0.1' } } }, ...(wake ? { wake } : {}),
});

/** The `held` gauge of `service` summed over the listeners of GET /metrics. */
async function heldOf(p: ProxyProcess, service: string): Promise<number> {
  const snap = (await controlRequest({ socket: p.socket, key: p.key }, 'GET', '/metrics', undefined, 3_000)).body as { listeners: Array<{ services: Array<{ service: string; held?: number }> }> };
  return snap.listeners.flatMap((l) => l.services).filter((s) => s.service === service).reduce((n, s) => n + (s.held ?? 0), 0);
}

let proxy: ProxyProcess;
const ports = { http: 0, small: 0, slow: 0, tcp: 0 };
const endpoints: Record<string, MirrorEndpoint[]> = { 'w/http': [], 'w/small': [], 'w/slow': [], 'w/tcp': [] };
const config = (): DataplaneConfig => ({
  services: [
    published('w/http', 'http', ports.http, { queue: 10, timeoutMs: 20_000 }),
    published('w/small', 'http', ports.small, { queue: 2, timeoutMs: 20_000 }),
    published('w/slow', 'http', ports.slow, { queue: 5, timeoutMs: 500 }),
    published('w/tcp', 'tcp', ports.tcp, { queue: 4, timeoutMs: 20_000 }),
  ],
  routes: [],
  endpoints: structuredClone(endpoints),
});
const watches: WakeupWatch[] = [];

beforeAll(async () => {
  for (const k of Object.keys(ports) as (keyof typeof ports)[]) ports[k] = await freePort();
  proxy = await startProxyProcess('wake', 1);
  await proxy.put(config());
}, 60_000);

afterAll(async () => {
  for (const w of watches) w.stop();
  await proxy?.stop();
  for (const c of closers.splice(0)) await c();
}, 30_000);

describe('hold-and-wake in a berth proxy process', () => {
  it('holds 5 HTTP requests of a service at zero, reports the wake, and answers all 5 from the backend once it is ready', async () => {
    const wakes: string[] = [];
    watches.push(watchWakeups({ socket: proxy.socket, key: proxy.keyFile }, (s) => wakes.push(...s), { waitMs: 2_000 }));
    const sent = Array.from({ length: 5 }, (_, i) => get(ports.http, `/r${i}`));
    await waitFor(() => wakes.includes('w/http'), { what: 'the wake of w/http', timeoutMs: 10_000, intervalMs: 20 });
    await waitFor(async () => (await heldOf(proxy, 'w/http')) === 5, { what: '5 held', timeoutMs: 10_000, intervalMs: 20 });
    const backend = await httpBackend('web');
    endpoints['w/http'] = [endpoint('web-1', backend)];
    await proxy.put(config());
    const got = await Promise.all(sent);
    expect(got.map((g) => g.status)).toEqual([200, 200, 200, 200, 200]);
    expect(got.map((g) => g.body)).toEqual([0, 1, 2, 3, 4].map((i) => `web /r${i}`));
    expect(await heldOf(proxy, 'w/http')).toBe(0);
    // reported again only for a request held after a report: at most once per held request, never for nothing
    expect(wakes.filter((s) => s === 'w/http').length).toBeLessThanOrEqual(5);
    expect(wakes.filter((s) => s !== 'w/http' && s !== 'w/small' && s !== 'w/slow' && s !== 'w/tcp')).toEqual([]);
  }, 60_000);

  it('over a queue of 2, 3 of 5 requests get 503 with Retry-After and the 2 held are answered once ready', async () => {
    const sent = Array.from({ length: 5 }, () => get(ports.small));
    const refused: Got[] = [];
    for (const s of sent) void s.then((g) => { if (g.status === 503) refused.push(g); }, () => undefined);
    await waitFor(() => refused.length === 3, { what: '3 refused', timeoutMs: 10_000, intervalMs: 20 });
    for (const r of refused) {
      expect(r.retryAfter).toBe('1');
      expect(JSON.parse(r.body)).toMatchObject({ code: 'E_WAKE_QUEUE_FULL' });
    }
    expect(await heldOf(proxy, 'w/small')).toBe(2);
    endpoints['w/small'] = [endpoint('small-1', await httpBackend('small'))];
    await proxy.put(config());
    const statuses = (await Promise.all(sent)).map((g) => g.status).sort();
    expect(statuses).toEqual([200, 200, 503, 503, 503]);
  }, 60_000);

  it('answers 503 with Retry-After to a request held past the timeout (500 ms)', async () => {
    const started = Date.now();
    const got = await get(ports.slow);
    expect(got.status).toBe(503);
    expect(got.retryAfter).toBe('1');
    expect(JSON.parse(got.body)).toMatchObject({ code: 'E_WAKE_TIMEOUT' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(450);
    expect(Date.now() - started).toBeLessThan(5_000);
  }, 30_000);

  it('holds a TCP connection and forwards it once the endpoint is ready: the bytes round trip', async () => {
    const socket = net.connect(ports.tcp, '127.0.0.1');
    const answer = new Promise<string>((resolve, reject) => {
      socket.setTimeout(15_000, () => socket.destroy(new Error('tcp timed out')));
      socket.on('error', reject);
      socket.on('close', () => reject(new Error('closed before an answer')));
      socket.once('data', (d) => { resolve(d.toString()); socket.end(); });
    });
    socket.write('ping');
    await waitFor(async () => (await heldOf(proxy, 'w/tcp')) === 1, { what: 'the connection held', timeoutMs: 10_000, intervalMs: 20 });
    endpoints['w/tcp'] = [endpoint('tcp-1', await echoBackend())];
    await proxy.put(config());
    expect(await answer).toBe('echo:ping');
  }, 30_000);
});

describe('hold-and-wake with --proxy-workers 2', () => {
  it('reports the wakes of the workers on the primary and forwards what they hold once ready', async () => {
    const p = await startProxyProcess('wake2', 2);
    try {
      const port = await freePort();
      const svc = published('w2/http', 'http', port, { queue: 10, timeoutMs: 20_000 });
      await p.put({ services: [svc], routes: [], endpoints: { 'w2/http': [] } });
      const wakes: string[] = [];
      const watch = watchWakeups({ socket: p.socket, key: p.keyFile }, (s) => wakes.push(...s), { waitMs: 2_000 });
      watches.push(watch);
      const sent = Array.from({ length: 4 }, (_, i) => get(port, `/w${i}`));
      await waitFor(() => wakes.includes('w2/http'), { what: 'the wake of w2/http', timeoutMs: 10_000, intervalMs: 20 });
      await waitFor(async () => (await heldOf(p, 'w2/http')) === 4, { what: '4 held over the workers', timeoutMs: 10_000, intervalMs: 20 });
      const backend = await httpBackend('two');
      await p.put({ services: [svc], routes: [], endpoints: { 'w2/http': [endpoint('two-1', backend)] } });
      expect((await Promise.all(sent)).map((g) => g.status)).toEqual([200, 200, 200, 200]);
      watch.stop();
    } finally {
      await p.stop();
    }
  }, 60_000);
});
