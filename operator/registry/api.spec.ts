import http from 'node:http';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { registryRoutes } from './api.ts';
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

async function start(): Promise<Harness> {
  const reg = new Registry({ now: () => 0 });
  const routes = registryRoutes(reg, { sseHeartbeatMs: 50 });
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
function raw(h: Harness, method: string, path: string, body?: string | Buffer): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${h.url}${path}`, { method }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
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

  it('answers 413 to a body over 64 KiB', async () => {
    const big = JSON.stringify({ address: 'a', port: 1, ttl: '1s', metadata: { pad: 'x'.repeat(100 * 1024) } });
    const res = await raw(h, 'PUT', `${EP}/e1`, big);
    expect(res.status).toBe(413);
    expect(h.reg.has(SVC)).toBe(false);
  });
});
