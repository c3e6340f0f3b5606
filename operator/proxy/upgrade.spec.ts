import { afterEach, describe, expect, it } from 'vitest';
import { Registry } from '../registry/registry.ts';
import { deadPort } from '../../test/doubles/proxy-fixtures.ts';
import { rawConnection, startRecordingBackend } from '../../test/doubles/recording-backend.ts';
import { startWsBackend, wsConnect, type WsBackend } from '../../test/doubles/ws-fixtures.ts';
import { waitFor } from '../../test/helpers/docker.ts';
import { createDrainer } from './drain.ts';
import type { Endpoint } from './lb/types.ts';
import { startProxy } from './proxy.ts';
import { startRouter, type Router, type RouterOptions } from './router.ts';

/** The proxy specs poll fast: every 5 ms, for at most 5 s. */
const POLL = { timeoutMs: 5_000, intervalMs: 5 };

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function wsBackends(...names: string[]): Promise<WsBackend[]> {
  const list = await Promise.all(names.map((n) => startWsBackend(n)));
  for (const b of list) cleanups.push(() => b.close());
  return list;
}

async function router(extra: Partial<RouterOptions> = {}): Promise<Router> {
  const r = await startRouter({ host: '127.0.0.1', port: 0, connectTimeoutMs: 1_000, ...extra });
  cleanups.push(() => r.close());
  return r;
}

const ep = (b: { name?: string; address: string }, id = b.name ?? b.address): Endpoint => ({ id, address: b.address, weight: 1 });
const one = (service: string, pathPrefix = '/') => ({ pathPrefix, backends: [{ service, weight: 1 }] });

async function ws(port: number, path = '/', headers: Record<string, string> = {}) {
  const c = await wsConnect(port, path, headers);
  cleanups.push(() => c.close());
  return c;
}

describe('WebSocket through a Route', () => {
  it('completes the handshake and echoes messages both ways, counted as one open request to its upstream', async () => {
    const [chat] = await wsBackends('chat');
    const r = await router();
    r.update([one('ns/chat', '/chat')], { 'ns/chat': { algorithm: 'round-robin', endpoints: [ep(chat!)] } });
    const c = await ws(r.port, '/chat/room1', { 'x-forwarded-for': '10.0.0.9' });
    expect(c.status).toBe(101);
    c.send('hello');
    expect(await c.next()).toBe('chat:hello');
    c.send('x'.repeat(300));
    expect(await c.next()).toBe(`chat:${'x'.repeat(300)}`);
    chat!.push('from the server');
    expect(await c.next()).toBe('from the server');
    const h = chat!.lastHeaders!;
    expect([h.upgrade, h.connection, h['x-forwarded-for'], h['x-forwarded-proto'], h['x-forwarded-host'], h.via])
      .toEqual(['websocket', 'upgrade', '10.0.0.9, 127.0.0.1', 'http', 'ws.example.com', '1.1 berth']);
    expect(r.openTo(chat!.address)).toBe(1);
    expect(r.stats()).toMatchObject({ active: 1, total: 1, perService: { 'ns/chat': 1 } });
    c.close();
    await waitFor(() => r.openTo(chat!.address) === 0 && r.stats().active === 0, { ...POLL, what: 'the tunnel to be released' });
    await waitFor(() => chat!.open === 0, { ...POLL, what: 'the upstream side to close' });
  });

  it('picks the backend as for a request: rule by path, then the service hash key', async () => {
    const [a0, a1, a2, feed] = await wsBackends('a0', 'a1', 'a2', 'feed');
    const r = await router();
    r.update([one('ns/a', '/chat'), one('ns/feed', '/feed')], {
      'ns/a': { algorithm: 'consistent-hash', hashKey: 'header:X-User', endpoints: [a0!, a1!, a2!].map((b) => ep(b)) },
      'ns/feed': { algorithm: 'round-robin', endpoints: [ep(feed!)] },
    });
    const f = await ws(r.port, '/feed');
    f.send('f');
    expect(await f.next()).toBe('feed:f');
    for (const user of ['u1', 'u2', 'u3']) {
      const owners = new Set<string>();
      for (let i = 0; i < 3; i++) {
        const c = await ws(r.port, '/chat', { 'x-user': user });
        c.send('m');
        owners.add((await c.next()).split(':')[0]!);
        c.close();
      }
      expect(owners.size).toBe(1);
    }
  });

  it('fails over past a dead endpoint; 502 when none connects, 404 without a route, closing each time', async () => {
    const [live] = await wsBackends('live');
    const r = await router();
    const dead = { address: `127.0.0.1:${await deadPort()}` };
    r.update([one('ns/a', '/a'), one('ns/dead', '/dead')], {
      'ns/a': { algorithm: 'round-robin', endpoints: [ep(dead, 'dead'), ep(live!)] },
      'ns/dead': { algorithm: 'round-robin', endpoints: [ep(dead, 'dead')] },
    });
    for (let i = 0; i < 2; i++) {
      const c = await ws(r.port, '/a');
      c.send('ok');
      expect(await c.next()).toBe('live:ok');
    }
    expect(r.stats().failedConnects).toBeGreaterThanOrEqual(1);
    for (const [path, status, code] of [['/dead', 502, 'E_NO_UPSTREAM'], ['/nowhere', 404, 'E_NO_ROUTE']] as const) {
      const c = await ws(r.port, path);
      expect(c.status).toBe(status);
      await c.closed;
      expect(c.head).toContain(`"code":"${code}"`);
    }
  });

  it('relays a non-101 answer and closes the connection', async () => {
    const plain = await startRecordingBackend();
    cleanups.push(() => plain.close());
    const r = await router();
    r.update([one('ns/p')], { 'ns/p': { algorithm: 'round-robin', endpoints: [ep(plain)] } });
    const c = await ws(r.port, '/not-ws');
    expect(c.status).toBe(200);
    await c.closed;
    expect(c.head).toMatch(/\r\nconnection: close\r\n/i);
    expect(c.head).toContain('{"url":"/not-ws","bytes":0}');
    expect(plain.requests[0]!.headers.upgrade).toBe('websocket');
    await waitFor(() => r.openTo(plain.address) === 0 && r.stats().active === 0, { ...POLL, what: 'the refused upgrade to be released' });
  });

  it('drains: a replica being stopped waits for its open WebSocket, at most the drain timeout', async () => {
    const [a] = await wsBackends('a');
    const r = await router();
    r.update([one('ns/a')], { 'ns/a': { algorithm: 'round-robin', endpoints: [{ id: 'c1', address: a!.address, weight: 1 }] } });
    const registry = new Registry();
    registry.putReplica({ id: 'c1', service: 'ns/a', node: 'local', address: '127.0.0.1', port: a!.port, weight: 1, ready: true, source: 'replica', metadata: {} });
    const c = await ws(r.port);
    c.send('before');
    expect(await c.next()).toBe('a:before');
    let drained = false;
    const draining = createDrainer({ registry, openTo: (x) => r.openTo(x), timeoutMs: 5_000, pollMs: 5 }).drain('c1').then(() => (drained = true));
    await new Promise((res) => setTimeout(res, 100));
    expect(drained).toBe(false);
    c.send('still open');
    expect(await c.next()).toBe('a:still open');
    c.close();
    await draining;
    expect(r.openTo(a!.address)).toBe(0);

    // bounded: a WebSocket that stays open holds the stop only for the drain timeout
    const held = await ws(r.port);
    held.send('x');
    await held.next();
    const t0 = Date.now();
    await createDrainer({ registry, openTo: (x) => r.openTo(x), timeoutMs: 150, pollMs: 5 }).drain('c1');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(140);
    expect(r.openTo(a!.address)).toBe(1);
  });

  it('closes a tunnel after idleTimeoutMs with no byte either way, and on router close', async () => {
    const [a] = await wsBackends('a');
    const r = await router({ idleTimeoutMs: 300 });
    r.update([one('ns/a')], { 'ns/a': { algorithm: 'round-robin', endpoints: [ep(a!)] } });
    const idle = await ws(r.port);
    const t0 = Date.now();
    await idle.closed;
    expect(Date.now() - t0).toBeLessThan(2_000);
    await waitFor(() => a!.open === 0, { ...POLL, what: 'the upstream side to close' });

    const busy = await ws(r.port);
    await r.close();
    await busy.closed;
    await waitFor(() => a!.open === 0, { ...POLL, what: 'the upstream side to close' });
  });

  it('refuses an upgrade with ambiguous framing or a chunked body: 400, closed, the backend never sees it', async () => {
    const [a] = await wsBackends('a');
    const r = await router();
    r.update([one('ns/a')], { 'ns/a': { algorithm: 'round-robin', endpoints: [ep(a!)] } });
    const refused: Record<string, string>[] = [{ 'transfer-encoding': 'gzip, chunked' }, { 'transfer-encoding': 'chunked' }, { host: 'a', Host: 'b' }];
    for (const headers of refused) {
      const c = await ws(r.port, '/', headers);
      expect(c.status).toBe(400);
      await c.closed;
      expect(c.head).toContain('E_BAD_FRAMING');
    }
    expect(a!.upgrades).toBe(0);
  });
});

describe('an upgrade request with a body (h2c)', () => {
  it('sends its Content-Length body and the headers its Connection names upstream before the answer', async () => {
    const plain = await startRecordingBackend();
    cleanups.push(() => plain.close());
    const r = await router();
    r.update([one('ns/p')], { 'ns/p': { algorithm: 'round-robin', endpoints: [ep(plain)] } });
    const c = await rawConnection(r.port);
    c.write('POST /h2c HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\nContent-Length: 10\r\n\r\nhello');
    await new Promise((res) => setTimeout(res, 30));
    c.write(' world');
    const all = await c.closed();
    expect(all).toMatch(/^HTTP\/1\.1 200 [\s\S]*\{"url":"\/h2c","bytes":10\}$/);
    expect(plain.requests.map((q) => [q.body, q.headers.upgrade, q.headers['http2-settings']])).toEqual([['hello worl', 'h2c', 'AAMAAABkAAQAAP__']]);
  });
});

describe('WebSocket through an HTTP-mode proxy', () => {
  it('echoes both ways, counts the tunnel for draining, and close ends it', async () => {
    const [a] = await wsBackends('a');
    const p = await startProxy({ host: '127.0.0.1', port: 0, algorithm: 'round-robin', mode: 'http', endpoints: [ep(a!)] });
    cleanups.push(() => p.close());
    const c = await ws(p.port, '/live');
    c.send('ping');
    expect(await c.next()).toBe('a:ping');
    expect(p.openTo(a!.address)).toBe(1);
    expect(p.stats()).toMatchObject({ active: 1, total: 1 });
    await p.close();
    await c.closed;
  });
});
