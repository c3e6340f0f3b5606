import { createHmac } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import { rawRequest, type RawAnswer } from '../../test/doubles/raw-http.ts';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../util/log.ts';
import { BodyReader } from './body-reader.ts';
import { DeliveryCache } from './deliveries.ts';
import { handleWebhook, MAX_WEBHOOK_BODY, UnsignedTriggerLimiter, type WebhookContext } from './webhook-route.ts';

const SECRET = 'berth-HOOK-SECRET-4b1d93e0';
const hex = (body: string | Buffer, secret = SECRET) => createHmac('sha256', secret).update(body).digest('hex');

interface Harness {
  url: string;
  port: number;
  ctx: WebhookContext;
  triggers: Array<[reason: string, event: string | undefined]>;
  logs: string[];
  failures: string[];
  clock: { now: number };
}

const servers: http.Server[] = [];
const sockets: net.Socket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

/** The route alone on a real server on 127.0.0.1, with an injected clock for the unsigned limiter. */
async function start(opts: { secret?: string; intervalMs?: number } = {}): Promise<Harness> {
  const triggers: Harness['triggers'] = [];
  const logs: string[] = [];
  const failures: string[] = [];
  const clock = { now: 1_000_000 };
  const ctx: WebhookContext = {
    secret: 'secret' in opts ? opts.secret : SECRET,
    bodies: new BodyReader({ timeoutMs: 2_000 }),
    deliveries: new DeliveryCache(),
    trigger: (reason, event) => triggers.push([reason, event]),
    log: createLogger({ level: 'debug', write: (line) => logs.push(line) }),
    unsignedLimiter: new UnsignedTriggerLimiter({ intervalMs: opts.intervalMs, now: () => clock.now }),
    onAuthFailure: (remote) => failures.push(remote),
  };
  const server = http.createServer((req, res) => void handleWebhook(req, res, ctx));
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  return { url: `http://127.0.0.1:${port}/hooks/git`, port, ctx, triggers, logs, failures, clock };
}

async function post(h: Harness, body: string, headers: Record<string, string>): Promise<{ status: number; json: Record<string, unknown>; headers: Headers }> {
  const res = await fetch(h.url, { method: 'POST', body, headers });
  return { status: res.status, json: (await res.json()) as Record<string, unknown>, headers: res.headers };
}

/** Sends a request head (and `body`, if any) on a raw socket; the answer as soon as it is complete, or null. */
function raw(port: number, head: string[], body?: Buffer, timeoutMs = 2_000): Promise<RawAnswer | null> {
  return rawRequest(port, ['POST /hooks/git HTTP/1.1', 'Host: berth', ...head].join('\r\n'), { body, timeoutMs, sockets });
}

const push = (after: string) => JSON.stringify({ ref: 'refs/heads/main', after: after.repeat(40) });

describe('webhook route: signed deliveries of every forge', () => {
  it('GitHub: X-Hub-Signature-256 → 202 and a pass for the event', async () => {
    const h = await start();
    const body = push('a');
    const r = await post(h, body, { 'x-github-event': 'push', 'x-github-delivery': 'gh-1', 'x-hub-signature-256': `sha256=${hex(body)}` });
    expect(r).toMatchObject({ status: 202, json: { ok: true, forge: 'github', event: 'push' } });
    expect(h.triggers).toEqual([['webhook github push', 'push']]);
  });

  it('GitLab: X-Gitlab-Token; a Merge Request Hook is a pull_request', async () => {
    const h = await start();
    const r = await post(h, '{"object_kind":"merge_request"}', { 'x-gitlab-event': 'Merge Request Hook', 'x-gitlab-token': SECRET, 'x-gitlab-event-uuid': 'gl-1' });
    expect(r).toMatchObject({ status: 202, json: { ok: true, forge: 'gitlab', event: 'pull_request' } });
    expect(h.triggers).toEqual([['webhook gitlab pull_request', 'pull_request']]);
  });

  it('Gitea and Forgejo: bare-hex X-Gitea-Signature / X-Forgejo-Signature', async () => {
    const h = await start();
    const a = push('b');
    const b = push('c');
    expect((await post(h, a, { 'x-gitea-event': 'push', 'x-github-event': 'push', 'x-gitea-delivery': 'gt-1', 'x-gitea-signature': hex(a) })).json)
      .toEqual({ ok: true, forge: 'gitea', event: 'push' });
    expect((await post(h, b, { 'x-forgejo-event': 'pull_request', 'x-forgejo-delivery': 'fj-1', 'x-forgejo-signature': hex(b) })).json)
      .toEqual({ ok: true, forge: 'gitea', event: 'pull_request' });
    expect(h.triggers).toEqual([['webhook gitea push', 'push'], ['webhook gitea pull_request', 'pull_request']]);
  });

  it('Bitbucket: X-Hub-Signature sha256=, repo:refs_changed is a push, diagnostics:ping answered 200', async () => {
    const h = await start();
    const body = push('d');
    const r = await post(h, body, { 'x-event-key': 'repo:refs_changed', 'x-request-id': 'bb-1', 'x-hub-signature': `sha256=${hex(body)}` });
    expect(r).toMatchObject({ status: 202, json: { forge: 'bitbucket', event: 'push' } });
    const ping = await post(h, '{"test":true}', { 'x-event-key': 'diagnostics:ping', 'x-request-id': 'bb-2', 'x-hub-signature': `sha256=${hex('{"test":true}')}` });
    expect(ping).toMatchObject({ status: 200, json: { ok: true, forge: 'bitbucket', event: 'ping' } });
    expect(h.triggers).toEqual([['webhook bitbucket push', 'push']]);
  });

  it('a GitHub ping is answered 200 and triggers nothing', async () => {
    const h = await start();
    const body = '{"zen":"Keep it logically awesome."}';
    expect(await post(h, body, { 'x-github-event': 'ping', 'x-hub-signature-256': `sha256=${hex(body)}` })).toMatchObject({ status: 200, json: { event: 'ping' } });
    expect(h.triggers).toEqual([]);
  });

  it('anything but POST is 405', async () => {
    const h = await start();
    const res = await fetch(h.url);
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('POST');
  });
});

describe('webhook route: refusals', () => {
  it('a missing or malformed credential header is 401 on the headers: the body is never read', async () => {
    const h = await start();
    const cases: Array<[string[], RegExp]> = [
      [['X-GitHub-Event: push'], /X-Hub-Signature-256/],
      [['X-Hub-Signature-256: sha256=00'], /X-Hub-Signature-256/],
      [['X-Gitlab-Event: Push Hook'], /X-Gitlab-Token/],
      [['X-Gitea-Event: push', 'X-Gitea-Signature: sha256=00'], /X-Gitea-Signature/],
      [['X-Event-Key: repo:push', `X-Hub-Signature: ${hex('x')}`], /X-Hub-Signature/],
      [[], /X-Hub-Signature-256, X-Gitlab-Token/],
    ];
    for (const [headers, names] of cases) {
      // 100 KB declared and never sent: the answer comes anyway, so nothing waited for the body
      const r = await raw(h.port, [...headers, 'Content-Length: 100000']);
      expect(r?.status, headers.join()).toBe(401);
      expect(r!.head).toMatch(/connection: close/i);
      expect(JSON.parse(r!.body).error).toMatch(names);
    }
    expect(h.ctx.bodies.stats().peakBufferedBytes).toBe(0);
    expect(h.failures).toHaveLength(cases.length);
    expect(h.failures.every((f) => f === '127.0.0.1')).toBe(true);
    expect(h.triggers).toEqual([]);
  });

  it('a bad signature or a wrong token is 401 naming the forge header, and counted', async () => {
    const h = await start();
    const body = push('e');
    const answers = [
      await post(h, body, { 'x-github-event': 'push', 'x-hub-signature-256': `sha256=${hex(body, 'wrong')}` }),
      await post(h, body, { 'x-gitlab-event': 'Push Hook', 'x-gitlab-token': `${SECRET}x` }),
      await post(h, body, { 'x-gitea-event': 'push', 'x-gitea-signature': hex(body, 'wrong') }),
      await post(h, body, { 'x-event-key': 'repo:push', 'x-hub-signature': `sha256=${hex(`${body} `)}` }),
    ];
    expect(answers.map((a) => a.status)).toEqual([401, 401, 401, 401]);
    expect(answers.map((a) => a.json.error)).toEqual([
      'invalid or missing X-Hub-Signature-256', 'invalid or missing X-Gitlab-Token',
      'invalid or missing X-Gitea-Signature or X-Forgejo-Signature', 'invalid or missing X-Hub-Signature',
    ]);
    expect(h.failures).toHaveLength(4);
    expect(h.triggers).toEqual([]);
  });

  it('a body over the limit is 413, declared (nothing read) or streamed (cut at the limit)', async () => {
    const h = await start();
    const declared = await raw(h.port, [`X-Hub-Signature-256: sha256=${hex('x')}`, `Content-Length: ${MAX_WEBHOOK_BODY + 1}`]);
    expect(declared?.status).toBe(413);
    expect(JSON.parse(declared!.body)).toMatchObject({ code: 'E_BODY_TOO_LARGE' });
    expect(h.ctx.bodies.stats().peakBufferedBytes).toBe(0);
    const big = Buffer.alloc(MAX_WEBHOOK_BODY + 64 * 1024, 'a');
    const chunked = Buffer.concat([Buffer.from(`${big.length.toString(16)}\r\n`), big, Buffer.from('\r\n0\r\n\r\n')]);
    const streamed = await raw(h.port, [`X-Hub-Signature-256: sha256=${hex(big)}`, 'Transfer-Encoding: chunked'], chunked);
    expect(streamed?.status).toBe(413);
    expect(h.triggers).toEqual([]);
  });

  it('never puts the secret in a log line or an answer', async () => {
    const h = await start();
    const body = push('f');
    const texts: string[] = [];
    const requests: Array<Record<string, string>> = [
      { 'x-gitlab-event': 'Push Hook', 'x-gitlab-token': `${SECRET}-nope` },
      { 'x-gitlab-event': 'Push Hook', 'x-gitlab-token': SECRET, 'x-gitlab-event-uuid': 'gl-s' },
      { 'x-github-event': 'push', 'x-hub-signature-256': `sha256=${hex(body, 'wrong')}` },
      { 'x-github-event': 'push', 'x-hub-signature-256': `sha256=${hex(body)}` },
    ];
    for (const headers of requests) texts.push(JSON.stringify((await post(h, body, headers)).json));
    expect(h.logs.length).toBeGreaterThan(0);
    for (const text of [...h.logs, ...texts]) expect(text).not.toContain(SECRET);
  });
});

describe('webhook route: replays', () => {
  it('the same delivery id, or the same signed body, is answered 200 "duplicate delivery" and triggers once', async () => {
    const h = await start();
    const body = push('1');
    const headers = { 'x-github-event': 'push', 'x-github-delivery': 'gh-r', 'x-hub-signature-256': `sha256=${hex(body)}` };
    expect((await post(h, body, headers)).status).toBe(202);
    for (let i = 0; i < 3; i++) {
      expect(await post(h, body, headers)).toMatchObject({ status: 200, json: { ok: true, ignored: 'duplicate delivery', forge: 'github', event: 'push' } });
    }
    // the delivery id is not signed: changing it does not make a replay new
    expect((await post(h, body, { ...headers, 'x-github-delivery': 'gh-other' })).json.ignored).toBe('duplicate delivery');
    // Bitbucket signs the same way: the same body with the same secret is the same delivery
    expect((await post(h, body, { 'x-event-key': 'repo:push', 'x-hub-signature': `sha256=${hex(body)}` })).json.ignored).toBe('duplicate delivery');
    expect(h.triggers).toHaveLength(1);
  });

  it('GitLab (no signature): a replay is known by its event UUID; another UUID with the same token is new', async () => {
    const h = await start();
    const headers = { 'x-gitlab-event': 'Push Hook', 'x-gitlab-token': SECRET, 'x-gitlab-event-uuid': 'gl-r1' };
    expect((await post(h, '{}', headers)).status).toBe(202);
    expect((await post(h, '{}', headers)).json.ignored).toBe('duplicate delivery');
    expect((await post(h, '{}', { ...headers, 'x-gitlab-event-uuid': 'gl-r2' })).status).toBe(202);
    expect(h.triggers).toHaveLength(2);
  });

  it('a forged request does not burn a delivery id', async () => {
    const h = await start();
    const body = push('2');
    expect((await post(h, body, { 'x-github-delivery': 'gh-f', 'x-hub-signature-256': `sha256=${hex(body, 'wrong')}` })).status).toBe(401);
    expect((await post(h, body, { 'x-github-delivery': 'gh-f', 'x-hub-signature-256': `sha256=${hex(body)}` })).status).toBe(202);
  });
});

describe('webhook route: without a secret', () => {
  it('triggers a fetch at most once per interval: 202, then 429 with Retry-After, then 202 once the clock moved on', async () => {
    const h = await start({ secret: undefined, intervalMs: 10_000 });
    expect(await post(h, '{}', { 'x-github-event': 'push' })).toMatchObject({ status: 202, json: { ok: true, event: 'push', unsigned: true } });
    h.clock.now += 2_500;
    const limited = await post(h, '{}', { 'x-github-event': 'push' });
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('8');
    h.clock.now += 7_499;
    expect((await post(h, '{}', {})).status).toBe(429);
    h.clock.now += 1;
    expect((await post(h, '{}', {})).status).toBe(202);
    expect(h.triggers).toEqual([['webhook (unsigned)', 'push'], ['webhook (unsigned)', 'push']]);
  });

  it('believes nothing of the request: a pull_request or a ping is a plain fetch, a delivery id no replay key', async () => {
    const h = await start({ secret: undefined });
    expect((await post(h, '{}', { 'x-github-event': 'pull_request', 'x-github-delivery': 'u-1' })).json).toEqual({ ok: true, event: 'push', unsigned: true });
    h.clock.now += 10_000;
    expect((await post(h, '{}', { 'x-gitlab-event': 'Merge Request Hook', 'x-github-delivery': 'u-1' })).status).toBe(202);
    h.clock.now += 10_000;
    expect((await post(h, '{}', { 'x-github-event': 'ping' })).status).toBe(202);
    expect(h.triggers).toEqual([['webhook (unsigned)', 'push'], ['webhook (unsigned)', 'push'], ['webhook (unsigned)', 'push']]);
    expect(h.ctx.deliveries.size).toBe(0);
  });

  it('a rate-limited request is refused before its body is read; an admitted one still has its body bounded', async () => {
    const h = await start({ secret: undefined });
    expect((await post(h, '{}', {})).status).toBe(202);
    const peak = h.ctx.bodies.stats().peakBufferedBytes;
    const limited = await raw(h.port, ['Content-Length: 100000']);
    expect(limited?.status).toBe(429);
    expect(limited!.head).toMatch(/retry-after: 10/i);
    expect(limited!.head).toMatch(/connection: close/i);
    h.clock.now += 10_000;
    expect((await raw(h.port, [`Content-Length: ${MAX_WEBHOOK_BODY + 1}`]))?.status).toBe(413);
    expect(h.ctx.bodies.stats().peakBufferedBytes).toBe(peak);
    expect(h.triggers).toHaveLength(1);
  });
});
