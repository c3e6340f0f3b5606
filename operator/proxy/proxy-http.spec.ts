import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { deadPort, rawExchange, request, startHttpBackend, type Backend, type HttpBackend } from '../../test/doubles/proxy-fixtures.ts';
import { waitFor } from '../../test/helpers/docker.ts';
import type { Endpoint } from './lb/types.ts';
import { startProxy, type Proxy, type ProxyOptions } from './proxy.ts';

/** The proxy specs poll fast: every 5 ms, for at most 5 s. */
const POLL = { timeoutMs: 5_000, intervalMs: 5 };

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function backends(n: number): Promise<HttpBackend[]> {
  const list = await Promise.all(Array.from({ length: n }, (_, i) => startHttpBackend(`b${i}`)));
  for (const b of list) cleanups.push(() => b.close());
  return list;
}

async function proxyTo(endpoints: Endpoint[], extra: Partial<ProxyOptions> = {}): Promise<Proxy> {
  const p = await startProxy({ host: '127.0.0.1', port: 0, algorithm: 'round-robin', mode: 'http', endpoints, ...extra });
  cleanups.push(() => p.close());
  return p;
}

const ep = (b: Backend): Endpoint => ({ id: b.name, address: b.address, weight: 1 });
const nameOf = (body: string): string => (JSON.parse(body) as { name: string }).name;

describe('proxy, http mode', () => {
  it('sends the same X-User to the same backend with consistent-hash on header:X-User', async () => {
    const bs = await backends(3);
    const p = await proxyTo(bs.map(ep), { algorithm: 'consistent-hash', hashKey: 'header:X-User' });
    const owners = new Map<string, Set<string>>();
    for (let u = 0; u < 20; u++) {
      for (let r = 0; r < 3; r++) {
        const a = await request(p.port, `/r${r}`, { headers: { 'x-user': `user-${u}` } });
        expect(a.status).toBe(200);
        const set = owners.get(`user-${u}`) ?? new Set();
        owners.set(`user-${u}`, set.add(nameOf(a.body)));
      }
    }
    expect([...owners.values()].every((s) => s.size === 1)).toBe(true);
    expect(new Set([...owners.values()].flatMap((s) => [...s])).size).toBeGreaterThan(1);
  });

  it('switches algorithm and hash key on the same listener with configure', async () => {
    const bs = await backends(3);
    const p = await proxyTo(bs.map(ep));
    const seen = [];
    for (let i = 0; i < 3; i++) seen.push(nameOf((await request(p.port, '/', { headers: { 'x-user': 'u1' } })).body));
    expect(new Set(seen).size).toBe(3);
    expect(() => p.configure({ algorithm: 'consistent-hash', hashKey: 'header:' as never })).toThrow(/hashKey/);
    p.configure({ algorithm: 'consistent-hash', hashKey: 'header:X-User', boundedLoad: 1.25 });
    const hashed = [];
    for (let i = 0; i < 4; i++) hashed.push(nameOf((await request(p.port, '/', { headers: { 'x-user': 'u1' } })).body));
    expect(new Set(hashed).size).toBe(1);
  });

  it('forwards the path and X-Forwarded-For', async () => {
    const [b] = await backends(1);
    const p = await proxyTo([ep(b!)]);
    const a = await request(p.port, '/x/y?z=1');
    expect(JSON.parse(a.body)).toEqual({ name: 'b0', path: '/x/y?z=1', xff: '127.0.0.1' });
    const prior = await request(p.port, '/', { headers: { 'x-forwarded-for': '10.0.0.1', connection: 'x-drop', 'x-drop': '1' } });
    expect(JSON.parse(prior.body)).toEqual({ name: 'b0', path: '/', xff: '10.0.0.1, 127.0.0.1' });
    // HTTP/1.0 without Host: the upstream still gets one (it speaks HTTP/1.1).
    expect(await rawExchange(p.port, 'GET /old HTTP/1.0\r\n\r\n')).toMatch(/^HTTP\/1\.1 200 [\s\S]*"path":"\/old"/);
  });

  it('drains a removed endpoint: an in-flight slow response completes, new requests go elsewhere', async () => {
    const [a, b] = await backends(2);
    const p = await proxyTo([ep(a!), ep(b!)]);
    const slow = request(p.port, '/slow');
    await waitFor(() => a!.held === 1, { ...POLL, what: 'the slow request to reach b0' });
    p.update([ep(b!)]);
    for (let i = 0; i < 4; i++) expect(nameOf((await request(p.port, '/fast')).body)).toBe('b1');
    expect(p.stats().active).toBe(1);
    a!.release();
    const done = await slow;
    expect(done.status).toBe(200);
    expect(nameOf(done.body)).toBe('b0');
    expect(a!.hits).toBe(1);
  });

  it('retries a dead endpoint on the next one: no failed request', async () => {
    const bs = await backends(2);
    const dead: Endpoint = { id: 'dead', address: `127.0.0.1:${await deadPort()}`, weight: 1 };
    const p = await proxyTo([dead, ...bs.map(ep)]);
    for (let i = 0; i < 6; i++) expect((await request(p.port, '/', { method: 'POST', body: `n${i}` })).status).toBe(200);
    expect(p.stats().failedConnects).toBeGreaterThanOrEqual(1);
  });

  it('answers 502 JSON when every endpoint is down', async () => {
    const p = await proxyTo([
      { id: 'd1', address: `127.0.0.1:${await deadPort()}`, weight: 1 },
      { id: 'd2', address: `127.0.0.1:${await deadPort()}`, weight: 1 },
    ]);
    const a = await request(p.port, '/');
    expect(a.status).toBe(502);
    expect(JSON.parse(a.body)).toMatchObject({ code: 'E_NO_UPSTREAM' });
    expect(p.stats().failedConnects).toBe(2);
  });

  it('answers 400 to a malformed request and keeps serving', async () => {
    const [b] = await backends(1);
    const p = await proxyTo([ep(b!)]);
    expect(await rawExchange(p.port, 'NOT HTTP AT ALL\r\n\r\n')).toMatch(/^HTTP\/1\.1 400 /);
    expect(await rawExchange(p.port, 'GET / HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n')).toMatch(/^HTTP\/1\.1 400 /);
    expect((await request(p.port, '/')).status).toBe(200);
  });

  it('answers 431 to oversized headers and 413 to an oversized body', async () => {
    const [b] = await backends(1);
    const p = await proxyTo([ep(b!)], { maxBodyBytes: 1000 });
    const big = `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`;
    expect(await rawExchange(p.port, big)).toMatch(/^HTTP\/1\.1 431 /);
    expect((await request(p.port, '/', { method: 'POST', body: 'x'.repeat(1001) })).status).toBe(413);
    expect(b!.hits).toBe(0);
    // Chunked, no length: the limit is found while streaming; the client waits for the answer before sending more.
    const head = 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n';
    expect(await rawExchange(p.port, `${head}7d0\r\n${'x'.repeat(2000)}\r\n`)).toMatch(/^HTTP\/1\.1 413 /);
    expect((await request(p.port, '/', { method: 'POST', body: 'x'.repeat(1000) })).status).toBe(200);
  });

  it('closes an idle keep-alive or header-less client connection after idleTimeoutMs', async () => {
    const [b] = await backends(1);
    const p = await proxyTo([ep(b!)], { idleTimeoutMs: 300 });
    const s = net.connect(p.port, '127.0.0.1');
    cleanups.push(async () => void s.destroy());
    s.on('error', () => {});
    const t0 = Date.now();
    await new Promise((resolve) => s.once('close', resolve));
    expect(Date.now() - t0).toBeLessThan(2_000);
    expect((await request(p.port, '/ok')).status).toBe(200);
  });
});
