import http from 'node:http';
import net from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { registryRoutes, type RegistryRoutesOptions } from './api.ts';
import { Registry, type RegistryEndpoint } from './registry.ts';

const SVC = 'shop/web';
const EP = `/v1/services/${SVC}/endpoints`;

function replica(id: string, ready = true): RegistryEndpoint {
  return { id, service: SVC, replica: id, node: 'local', address: '10.0.0.2', port: 8080, weight: 1, ready, source: 'replica', metadata: {} };
}

interface Harness {
  reg: Registry;
  url: string;
  /** Resolves when the next request has been handed to the routes (its synchronous part, e.g. a subscription, is done). */
  nextRequest(): Promise<void>;
  close(): Promise<void>;
}

async function start(options: RegistryRoutesOptions = {}, desired: string[] | null = [SVC]): Promise<Harness> {
  const reg = new Registry({ now: () => 0 });
  if (desired) reg.setDesired(desired); // the applied revision's services
  const routes = registryRoutes(reg, { sseHeartbeatMs: 50, ...options });
  let waiters: (() => void)[] = [];
  const server = http.createServer((req, res) => {
    const handled = routes(req, res);
    const ws = waiters;
    waiters = [];
    ws.forEach((w) => w());
    handled.then((owned) => {
      if (!owned) { res.writeHead(418); res.end(); }
    }, () => { res.writeHead(500); res.end(); });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return {
    reg,
    url: `http://127.0.0.1:${port}`,
    nextRequest: () => new Promise((resolve) => { waiters.push(resolve); }),
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

/** A raw request (paths are sent exactly as given). */
function raw(h: Harness, method: string, path: string, body?: string | Buffer, o: { localAddress?: string } = {}): Promise<{ status: number; body: string; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${h.url}${path}`, { method, localAddress: o.localAddress, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString(), headers: res.headers }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

let h: Harness;
beforeEach(async () => { h = await start(); });
afterEach(async () => { await h.close(); });

const put = (path: string, body: unknown): Promise<Response> =>
  fetch(`${h.url}${path}`, { method: 'PUT', body: typeof body === 'string' ? body : JSON.stringify(body) });

describe('registry API: reading', () => {
  it('lists services and their endpoints, with a ready filter and the index header', async () => {
    h.reg.setReplicas(SVC, [replica('a'), replica('b', false)]);
    const list = await fetch(`${h.url}/v1/services`);
    expect(list.status).toBe(200);
    expect(await list.json()).toEqual({ services: [{ name: SVC, endpoints: 2, ready: 1 }] });
    const all = await fetch(`${h.url}${EP}`);
    expect(all.headers.get('x-berth-index')).toBe(String(h.reg.version(SVC)));
    expect(((await all.json()) as { endpoints: RegistryEndpoint[] }).endpoints.map((e) => e.id)).toEqual(['a', 'b']);
    const ready = await fetch(`${h.url}${EP}?ready=true`);
    expect(((await ready.json()) as { endpoints: RegistryEndpoint[] }).endpoints.map((e) => e.id)).toEqual(['a']);
  });

  it('answers 404 for an unknown service, 400 for bad names and parameters, false for foreign paths', async () => {
    expect((await fetch(`${h.url}/v1/services/shop/nope/endpoints`)).status).toBe(404);
    expect((await fetch(`${h.url}/v1/services/Shop/web/endpoints`)).status).toBe(400);
    expect((await fetch(`${h.url}/v1/services/shop/-web/endpoints`)).status).toBe(400);
    h.reg.setReplicas(SVC, []);
    expect((await fetch(`${h.url}${EP}?ready=yes`)).status).toBe(400);
    expect((await fetch(`${h.url}${EP}?index=-1`)).status).toBe(400);
    expect((await fetch(`${h.url}${EP}?index=1&wait=soon`)).status).toBe(400);
    expect((await raw(h, 'GET', '/v1/services/shop/%E0%A4%A/endpoints')).status).toBe(400);
    expect((await fetch(`${h.url}/v1/services/shop/web/other`)).status).toBe(404);
    expect((await fetch(`${h.url}/v1/services`, { method: 'POST' })).status).toBe(405);
    expect((await fetch(`${h.url}/healthz`)).status).toBe(418);
  });
});

describe('registry API: long poll', () => {
  it('answers at once when the client index is behind', async () => {
    h.reg.setReplicas(SVC, [replica('a')]);
    const v = h.reg.version(SVC);
    const res = await fetch(`${h.url}${EP}?index=${v - 1}&wait=30s`);
    expect(res.headers.get('x-berth-index')).toBe(String(v));
  });

  it('blocks until the service changes', async () => {
    h.reg.setReplicas(SVC, [replica('a')]);
    const v = h.reg.version(SVC);
    const arrived = h.nextRequest();
    const pending = fetch(`${h.url}${EP}?index=${v}&wait=30s`);
    await arrived;
    h.reg.setReplicas(SVC, [replica('a'), replica('b')]);
    const res = await pending;
    expect(Number(res.headers.get('x-berth-index'))).toBeGreaterThan(v);
    expect(((await res.json()) as { endpoints: unknown[] }).endpoints).toHaveLength(2);
  });

  it('answers with the same index when the wait expires', async () => {
    h.reg.setReplicas(SVC, [replica('a')]);
    const v = h.reg.version(SVC);
    const arrived = h.nextRequest();
    const pending = fetch(`${h.url}${EP}?index=${v}&wait=200ms`);
    await arrived;
    h.reg.setReplicas('shop/other', [replica('x')]);
    const res = await pending;
    expect(res.status).toBe(200);
    expect(res.headers.get('x-berth-index')).toBe(String(v));
  });
});

describe('registry API: watch (SSE)', () => {
  it('streams change events and heartbeat comments', async () => {
    const text = await new Promise<string>((resolve, reject) => {
      let buf = '';
      const req = http.get(`${h.url}/v1/watch`, (res) => {
        expect(res.headers['content-type']).toBe('text/event-stream');
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          const first = buf === '';
          buf += chunk;
          if (first && buf.includes(': connected')) h.reg.setReplicas(SVC, [replica('a')]);
          if (buf.includes('event: change') && buf.includes(': ping')) { req.destroy(); resolve(buf); }
        });
      });
      req.on('error', reject);
    });
    const v = h.reg.version(SVC);
    expect(text).toContain(`event: change\nid: ${v}\ndata: ${JSON.stringify({ service: SVC, version: v })}\n\n`);
  });
});

describe('registry API: external endpoints', () => {
  it('registers, heartbeats and deregisters an external endpoint', async () => {
    const reg = await put(`${EP}/db-1`, { address: '192.0.2.5', port: 5432, weight: 2, metadata: { dc: 'x' }, ttl: '10s' });
    expect(reg.status).toBe(200);
    expect(h.reg.endpoints(SVC)).toMatchObject([{ id: 'db-1', ttlMs: 10_000, weight: 2, source: 'external', metadata: { dc: 'x' } }]);
    expect((await fetch(`${h.url}${EP}/db-1/heartbeat`, { method: 'PUT' })).status).toBe(200);
    expect((await fetch(`${h.url}${EP}/db-2/heartbeat`, { method: 'PUT' })).status).toBe(404);
    expect((await fetch(`${h.url}${EP}/db-1`, { method: 'DELETE' })).status).toBe(200);
    expect((await fetch(`${h.url}${EP}/db-1`, { method: 'DELETE' })).status).toBe(404);
    expect(h.reg.endpoints(SVC)).toEqual([]);
  });

  it('refuses to overwrite or delete a replica endpoint (409)', async () => {
    h.reg.setReplicas(SVC, [replica('a')]);
    expect((await put(`${EP}/a`, { address: 'x', port: 1, ttl: '5s' })).status).toBe(409);
    expect((await fetch(`${h.url}${EP}/a`, { method: 'DELETE' })).status).toBe(409);
  });

  it('rejects malformed JSON and bad fields with 400, unknown services with 404', async () => {
    const bad = await put(`${EP}/e1`, '{"address": ');
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: string }).error).toMatch(/invalid JSON/);
    for (const body of [[], '', { port: 1, ttl: '1s' }, { address: 'a', port: 0, ttl: '1s' }, { address: 'a', port: 1 },
      { address: 'a', port: 1, ttl: 'soon' }, { address: 'a', port: 1, ttl: '0s' }, { address: 'a', port: 1, ttl: '1s', metadata: { n: 1 } }]) {
      expect((await put(`${EP}/e1`, body)).status).toBe(400);
    }
    expect((await put(`${EP}/bad id`, { address: 'a', port: 1, ttl: '1s' })).status).toBe(400);
    expect((await fetch(`${h.url}/v1/services/shop/nope/endpoints/e1/heartbeat`, { method: 'PUT' })).status).toBe(404);
    expect((await fetch(`${h.url}/v1/services/shop/nope/endpoints/e1`, { method: 'DELETE' })).status).toBe(404);
    expect(h.reg.has(SVC)).toBe(false);
  });

  it('answers 413 to a body over 16 KiB', async () => {
    const big = JSON.stringify({ address: 'a', port: 1, ttl: '1s', metadata: { pad: 'x'.repeat(100 * 1024) } });
    const res = await raw(h, 'PUT', `${EP}/e1`, big);
    expect(res.status).toBe(413);
    expect(h.reg.has(SVC)).toBe(false);
  });
});

describe('registry API: bounds', () => {
  /** An SSE watch from `localAddress`: resolves with the status once the answer (or the stream's first bytes) arrived. */
  const watch = (localAddress: string): Promise<{ status: number; headers: http.IncomingHttpHeaders; req: http.ClientRequest }> =>
    new Promise((resolve, reject) => {
      const req = http.get(`${h.url}/v1/watch`, { localAddress, agent: false }, (res) => resolve({ status: res.statusCode ?? 0, headers: res.headers, req }));
      req.on('error', reject);
    });

  it('refuses a registration for a service outside the applied revision on its headers (404), before any revision 503', async () => {
    const head = `PUT /v1/services/shop/nope/endpoints/e1 HTTP/1.1\r\nHost: x\r\nContent-Length: ${60 * 1024}\r\n\r\n`;
    const answer = await new Promise<string>((resolve) => {
      const s = net.connect(Number(new URL(h.url).port), '127.0.0.1');
      let buf = '';
      s.on('data', (d) => { buf += d.toString(); if (buf.includes('\r\n\r\n')) { s.destroy(); resolve(buf); } });
      s.write(head); // and no body at all: the answer must not wait for it
    });
    expect(answer).toMatch(/^HTTP\/1\.1 404/);
    expect(h.reg.has('shop/nope')).toBe(false);
    await h.close();
    h = await start({}, null);
    const early = await put(`${EP}/e1`, { address: '192.0.2.1', port: 1, ttl: '10s' });
    expect(early.status).toBe(503);
    expect(early.headers.get('retry-after')).toBeTruthy();
  });

  it('caps endpoints per service, metadata and TTL', async () => {
    const metadata = { blob: 'x'.repeat(500), zone: 'a' };
    const statuses: number[] = [];
    for (let i = 0; i < 300; i++) statuses.push((await put(`${EP}/e${i}`, { address: '192.0.2.1', port: 9000 + i, metadata, ttl: '30s' })).status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(256);
    const over = await put(`${EP}/e999`, { address: '192.0.2.1', port: 1, ttl: '30s' });
    expect(over.status).toBe(409);
    expect(await over.json()).toMatchObject({ code: 'limit' });
    expect((await put(`${EP}/e1`, { address: '192.0.2.1', port: 1, ttl: '999999h' })).status).toBe(400);
    expect((await put(`${EP}/e1`, { address: '192.0.2.1', port: 1, ttl: '10s', metadata: { blob: 'x'.repeat(60 * 1024) } })).status).toBe(413);
    const many = Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`k${i}`, 'v']));
    expect((await put(`${EP}/e1`, { address: '192.0.2.1', port: 1, ttl: '10s', metadata: many })).status).toBe(400);
    expect(h.reg.stats().externals).toBe(256);
    for (let i = 0; i < 300; i++) await fetch(`${h.url}${EP}/e${i}`, { method: 'DELETE' });
    expect(h.reg.stats().externals).toBe(0);
  });

  it('caps SSE watchers in total (503) and per client address (429); a closed watcher frees its slot', async () => {
    await h.close();
    h = await start({ maxWatchers: 3, maxStreamsPerClient: 2 });
    const a1 = await watch('127.0.0.2');
    const a2 = await watch('127.0.0.2');
    const a3 = await watch('127.0.0.2');
    expect([a1.status, a2.status, a3.status]).toEqual([200, 200, 429]);
    expect(a3.headers['retry-after']).toBeTruthy();
    const b1 = await watch('127.0.0.3');
    expect(b1.status).toBe(200);
    const c1 = await watch('127.0.0.4');
    expect(c1.status).toBe(503);
    a1.req.destroy();
    await new Promise((r) => setTimeout(r, 100));
    const c2 = await watch('127.0.0.4');
    expect(c2.status).toBe(200);
    for (const w of [a2, b1, c2]) w.req.destroy();
  });

  it('caps blocking queries (503) and frees the slot when a query answers', async () => {
    await h.close();
    h = await start({ maxBlockingQueries: 2, maxStreamsPerClient: 5 });
    h.reg.setReplicas(SVC, [replica('a')]);
    const v = h.reg.version(SVC);
    const waiting = [fetch(`${h.url}${EP}?index=${v}&wait=300ms`), fetch(`${h.url}${EP}?index=${v}&wait=300ms`)];
    await new Promise((r) => setTimeout(r, 100));
    const third = await fetch(`${h.url}${EP}?index=${v}&wait=300ms`);
    expect(third.status).toBe(503);
    expect((await Promise.all(waiting)).map((r) => r.status)).toEqual([200, 200]);
    expect((await fetch(`${h.url}${EP}?index=${v}&wait=50ms`)).status).toBe(200);
  });
});
