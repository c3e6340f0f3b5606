import { createHmac } from 'node:crypto';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../util/log.ts';
import { BodyReader } from './body-reader.ts';
import { Metrics } from './metrics.ts';
import { startServer, type Server } from './server.ts';
import { UnsignedTriggerLimiter } from './webhook-route.ts';
import { rawRequest as rawOn } from '../../test/doubles/raw-http.ts';

const SECRET = 'berth-SECRET-9f3c2e71d4';
const sign = (body: string | Buffer, secret = SECRET) => `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;

interface Harness {
  server: Server;
  port: number;
  triggers: string[];
  logs: string[];
}

const open: Server[] = [];
const sockets: net.Socket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  for (const s of open.splice(0)) await s.close();
});

async function start(opts: { secret?: string; bodies?: BodyReader; unsignedWebhooks?: UnsignedTriggerLimiter } = {}): Promise<Harness> {
  const triggers: string[] = [];
  const logs: string[] = [];
  const log = createLogger({ level: 'debug', write: (line) => logs.push(line) });
  const server = await startServer('127.0.0.1', 0, {
    log, metrics: new Metrics(), status: () => null, trigger: (reason) => triggers.push(reason),
    webhookSecret: 'secret' in opts ? opts.secret : SECRET,
    limits: { bodies: opts.bodies, unsignedWebhooks: opts.unsignedWebhooks },
  });
  open.push(server);
  return { server, port: Number(new URL(server.url).port), triggers, logs };
}

/** rawRequest on a socket this file closes after each test. */
const rawRequest = (port: number, head: string, o: Parameters<typeof rawOn>[2] = {}) => rawOn(port, head, { ...o, sockets });

const hookHead = (length: number, headers: Record<string, string> = {}) =>
  [`POST /hooks/git HTTP/1.1`, 'Host: berth', `Content-Length: ${length}`, ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)].join('\r\n');

async function hook(h: Harness, body: string, headers: Record<string, string>): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${h.server.url}/hooks/git`, { method: 'POST', body, headers });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

describe('webhook: nothing is buffered before it can be authenticated', () => {
  it('answers 413 on an oversize Content-Length without reading the body', async () => {
    const h = await start();
    const r = await rawRequest(h.port, hookHead(50 * 1024 * 1024, { 'X-Hub-Signature-256': sign('x') }), { timeoutMs: 2_000 });
    expect(r?.status).toBe(413);
    expect(JSON.parse(r!.body)).toMatchObject({ code: 'E_BODY_TOO_LARGE' });
    expect(h.server.stats().bodies.peakBufferedBytes).toBe(0);
    expect(h.triggers).toEqual([]);
  });

  it('answers 401 on a missing or malformed signature before reading the body', async () => {
    const h = await start();
    const missing = await rawRequest(h.port, hookHead(1000), { timeoutMs: 2_000 });
    expect(missing?.status).toBe(401);
    const malformed = await rawRequest(h.port, hookHead(1000, { 'X-Hub-Signature-256': 'sha256=00' }), { timeoutMs: 2_000 });
    expect(malformed?.status).toBe(401);
    expect(h.server.stats().bodies.peakBufferedBytes).toBe(0);
  });

  it('bounds concurrent slow bodies: 503 beyond the readers, 429 beyond a client share, buffered bytes under the cap', async () => {
    const cap = 4 * 64 * 1024;
    const h = await start({ bodies: new BodyReader({ maxBodies: 4, maxBodiesPerClient: 2, maxBufferedBytes: cap, timeoutMs: 5_000 }) });
    const body = Buffer.alloc(64 * 1024, 'a');
    const head = hookHead(body.length, { 'X-Hub-Signature-256': sign(body) });
    // 6 addresses x 2 slow bodies (1 KiB every 20 ms): 4 are read, the other 8 are refused at once.
    const slow = Array.from({ length: 12 }, (_, i) => rawRequest(h.port, head, { body, chunk: 1024, everyMs: 20, timeoutMs: 1_500, localAddress: `127.0.0.${2 + Math.floor(i / 2)}` }));
    // A third body from an address that holds two gets 429.
    await new Promise((r) => setTimeout(r, 200));
    const third = await rawRequest(h.port, head, { body, chunk: 1024, everyMs: 20, timeoutMs: 1_000, localAddress: '127.0.0.2' });
    const answers = await Promise.all(slow);
    const refused = answers.filter((a) => a?.status === 503);
    expect(refused.length).toBe(8);
    expect(refused.every((a) => /retry-after: \d+/i.test(a!.head))).toBe(true);
    expect([429, 503]).toContain(third?.status);
    expect(h.server.stats().bodies.peakBufferedBytes).toBeLessThanOrEqual(cap);
    expect(h.server.stats().bodies.refused).toMatchObject({ E_BUSY: expect.any(Number) });
  });

  it('answers 429 when one client address has its share of bodies being read', async () => {
    const h = await start({ bodies: new BodyReader({ maxBodies: 10, maxBodiesPerClient: 2, timeoutMs: 5_000 }) });
    const body = Buffer.alloc(16 * 1024, 'a');
    const head = hookHead(body.length, { 'X-Hub-Signature-256': sign(body) });
    const held = [0, 1].map(() => rawRequest(h.port, head, { body, chunk: 256, everyMs: 20, timeoutMs: 800, localAddress: '127.0.0.20' }));
    await new Promise((r) => setTimeout(r, 150));
    const third = await rawRequest(h.port, head, { body, timeoutMs: 800, localAddress: '127.0.0.20' });
    expect(third?.status).toBe(429);
    const other = await rawRequest(h.port, head, { body, timeoutMs: 800, localAddress: '127.0.0.21' });
    expect(other?.status).toBe(202);
    await Promise.all(held);
  });

  it('answers 408 when a body does not arrive within the read deadline', async () => {
    const h = await start({ bodies: new BodyReader({ timeoutMs: 300 }) });
    const body = Buffer.alloc(8 * 1024, 'a');
    const t0 = Date.now();
    const r = await rawRequest(h.port, hookHead(body.length, { 'X-Hub-Signature-256': sign(body) }), { body, chunk: 16, everyMs: 50, timeoutMs: 2_000 });
    expect(r?.status).toBe(408);
    expect(Date.now() - t0).toBeLessThan(1_500);
    expect(h.server.stats().bodies.reading).toBe(0);
    expect(h.server.stats().bodies.bufferedBytes).toBe(0);
  });
});

describe('webhook: replays', () => {
  it('a replayed delivery triggers exactly one pass; the replays get 200 "duplicate delivery"', async () => {
    const h = await start();
    const body = JSON.stringify({ ref: 'refs/heads/main', after: 'a'.repeat(40) });
    const headers = { 'x-github-event': 'push', 'x-github-delivery': '72d3162e-cc78-11e3-81ab-4c9367dc0958', 'x-hub-signature-256': sign(body) };
    const answers = [];
    for (let i = 0; i < 20; i++) answers.push(await hook(h, body, headers));
    expect(answers[0]!.status).toBe(202);
    for (const a of answers.slice(1)) expect(a).toEqual({ status: 200, json: { ok: true, ignored: 'duplicate delivery', forge: 'github', event: 'push' } });
    expect(h.triggers).toEqual(['webhook github push']);
  });

  it('knows a replay by its signature when the unsigned delivery header is changed or dropped', async () => {
    const h = await start();
    const body = JSON.stringify({ ref: 'refs/heads/main', after: 'b'.repeat(40) });
    expect((await hook(h, body, { 'x-github-delivery': 'id-1', 'x-hub-signature-256': sign(body) })).status).toBe(202);
    expect((await hook(h, body, { 'x-github-delivery': 'id-2', 'x-hub-signature-256': sign(body) })).json.ignored).toBe('duplicate delivery');
    expect((await hook(h, body, { 'x-hub-signature-256': sign(body) })).json.ignored).toBe('duplicate delivery');
    expect((await hook(h, body, { 'x-gitea-delivery': 'id-3', 'x-hub-signature-256': sign(body) })).json.ignored).toBe('duplicate delivery');
    const next = JSON.stringify({ ref: 'refs/heads/main', after: 'c'.repeat(40) });
    expect((await hook(h, next, { 'x-github-delivery': 'id-4', 'x-hub-signature-256': sign(next) })).status).toBe(202);
    expect(h.triggers).toHaveLength(2);
  });

  it('a forged request does not burn a delivery id', async () => {
    const h = await start();
    const body = '{"after":"d"}';
    expect((await hook(h, body, { 'x-github-delivery': 'id-9', 'x-hub-signature-256': sign(body, 'wrong') })).status).toBe(401);
    expect((await hook(h, body, { 'x-github-delivery': 'id-9', 'x-hub-signature-256': sign(body) })).status).toBe(202);
  });

  it('without a secret, a request only ever asks for a fetch, at most once per interval (429 with Retry-After beyond)', async () => {
    let now = 1_000_000;
    const h = await start({ secret: undefined, unsignedWebhooks: new UnsignedTriggerLimiter({ intervalMs: 10_000, now: () => now }) });
    const first = await hook(h, '{}', { 'x-github-event': 'pull_request', 'x-github-delivery': 'g-1' });
    expect(first.status).toBe(202);
    const again = await rawRequest(h.port, hookHead(2, { 'x-github-event': 'push' }), { body: Buffer.from('{}') });
    expect(again?.status).toBe(429);
    expect(again?.head).toMatch(/retry-after: 10/i);
    now += 10_000;
    expect((await hook(h, '{}', { 'x-github-delivery': 'g-1' })).status).toBe(202); // its delivery id is not trusted either
    expect(h.triggers).toEqual(['webhook (unsigned)', 'webhook (unsigned)']);
  });
});

describe('secrets', () => {
  it('never puts the webhook secret in a log line or an answer', async () => {
    const h = await start();
    const body = '{"after":"e"}';
    const answers: string[] = [];
    const record = async (p: Promise<Response>) => answers.push(await (await p).text());
    await record(fetch(`${h.server.url}/hooks/git`, { method: 'POST', body, headers: { 'x-hub-signature-256': sign(body, 'wrong') } }));
    await record(fetch(`${h.server.url}/hooks/git`, { method: 'POST', body }));
    await record(fetch(`${h.server.url}/hooks/git`, { method: 'POST', body, headers: { 'x-hub-signature-256': sign(body), 'x-github-delivery': 'z' } }));
    await record(fetch(`${h.server.url}/hooks/git`, { method: 'POST', body, headers: { 'x-hub-signature-256': sign(body), 'x-github-delivery': 'z' } }));
    const big = await rawRequest(h.port, hookHead(5 * 1024 * 1024, { 'X-Hub-Signature-256': sign('x') }));
    answers.push(big?.head ?? '', big?.body ?? '');
    await record(fetch(`${h.server.url}/metrics`));
    expect(h.logs.length).toBeGreaterThan(0);
    for (const text of [...h.logs, ...answers]) expect(text).not.toContain(SECRET);
  });
});
