/**
 * Traffic limits of a running berth: with a low connection budget set through the flags, floods of idle
 * TCP proxy connections, SSE watchers and idle API connections are refused beyond their caps while /healthz, the
 * connections already admitted and the webhook keep working; an idle proxied connection is closed after the idle
 * timeout; a replayed webhook delivery triggers one pass; the webhook secret never reaches a log line. All traffic is
 * to 127.0.0.1 (from several loopback source addresses, so per-client caps can be told apart), bounded, and stops.
 */
import { createHmac } from 'node:crypto';
import fs from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { flagsWith } from '../operator/settings/flags.ts';
import { startOperator, type Operator } from '../operator/commands/operator.ts';
import type { PassResult } from '../operator/reconciler/reconciler.ts';
import { createLogger } from '../operator/util/log.ts';
import { cleanupInstance, testDocker, uniqueInstance, waitFor } from './helpers/docker.ts';
import { makeRemote, type Remote } from './helpers/git.ts';
import { freePort } from './helpers/net.ts';
import { stopProxyProcess } from './helpers/operator.ts';
import { recordProxy } from './helpers/proxy-processes.ts';

const docker = testDocker();
const instance = uniqueInstance('limits');
const SECRET = 'limits-test-SECRET-4b1d0c9e77';
const IDLE_MS = 2_500;
let remote: Remote;
let op: Operator;
/** The local admin token of the state dir (the API needs credentials). */
let auth: { authorization: string };
let stateDir: string;
let proxyPort: number;
let echo: net.Server;
const logs: string[] = [];
const passes: { trigger: string; r: PassResult }[] = [];
const opened: net.Socket[] = [];

const manifest = (port: number) => `apiVersion: berth/v1
kind: Service
metadata: { name: echo, namespace: lim }
spec:
  image: berth-local/busybox:1
  replicas: 0
  ports: [{ name: tcp, port: 9000 }]
  loadBalancer: { publish: { port: ${port}, host: 127.0.0.1 } }
`;

/** A connection from `localAddress` to `port`: `served` when it echoes a line, `closed` when the far side closes it first. */
function tryEcho(port: number, localAddress: string, timeoutMs = 1_500): Promise<{ state: 'served' | 'closed' | 'silent'; socket: net.Socket }> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1', localAddress });
    opened.push(socket);
    const done = (state: 'served' | 'closed' | 'silent') => { clearTimeout(timer); socket.removeAllListeners('data'); resolve({ state, socket }); };
    socket.on('error', () => undefined);
    socket.once('data', () => done('served'));
    socket.once('close', () => done('closed'));
    socket.once('connect', () => socket.write('ping\n'));
    const timer = setTimeout(() => done('silent'), timeoutMs);
  });
}

/** An idle connection to `port`: `closed` when the far side closes it within `waitMs`, else `open`. */
function idle(port: number, localAddress: string, waitMs = 400): Promise<{ state: 'open' | 'closed'; socket: net.Socket }> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1', localAddress });
    opened.push(socket);
    socket.on('error', () => undefined);
    const timer = setTimeout(() => resolve({ state: 'open', socket }), waitMs);
    socket.once('close', () => { clearTimeout(timer); resolve({ state: 'closed', socket }); });
  });
}

const closedSoon = (s: net.Socket, ms: number) => new Promise<boolean>((resolve) => {
  if (s.destroyed) return resolve(true);
  const t = setTimeout(() => resolve(false), ms);
  s.once('close', () => { clearTimeout(t); resolve(true); });
});

/** An SSE watch from `localAddress`: the status, and the response to read events from. */
function watch(localAddress: string): Promise<{ status: number; res: http.IncomingMessage; req: http.ClientRequest }> {
  return new Promise((resolve, reject) => {
    const req = http.get(`${op.url}/v1/watch`, { localAddress, agent: false, headers: auth }, (res) => resolve({ status: res.statusCode ?? 0, res, req }));
    req.on('error', reject);
  });
}

async function register(port: number): Promise<number> {
  const res = await fetch(`${op.url}/v1/services/lim/echo/endpoints/local-echo`, { method: 'PUT', headers: auth, body: JSON.stringify({ address: '127.0.0.1', port, ttl: '1h' }) });
  return res.status;
}

beforeAll(async () => {
  echo = net.createServer((s) => { s.on('error', () => undefined); s.pipe(s); });
  await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
  proxyPort = await freePort();
  remote = await makeRemote({ 'echo.yaml': manifest(proxyPort) });
  stateDir = await fs.mkdtemp(path.join(os.tmpdir(), 'berth-state-'));
  recordProxy(stateDir, instance);
  const log = createLogger({ level: 'debug', write: (line) => logs.push(line) });
  op = await startOperator(flagsWith('run', {
    repo: remote.url, instance, interval: '1h', listen: '127.0.0.1:0', 'state-dir': stateDir, 'webhook-secret': SECRET,
    'max-connections': '40', 'proxy-workers': '1' /* the caps hold per worker: one makes them exact */, 'max-connections-per-client': '12', 'max-watchers': '6', 'max-blocking-queries': '4',
    'max-streams-per-client': '3', 'proxy-idle-timeout': `${IDLE_MS}ms`,
  }), log, { onPass: (r, trigger) => passes.push({ trigger, r }) });
  auth = { authorization: `Bearer ${(await fs.readFile(path.join(stateDir, 'cli-token'), 'utf8')).trim()}` };
  await waitFor(() => passes.some((p) => p.r.converged), { what: 'first converged pass', timeoutMs: 60_000 });
  expect(await register((echo.address() as net.AddressInfo).port)).toBe(200);
  await waitFor(async () => {
    const probe = await tryEcho(proxyPort, '127.0.0.1');
    probe.socket.destroy();
    return probe.state === 'served';
  }, { what: 'proxy serving the echo endpoint' });
}, 120_000);

afterAll(async () => {
  for (const s of opened) s.destroy();
  await op?.stop();
  await stopProxyProcess(stateDir, instance);
  await remote?.close();
  await new Promise((r) => echo?.close(r));
  await fs.rm(stateDir, { recursive: true, force: true });
  await cleanupInstance(docker, instance);
}, 60_000);

describe('connection limits', () => {
  it('refuses idle TCP proxy connections beyond the caps, keeps serving the admitted ones and /healthz, then closes idle ones', async () => {
    // budget 40, of which the API keeps 6 + 4 + 5 = 15: the proxy process gets the other 25, 12 per client address
    const flood = (await Promise.all(['127.0.0.2', '127.0.0.3', '127.0.0.4'].map(async (addr) => {
      const out = [];
      for (let i = 0; i < 12; i++) out.push(await tryEcho(proxyPort, addr));
      return out;
    }))).flat();
    const served = flood.filter((c) => c.state === 'served');
    expect(served).toHaveLength(25);
    expect(flood.filter((c) => c.state === 'closed')).toHaveLength(11);
    expect((await tryEcho(proxyPort, '127.0.0.2')).state).toBe('closed'); // its address holds 12 (or the proxy is full)
    expect((await tryEcho(proxyPort, '127.0.0.9')).state).toBe('closed'); // the proxy is full
    expect((await fetch(`${op.url}/healthz`)).status).toBe(200);
    const kept = served[0]!.socket;
    const again = new Promise<string>((resolve) => kept.once('data', (d) => resolve(String(d))));
    kept.write('still here\n');
    expect(await again).toBe('still here\n');
    // the proxy process's counters reach /metrics with the operator's next health check of it
    const refused = new RegExp(`berth_connections_refused_total\\{listener="service 127\\.0\\.0\\.1:${proxyPort}",limit="total"\\} [1-9]`);
    await waitFor(async () => refused.test(await (await fetch(`${op.url}/metrics`, { headers: auth })).text()), { what: 'the proxy refusals on /metrics', timeoutMs: 5_000 });
    // nothing crosses them any more: the idle timeout closes all of them, and their slots are free again
    const closed = await Promise.all(served.map((c) => closedSoon(c.socket, IDLE_MS + 3_000)));
    expect(closed.every(Boolean)).toBe(true);
    expect((await tryEcho(proxyPort, '127.0.0.9')).state).toBe('served');
  }, 60_000);

  it('refuses SSE watchers beyond the caps (429 per client, 503 in total); the admitted ones keep receiving events', async () => {
    const fromA: Awaited<ReturnType<typeof watch>>[] = [];
    for (let i = 0; i < 4; i++) fromA.push(await watch('127.0.0.5'));
    expect(fromA.map((w) => w.status)).toEqual([200, 200, 200, 429]);
    const fromB: Awaited<ReturnType<typeof watch>>[] = [];
    for (let i = 0; i < 4; i++) fromB.push(await watch('127.0.0.6'));
    expect(fromB.map((w) => w.status)).toEqual([200, 200, 200, 503]);
    expect(fromB[3]!.res.headers['retry-after']).toBeTruthy();
    expect((await fetch(`${op.url}/healthz`)).status).toBe(200);
    const event = new Promise<string>((resolve) => {
      let buf = '';
      fromA[0]!.res.on('data', (d: Buffer) => { buf += String(d); if (buf.includes('event: change')) resolve(buf); });
    });
    // a change of the service: a second endpoint registers
    const other = await fetch(`${op.url}/v1/services/lim/echo/endpoints/second`, { method: 'PUT', headers: auth, body: JSON.stringify({ address: '127.0.0.1', port: 1, ttl: '1h' }) });
    expect(other.status).toBe(200);
    expect(await event).toContain('"service":"lim/echo"');
    await fetch(`${op.url}/v1/services/lim/echo/endpoints/second`, { method: 'DELETE', headers: auth });
    for (const w of [...fromA, ...fromB]) w.req.destroy();
  });

  it('closes API connections beyond one address\'s share at once; /healthz from elsewhere answers', async () => {
    const conns = [];
    for (let i = 0; i < 13; i++) conns.push(await idle(Number(new URL(op.url).port), '127.0.0.8', 150));
    expect(conns.slice(0, 12).every((c) => c.state === 'open')).toBe(true);
    expect(conns[12]!.state).toBe('closed');
    expect((await fetch(`${op.url}/healthz`)).status).toBe(200);
    for (const c of conns) c.socket.destroy();
  });
});

describe('webhook', () => {
  it('a replayed signed delivery triggers exactly one pass', async () => {
    const body = JSON.stringify({ ref: 'refs/heads/main', after: '0'.repeat(40) });
    const headers = { 'x-github-event': 'push', 'x-github-delivery': 'f3a1b2c4-0000-4000-8000-000000000001', 'x-hub-signature-256': `sha256=${createHmac('sha256', SECRET).update(body).digest('hex')}` };
    const before = passes.filter((p) => p.trigger === 'webhook github push').length;
    const statuses = [];
    for (let i = 0; i < 10; i++) statuses.push((await fetch(`${op.url}/hooks/git`, { method: 'POST', body, headers })).status);
    expect(statuses).toEqual([202, ...Array(9).fill(200)]);
    await waitFor(() => passes.filter((p) => p.trigger === 'webhook github push').length > before, { what: 'the webhook pass' });
    await new Promise((r) => setTimeout(r, 1_000));
    expect(passes.filter((p) => p.trigger === 'webhook github push').length - before).toBe(1);
  });

  it('never logs the webhook secret', () => {
    expect(logs.length).toBeGreaterThan(0);
    expect(logs.filter((l) => l.includes(SECRET))).toEqual([]);
  });
});
