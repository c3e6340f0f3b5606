import { afterEach, describe, expect, it } from 'vitest';
import { BerthError } from '../model/errors.ts';
import { deadPort, keepAliveClient, request, startHttpBackend, type Backend, type HttpBackend } from '../../test/doubles/proxy-fixtures.ts';
import { waitFor } from '../../test/helpers/docker.ts';
import type { Endpoint } from './lb/types.ts';
import { startRouter, type Router, type RouterBackendPool, type RouterRule } from './router.ts';

/** The proxy specs poll fast: every 5 ms, for at most 5 s. */
const POLL = { timeoutMs: 5_000, intervalMs: 5 };

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function backends(...names: string[]): Promise<HttpBackend[]> {
  const list = await Promise.all(names.map((n) => startHttpBackend(n)));
  for (const b of list) cleanups.push(() => b.close());
  return list;
}

async function router(): Promise<Router> {
  const r = await startRouter({ host: '127.0.0.1', port: 0, connectTimeoutMs: 1_000 });
  cleanups.push(() => r.close());
  return r;
}

const ep = (b: Backend): Endpoint => ({ id: b.name, address: b.address, weight: 1 });
const pool = (...bs: Backend[]): RouterBackendPool => ({ algorithm: 'round-robin', endpoints: bs.map(ep) });
const nameOf = (body: string): string => (JSON.parse(body) as { name: string }).name;
const split = (a: number, b: number, prefix = '/'): RouterRule => ({ pathPrefix: prefix, backends: [{ service: 'ns/a', weight: a }, { service: 'ns/b', weight: b }], source: 'ns/canary rule 0' });

describe('router', () => {
  it('serves the most specific rule by host and path', async () => {
    const [web, api, wild, fallback] = await backends('web', 'api', 'wild', 'fallback');
    const r = await router();
    r.update([
      { pathPrefix: '/', backends: [{ service: 'ns/fallback', weight: 1 }] },
      { host: '*.example.com', pathPrefix: '/', backends: [{ service: 'ns/wild', weight: 1 }] },
      { host: 'shop.example.com', pathPrefix: '/', backends: [{ service: 'ns/web', weight: 1 }] },
      { host: 'shop.example.com', pathPrefix: '/api', backends: [{ service: 'ns/api', weight: 1 }] },
    ], { 'ns/web': pool(web!), 'ns/api': pool(api!), 'ns/wild': pool(wild!), 'ns/fallback': pool(fallback!) });
    const to = async (host: string, path: string) => nameOf((await request(r.port, path, { headers: { host } })).body);
    expect(await to('shop.example.com', '/api/cart')).toBe('api');
    expect(await to('SHOP.example.com:8080', '/api')).toBe('api');
    expect(await to('shop.example.com', '/apix')).toBe('web');
    expect(await to('blog.example.com', '/api')).toBe('wild');
    expect(await to('example.com', '/api')).toBe('fallback');
    expect(r.stats().perService).toEqual({ 'ns/api': 2, 'ns/web': 1, 'ns/wild': 1, 'ns/fallback': 1 });
  });

  it('splits 90/10 exactly over 1000 requests (smooth weighted round-robin)', async () => {
    const [a, b] = await backends('a', 'b');
    const r = await router();
    r.update([split(90, 10)], { 'ns/a': pool(a!), 'ns/b': pool(b!) });
    const clients = Array.from({ length: 10 }, () => keepAliveClient(r.port));
    for (const c of clients) cleanups.push(() => c.close());
    const answers = await Promise.all(clients.map(async (c) => {
      const statuses: number[] = [];
      for (let i = 0; i < 100; i++) statuses.push((await c.request('/')).status);
      return statuses;
    }));
    expect(answers.flat().filter((s) => s !== 200)).toEqual([]);
    expect([a!.hits, b!.hits]).toEqual([900, 100]);
    expect(r.stats().perService).toEqual({ 'ns/a': 900, 'ns/b': 100 });
  });

  it('moves traffic 100/0 -> 0/100 on update while a kept-alive client connection and a slow request stay open', async () => {
    const [a, b] = await backends('a', 'b');
    const r = await router();
    const pools = { 'ns/a': pool(a!), 'ns/b': pool(b!) };
    r.update([split(100, 0)], pools);
    const client = keepAliveClient(r.port);
    cleanups.push(() => client.close());
    const before = [];
    for (let i = 0; i < 5; i++) before.push(await client.request('/x'));
    const slow = request(r.port, '/slow');
    await waitFor(() => a!.held === 1, { ...POLL, what: 'the slow request to reach a' });
    expect(r.openTo(a!.address)).toBe(1);
    r.update([split(0, 100)], pools);
    const after = [];
    for (let i = 0; i < 5; i++) after.push(await client.request('/x'));
    expect([...before, ...after].map((x) => x.status)).toEqual(Array(10).fill(200));
    expect(before.map((x) => nameOf(x.body))).toEqual(Array(5).fill('a'));
    expect(after.map((x) => nameOf(x.body))).toEqual(Array(5).fill('b'));
    expect(new Set([...before, ...after].map((x) => x.localPort)).size).toBe(1);
    a!.release();
    const done = await slow;
    expect([done.status, nameOf(done.body)]).toEqual([200, 'a']);
    expect(r.openTo(a!.address)).toBe(0);
  });

  it('lets a removed service finish its in-flight request', async () => {
    const [a, b] = await backends('a', 'b');
    const r = await router();
    r.update([split(1, 0)], { 'ns/a': pool(a!) });
    const slow = request(r.port, '/slow');
    await waitFor(() => a!.held === 1, { ...POLL, what: 'the slow request to reach a' });
    r.update([{ pathPrefix: '/', backends: [{ service: 'ns/b', weight: 1 }] }], { 'ns/b': pool(b!) });
    expect(nameOf((await request(r.port, '/')).body)).toBe('b');
    expect(r.openTo(a!.address)).toBe(1);
    a!.release();
    expect((await slow).status).toBe(200);
    await waitFor(() => r.openTo(a!.address) === 0, { ...POLL, what: 'the drained request to be released' });
  });

  it('answers 404 JSON when no rule matches and 503 JSON when the rule has no ready endpoint', async () => {
    const [a] = await backends('a');
    const r = await router();
    expect((await request(r.port, '/')).status).toBe(404);
    r.update([
      { host: 'a.example.com', pathPrefix: '/', backends: [{ service: 'ns/a', weight: 1 }] },
      { host: 'empty.example.com', pathPrefix: '/', backends: [{ service: 'ns/empty', weight: 1 }, { service: 'ns/unknown', weight: 1 }] },
      { host: 'off.example.com', pathPrefix: '/', backends: [{ service: 'ns/a', weight: 0 }] },
    ], { 'ns/a': pool(a!), 'ns/empty': { algorithm: 'round-robin', endpoints: [] } });
    const missing = await request(r.port, '/x', { headers: { host: 'other.org' } });
    expect(missing.status).toBe(404);
    expect(JSON.parse(missing.body)).toMatchObject({ code: 'E_NO_ROUTE' });
    for (const host of ['empty.example.com', 'off.example.com']) {
      const none = await request(r.port, '/', { headers: { host } });
      expect(none.status).toBe(503);
      expect(JSON.parse(none.body)).toMatchObject({ code: 'E_NO_ENDPOINTS' });
    }
    expect((await request(r.port, '/', { headers: { host: 'a.example.com' } })).status).toBe(200);
  });

  it('skips a backend service with no ready endpoints and fails over past a dead endpoint', async () => {
    const [b1, b2] = await backends('b1', 'b2');
    const r = await router();
    const dead: Endpoint = { id: 'dead', address: `127.0.0.1:${await deadPort()}`, weight: 1 };
    r.update([split(50, 50)], { 'ns/a': { algorithm: 'round-robin', endpoints: [] }, 'ns/b': { algorithm: 'round-robin', endpoints: [dead, ep(b1!), ep(b2!)] } });
    for (let i = 0; i < 6; i++) expect((await request(r.port, '/', { method: 'POST', body: `n${i}` })).status).toBe(200);
    expect(b1!.hits + b2!.hits).toBe(6);
    expect(r.stats().failedConnects).toBeGreaterThanOrEqual(1);
    expect(r.stats().perService).toEqual({ 'ns/b': 6 });
  });

  it('balances each service with its own algorithm and hash key', async () => {
    const bs = await backends('h0', 'h1', 'h2');
    const r = await router();
    r.update([split(0, 1)], { 'ns/b': { algorithm: 'consistent-hash', hashKey: 'header:X-User', endpoints: bs.map(ep) } });
    const owners = new Map<string, Set<string>>();
    for (let u = 0; u < 12; u++) {
      for (let k = 0; k < 3; k++) {
        const name = nameOf((await request(r.port, '/', { headers: { 'x-user': `u${u}` } })).body);
        owners.set(`u${u}`, (owners.get(`u${u}`) ?? new Set()).add(name));
      }
    }
    expect([...owners.values()].every((s) => s.size === 1)).toBe(true);
  });

  it('rejects a bad update with E_CONFIG and keeps serving the previous rules', async () => {
    const [a] = await backends('a');
    const r = await router();
    r.update([split(1, 0)], { 'ns/a': pool(a!) });
    const bad = () => r.update([split(1, 0)], { 'ns/a': { algorithm: 'consistent-hash', hashKey: 'header:' as never, endpoints: [ep(a!)] } });
    expect(bad).toThrow(BerthError);
    expect(() => r.update([split(1, 0)], { 'ns/a': { algorithm: 'round-robin', endpoints: [{ id: 'x', address: 'nope', weight: 1 }] } })).toThrow(/ns\/a/);
    expect(() => r.update([{ pathPrefix: 'x', backends: [] }], {})).toThrow(BerthError);
    expect(nameOf((await request(r.port, '/')).body)).toBe('a');
  });
});
