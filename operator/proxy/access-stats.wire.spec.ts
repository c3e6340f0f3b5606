/** The access counters through real listeners on loopback, with real Node backends. */
import http from 'node:http';
import type net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { deadPort, request, startEcho, tcpRoundTrip } from '../../test/doubles/proxy-fixtures.ts';
import { startWsBackend, wsConnect } from '../../test/doubles/ws-fixtures.ts';
import { waitFor } from '../../test/helpers/docker.ts';
import { accessSnapshot, type ServiceAccessSnapshot } from './access-stats.ts';
import { startProxy } from './proxy.ts';
import { startRouter } from './router.ts';

const POLL = { timeoutMs: 5_000, intervalMs: 5 };

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A backend answering GET/POST /<status>/<bytes> with that status and that many body bytes, after reading the body. */
async function statusBackend(): Promise<{ address: string }> {
  const server = http.createServer((req, res) => {
    const [, status = '200', size = '0'] = (req.url ?? '').split('/');
    req.resume();
    req.once('end', () => res.writeHead(Number(status), { 'content-length': Number(size) }).end('x'.repeat(Number(size))));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise<void>((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  }));
  return { address: `127.0.0.1:${(server.address() as net.AddressInfo).port}` };
}

function counters(port: number, service: string): ServiceAccessSnapshot | undefined {
  const l = accessSnapshot().listeners.find((x) => x.listener === `127.0.0.1:${port}`);
  return l?.services.find((s) => s.service === service);
}

describe('access counters through a Route', () => {
  it('counts N requests with known statuses and bytes exactly, and the router\'s own 404/503 as source=proxy', async () => {
    const web = await statusBackend();
    const r = await startRouter({ host: '127.0.0.1', port: 0, connectTimeoutMs: 1_000 });
    cleanups.push(() => r.close());
    r.update([
      { host: 'shop.example.com', pathPrefix: '/', backends: [{ service: 'ns/web', weight: 1 }] },
      { host: 'shop.example.com', pathPrefix: '/empty', backends: [{ service: 'ns/empty', weight: 1 }] },
    ], { 'ns/web': { algorithm: 'round-robin', endpoints: [{ id: 'w1', address: web.address, weight: 1 }] }, 'ns/empty': { algorithm: 'round-robin', endpoints: [] } });
    const host = { host: 'shop.example.com' };
    for (let i = 0; i < 3; i++) expect((await request(r.port, '/200/10', { headers: host })).status).toBe(200);
    for (let i = 0; i < 2; i++) expect((await request(r.port, '/404/5', { method: 'POST', headers: { ...host, 'content-length': 7 }, body: 'abcdefg' })).status).toBe(404);
    expect((await request(r.port, '/500/0', { headers: host })).status).toBe(500);
    expect((await request(r.port, '/', { headers: { host: 'other.example.com' } })).status).toBe(404);
    expect((await request(r.port, '/empty', { headers: host })).status).toBe(503);
    await waitFor(() => counters(r.port, 'ns/web')?.duration.count === 6 && counters(r.port, '')?.duration.count === 2, { ...POLL, what: 'every request to be counted' });
    const s = counters(r.port, 'ns/web')!;
    expect(s).toMatchObject({
      inFlight: 0, requests: { '2xx/upstream': 3, '4xx/upstream': 2, '5xx/upstream': 1 },
      bytes: { in: 14, out: 40 }, endpoints: { [web.address]: 6 },
    });
    expect(s.duration.buckets.at(-1)).toBe(6);
    expect(s.duration.sum).toBeGreaterThan(0);
    expect(counters(r.port, '')).toMatchObject({ inFlight: 0, requests: { '4xx/proxy': 1, '5xx/proxy': 1 }, bytes: { in: 0, out: 0 }, endpoints: {} });
    expect(counters(r.port, 'ns/empty')?.duration.count ?? 0).toBe(0);
  });

  it('counts a WebSocket once, as a 1xx from its upstream, in flight while open', async () => {
    const chat = await startWsBackend('chat');
    cleanups.push(() => chat.close());
    const r = await startRouter({ host: '127.0.0.1', port: 0, connectTimeoutMs: 1_000 });
    cleanups.push(() => r.close());
    r.update([{ pathPrefix: '/', backends: [{ service: 'ns/chat', weight: 1 }] }], { 'ns/chat': { algorithm: 'round-robin', endpoints: [{ id: 'c', address: chat.address, weight: 1 }] } });
    const c = await wsConnect(r.port, '/chat');
    cleanups.push(() => c.close());
    expect(c.status).toBe(101);
    c.send('hello');
    expect(await c.next()).toBe('chat:hello');
    expect(counters(r.port, 'ns/chat')).toMatchObject({ inFlight: 1, requests: {} });
    c.close();
    await waitFor(() => counters(r.port, 'ns/chat')?.duration.count === 1, { ...POLL, what: 'the tunnel to be counted' });
    const s = counters(r.port, 'ns/chat')!;
    expect(s).toMatchObject({ inFlight: 0, requests: { '1xx/upstream': 1 }, endpoints: { [chat.address]: 1 } });
    expect(s.bytes.in).toBeGreaterThan(0);
    expect(s.bytes.out).toBeGreaterThan(0);
    expect(counters(r.port, '')?.duration.count ?? 0).toBe(0);
  });
});

describe('access counters of the embedded proxy', () => {
  it('HTTP mode: upstream answers under the service, a 502 with no reachable upstream as source=proxy', async () => {
    const web = await statusBackend();
    const p = await startProxy({ host: '127.0.0.1', port: 0, algorithm: 'round-robin', mode: 'http', service: 'ns/web', endpoints: [{ id: 'w', address: web.address, weight: 1 }], connectTimeoutMs: 1_000 });
    cleanups.push(() => p.close());
    expect((await request(p.port, '/201/3')).status).toBe(201);
    p.update([{ id: 'dead', address: `127.0.0.1:${await deadPort()}`, weight: 1 }]);
    expect((await request(p.port, '/200/3')).status).toBe(502);
    await waitFor(() => counters(p.port, 'ns/web')?.duration.count === 2, { ...POLL, what: 'both requests to be counted' });
    expect(counters(p.port, 'ns/web')).toMatchObject({ inFlight: 0, requests: { '2xx/upstream': 1, '5xx/proxy': 1 }, bytes: { in: 0, out: 3 }, endpoints: { [web.address]: 1 } });
  });

  it('TCP mode: one connection counted with its bytes both ways and its endpoint', async () => {
    const echo = await startEcho('e');
    cleanups.push(() => echo.close());
    const p = await startProxy({ host: '127.0.0.1', port: 0, algorithm: 'round-robin', mode: 'tcp', service: 'ns/db', endpoints: [{ id: 'e', address: echo.address, weight: 1 }] });
    cleanups.push(() => p.close());
    expect(await tcpRoundTrip(p.port, 'ping')).toBe('e:ping'); // 'ping\n' out, 'e:ping\n' back
    await waitFor(() => counters(p.port, 'ns/db')?.duration.count === 1, { ...POLL, what: 'the connection to be counted' });
    expect(counters(p.port, 'ns/db')).toMatchObject({ inFlight: 0, connections: 1, requests: {}, bytes: { in: 5, out: 7 }, endpoints: { [echo.address]: 1 } });
  });
});
