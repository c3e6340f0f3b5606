/** Hold-and-wake on real loopback listeners: the embedded proxy (HTTP and TCP) and the Route router. */
import http from 'node:http';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { startEcho, startHttpBackend, type Backend } from '../../test/doubles/proxy-fixtures.ts';
import { waitFor } from '../../test/helpers/docker.ts';
import { accessTable } from './access-stats.ts';
import type { Endpoint } from './lb/types.ts';
import { startProxy, type Proxy, type ProxyOptions } from './proxy.ts';
import { startRouter, type Router } from './router.ts';
import { wakeSignals } from './wake.ts';

const POLL = { timeoutMs: 5_000, intervalMs: 5 };
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  wakeSignals.take();
});

interface Got {
  status: number;
  retryAfter: string | undefined;
  body: string;
}

/** One request on its own connection; `abort` destroys it (the client leaving). Rejects after 8 s. */
function send(port: number, path = '/', opts: { method?: string; body?: string } = {}): { done: Promise<Got>; abort(): void } {
  let req!: http.ClientRequest;
  const done = new Promise<Got>((resolve, reject) => {
    req = http.request({ host: '127.0.0.1', port, path, method: opts.method ?? 'GET', agent: false, timeout: 8_000 }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, retryAfter: res.headers['retry-after'] as string | undefined, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    req.end(opts.body);
  });
  return { done, abort: () => req.destroy() };
}

async function proxy(extra: Partial<ProxyOptions>): Promise<Proxy> {
  const p = await startProxy({ host: '127.0.0.1', port: 0, algorithm: 'round-robin', mode: 'http', endpoints: [], service: 'ns/web', ...extra });
  cleanups.push(() => p.close());
  return p;
}

async function httpBackend(name: string): Promise<Backend> {
  const b = await startHttpBackend(name);
  cleanups.push(() => b.close());
  return b;
}

/** The `held` gauge of `service` on the listener at `port`. */
function held(port: number, service: string): number | undefined {
  const l = accessTable.snapshot().listeners.find((x) => x.listener === `127.0.0.1:${port}`);
  return l?.services.find((s) => s.service === service)?.held;
}

const ep = (b: Backend): Endpoint => ({ id: b.name, address: b.address, weight: 1 });
const nameOf = (body: string): string => (JSON.parse(body) as { name: string }).name;

describe('hold-and-wake, HTTP mode', () => {
  it('holds requests while the service has no endpoint, notes the wake, and forwards them all once one is ready', async () => {
    const p = await proxy({ wake: { queue: 10, timeoutMs: 5_000 } });
    const sent = [send(p.port, '/a'), send(p.port, '/b', { method: 'POST', body: 'x'.repeat(5_000) }), send(p.port, '/c')];
    await waitFor(() => held(p.port, 'ns/web') === 3, { what: '3 held', ...POLL });
    expect(wakeSignals.take()).toEqual(['ns/web']);
    expect(p.stats().active).toBe(3);
    const b = await httpBackend('b0');
    p.update([ep(b)]);
    const got = await Promise.all(sent.map((s) => s.done));
    expect(got.map((g) => g.status)).toEqual([200, 200, 200]);
    expect(got.map((g) => (JSON.parse(g.body) as { path: string }).path)).toEqual(['/a', '/b', '/c']);
    expect(held(p.port, 'ns/web')).toBe(0);
    // with an endpoint, nothing is held
    expect((await send(p.port).done).status).toBe(200);
    expect(wakeSignals.take()).toEqual([]);
  });

  it('forwards held requests in arrival order through the same balancer (round-robin over two)', async () => {
    const p = await proxy({ wake: { queue: 10, timeoutMs: 5_000 } });
    const sent = [];
    for (let i = 0; i < 4; i++) {
      sent.push(send(p.port, `/${i}`));
      await waitFor(() => held(p.port, 'ns/web') === i + 1, { what: `${i + 1} held`, ...POLL });
    }
    const [a, b] = [await httpBackend('a'), await httpBackend('b')];
    p.update([ep(a), ep(b)]);
    const names = (await Promise.all(sent.map((s) => s.done))).map((g) => nameOf(g.body));
    expect(names).toEqual(['a', 'b', 'a', 'b']);
  });

  it('answers 503 with Retry-After beyond the queue, and the held ones still go through', async () => {
    const p = await proxy({ wake: { queue: 2, timeoutMs: 5_000 } });
    const first = [send(p.port), send(p.port)];
    await waitFor(() => held(p.port, 'ns/web') === 2, { what: '2 held', ...POLL });
    const over = await Promise.all([send(p.port).done, send(p.port).done, send(p.port).done]);
    for (const o of over) {
      expect(o.status).toBe(503);
      expect(o.retryAfter).toBe('1');
      expect(JSON.parse(o.body)).toMatchObject({ code: 'E_WAKE_QUEUE_FULL' });
    }
    p.update([ep(await httpBackend('b0'))]);
    expect((await Promise.all(first.map((s) => s.done))).map((g) => g.status)).toEqual([200, 200]);
  });

  it('answers 503 with Retry-After to a request held longer than timeoutMs', async () => {
    const p = await proxy({ wake: { queue: 5, timeoutMs: 200 } });
    const started = Date.now();
    const got = await send(p.port).done;
    expect(got.status).toBe(503);
    expect(got.retryAfter).toBe('1');
    expect(JSON.parse(got.body)).toMatchObject({ code: 'E_WAKE_TIMEOUT' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
    expect(held(p.port, 'ns/web')).toBe(0);
  });

  it('drops a request whose client disconnected while held (its place is free again)', async () => {
    const p = await proxy({ wake: { queue: 1, timeoutMs: 5_000 } });
    const gone = send(p.port);
    gone.done.catch(() => undefined);
    await waitFor(() => held(p.port, 'ns/web') === 1, { what: 'held', ...POLL });
    gone.abort();
    await waitFor(() => held(p.port, 'ns/web') === 0 && p.stats().active === 0, { what: 'dropped', ...POLL });
    const next = send(p.port);
    await waitFor(() => held(p.port, 'ns/web') === 1, { what: 'the next one held', ...POLL });
    const b = await httpBackend('b0');
    p.update([ep(b)]);
    expect((await next.done).status).toBe(200);
    expect(b.hits).toBe(1); // the one that left was never forwarded
  });

  it('releases what is held when wake is turned off (answered the normal way), and holds again when it is back', async () => {
    const p = await proxy({ wake: { queue: 5, timeoutMs: 5_000 } });
    const s = send(p.port);
    await waitFor(() => held(p.port, 'ns/web') === 1, { what: 'held', ...POLL });
    p.configure({ algorithm: 'round-robin' });
    expect((await s.done).status).toBe(502);
    expect(() => p.configure({ algorithm: 'round-robin', wake: { queue: 0, timeoutMs: 1 } })).toThrow(/queue/);
    p.configure({ algorithm: 'round-robin', wake: { queue: 5, timeoutMs: 5_000 } });
    const again = send(p.port);
    await waitFor(() => held(p.port, 'ns/web') === 1, { what: 'held again', ...POLL });
    p.update([ep(await httpBackend('b0'))]);
    expect((await again.done).status).toBe(200);
  });

  it('answers Expect: 100-continue only once the request leaves the queue, and forwards a large body whole', async () => {
    const p = await proxy({ wake: { queue: 4, timeoutMs: 5_000 } });
    const socket = net.connect(p.port, '127.0.0.1');
    cleanups.push(async () => void socket.destroy());
    let got = '';
    socket.on('data', (d) => (got += d.toString()));
    socket.write('POST /up HTTP/1.1\r\nhost: x\r\ncontent-length: 5\r\nexpect: 100-continue\r\n\r\n');
    await waitFor(() => held(p.port, 'ns/web') === 1, { what: 'held', ...POLL });
    await new Promise((r) => setTimeout(r, 50));
    expect(got).toBe(''); // no 100 Continue while held: the client keeps its body
    const big = 'y'.repeat(300 * 1024); // over HOLD_BYTES, within maxBodyBytes: the client is paused, nothing lost
    const bigAnswer = send(p.port, '/big', { method: 'POST', body: big });
    await waitFor(() => held(p.port, 'ns/web') === 2, { what: '2 held', ...POLL });
    const sizes: number[] = [];
    const server = http.createServer((req, res) => {
      let n = 0;
      req.on('data', (d: Buffer) => (n += d.length));
      req.on('end', () => { sizes.push(n); res.end(`got ${n}`); });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise((r) => { server.closeAllConnections(); server.close(() => r()); }));
    p.update([{ id: 'e', address: `127.0.0.1:${(server.address() as net.AddressInfo).port}`, weight: 1 }]);
    await waitFor(() => got.includes('100 Continue'), { what: '100 Continue', ...POLL });
    socket.write('hello');
    await waitFor(() => got.includes('got 5'), { what: 'the small answer', ...POLL });
    const b = await bigAnswer.done;
    expect([b.status, b.body]).toEqual([200, `got ${big.length}`]);
  });

  it('holds an upgrade (WebSocket) request too, and tunnels it once an endpoint is ready', async () => {
    const p = await proxy({ wake: { queue: 2, timeoutMs: 5_000 } });
    const server = http.createServer((_req, res) => res.end('plain'));
    const tunnels = new Set<net.Socket>();
    server.on('upgrade', (_req, sock: net.Socket) => {
      tunnels.add(sock);
      sock.write('HTTP/1.1 101 Switching Protocols\r\nupgrade: test\r\nconnection: upgrade\r\n\r\n');
      sock.on('data', (d) => sock.write(`up:${d.toString()}`));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise((r) => { for (const t of tunnels) t.destroy(); server.closeAllConnections(); server.close(() => r()); }));
    const socket = net.connect(p.port, '127.0.0.1');
    cleanups.push(async () => void socket.destroy());
    let got = '';
    socket.on('data', (d) => (got += d.toString()));
    socket.write('GET /ws HTTP/1.1\r\nhost: x\r\nupgrade: test\r\nconnection: upgrade\r\n\r\n');
    await waitFor(() => held(p.port, 'ns/web') === 1, { what: 'held', ...POLL });
    p.update([{ id: 'u', address: `127.0.0.1:${(server.address() as net.AddressInfo).port}`, weight: 1 }]);
    await waitFor(() => got.includes('101 Switching Protocols'), { what: '101', ...POLL });
    socket.write('ping');
    await waitFor(() => got.includes('up:ping'), { what: 'tunnel round trip', ...POLL });
  });

  it('without wake, nothing changes: no endpoint is an immediate 502, nothing held or noted', async () => {
    const p = await proxy({});
    const got = await send(p.port).done;
    expect(got.status).toBe(502);
    expect(got.retryAfter).toBeUndefined();
    expect(JSON.parse(got.body)).toMatchObject({ code: 'E_NO_UPSTREAM' });
    expect(held(p.port, 'ns/web')).toBeUndefined();
    expect(wakeSignals.take()).toEqual([]);
  });
});

/** Connects, sends `line` once connected, resolves with the first bytes back (or rejects on close/timeout). */
function tcpHeld(port: number, line: string): { answer: Promise<string>; socket: net.Socket } {
  const socket = net.connect(port, '127.0.0.1');
  const answer = new Promise<string>((resolve, reject) => {
    socket.setTimeout(8_000, () => socket.destroy(new Error('tcp timed out')));
    socket.on('error', reject);
    socket.on('close', () => reject(new Error('closed before an answer')));
    socket.once('data', (d) => {
      resolve(d.toString());
      socket.end();
    });
    socket.write(line);
  });
  return { answer, socket };
}

describe('hold-and-wake, TCP mode', () => {
  it('holds a connection paused until an endpoint is ready, then the bytes sent meanwhile round trip', async () => {
    const p = await proxy({ mode: 'tcp', wake: { queue: 4, timeoutMs: 5_000 } });
    const a = tcpHeld(p.port, 'hello');
    const b = tcpHeld(p.port, 'world');
    await waitFor(() => held(p.port, 'ns/web') === 2, { what: '2 held', ...POLL });
    expect(wakeSignals.take()).toEqual(['ns/web']);
    const echo = await startEcho('e');
    cleanups.push(() => echo.close());
    p.update([ep(echo)]);
    expect(await a.answer).toBe('e:hello');
    expect(await b.answer).toBe('e:world');
    expect(held(p.port, 'ns/web')).toBe(0);
  });

  it('closes a connection beyond the queue and one held past timeoutMs; a reset one leaves the queue', async () => {
    const p = await proxy({ mode: 'tcp', wake: { queue: 1, timeoutMs: 300 } });
    const first = tcpHeld(p.port, 'x');
    await waitFor(() => held(p.port, 'ns/web') === 1, { what: 'held', ...POLL });
    await expect(tcpHeld(p.port, 'y').answer).rejects.toThrow(/closed/); // over the queue
    await expect(first.answer).rejects.toThrow(/closed/); // its timeout
    expect(held(p.port, 'ns/web')).toBe(0);
    const reset = tcpHeld(p.port, 'z');
    reset.answer.catch(() => undefined);
    await waitFor(() => held(p.port, 'ns/web') === 1, { what: 'held again', ...POLL });
    reset.socket.resetAndDestroy();
    await waitFor(() => held(p.port, 'ns/web') === 0 && p.stats().active === 0, { what: 'the reset one dropped', ...POLL });
  });

  it('without wake, a connection with no endpoint is closed at once', async () => {
    const p = await proxy({ mode: 'tcp' });
    await expect(tcpHeld(p.port, 'x').answer).rejects.toThrow(/closed/);
    expect(wakeSignals.take()).toEqual([]);
  });
});

describe('hold-and-wake, Route backends', () => {
  async function router(): Promise<Router> {
    const r = await startRouter({ host: '127.0.0.1', port: 0 });
    cleanups.push(() => r.close());
    return r;
  }
  const rules = [{ pathPrefix: '/', backends: [{ service: 'ns/web', weight: 1 }], source: 'ns/r rule 0' }];

  it('holds requests for a backend waking from zero and forwards them once its endpoints arrive', async () => {
    const r = await router();
    r.update(rules, { 'ns/web': { algorithm: 'round-robin', endpoints: [], wake: { queue: 3, timeoutMs: 5_000 } } });
    const sent = [send(r.port, '/1'), send(r.port, '/2'), send(r.port, '/3')];
    await waitFor(() => held(r.port, 'ns/web') === 3, { what: '3 held', ...POLL });
    const over = await send(r.port).done;
    expect([over.status, over.retryAfter]).toEqual([503, '1']);
    expect(wakeSignals.take()).toEqual(['ns/web']);
    const b = await httpBackend('b0');
    r.update(rules, { 'ns/web': { algorithm: 'round-robin', endpoints: [ep(b)], wake: { queue: 3, timeoutMs: 5_000 } } });
    expect((await Promise.all(sent.map((s) => s.done))).map((g) => g.status)).toEqual([200, 200, 200]);
    expect(r.stats().perService['ns/web']).toBe(3);
  });

  it('sends a held request to another backend of its rule that gets endpoints first', async () => {
    const r = await router();
    const two = [{ pathPrefix: '/', backends: [{ service: 'ns/web', weight: 1 }, { service: 'ns/api', weight: 1 }], source: 'ns/r rule 0' }];
    const wake = { queue: 3, timeoutMs: 5_000 };
    r.update(two, { 'ns/web': { algorithm: 'round-robin', endpoints: [], wake }, 'ns/api': { algorithm: 'round-robin', endpoints: [] } });
    const sent = send(r.port, '/x');
    await waitFor(() => held(r.port, 'ns/web') === 1, { what: 'held for ns/web', ...POLL });
    const api = await httpBackend('api');
    r.update(two, { 'ns/web': { algorithm: 'round-robin', endpoints: [], wake }, 'ns/api': { algorithm: 'round-robin', endpoints: [ep(api)] } });
    const got = await sent.done;
    expect([got.status, nameOf(got.body)]).toEqual([200, 'api']);
    expect(held(r.port, 'ns/web')).toBe(0);
  });

  it('without wake, a backend with no endpoint is still 503 E_NO_ENDPOINTS at once, without Retry-After', async () => {
    const r = await router();
    r.update(rules, { 'ns/web': { algorithm: 'round-robin', endpoints: [] } });
    const got = await send(r.port).done;
    expect(got.status).toBe(503);
    expect(got.retryAfter).toBeUndefined();
    expect(JSON.parse(got.body)).toMatchObject({ code: 'E_NO_ENDPOINTS' });
    expect(wakeSignals.take()).toEqual([]);
  });
});
