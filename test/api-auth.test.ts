/**
 * berth's own API on a real operator: every route x role (401 without credentials, 403 for the wrong role, the
 * operator's namespace grant), bad, expired and revoked tokens, the token file's permissions, the audit trail of
 * state changes, and the brute-force limit.
 */
import fs from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TokenStore } from '../operator/auth/tokens.ts';
import { cleanupInstance, testDocker, uniqueInstance, waitFor } from './helpers/docker.ts';
import { makeRemote, type Remote } from './helpers/git.ts';
import { idleService, startTestOperator, type TestOperator } from './helpers/operator.ts';

const docker = testDocker();
const instance = uniqueInstance('auth');
const manifest = idleService;

let remote: Remote;
let op: TestOperator;
const tokens: Record<string, string> = {};

/** One request; the SSE route is answered with headers and then cut. */
function call(method: string, route: string, token?: string, body?: string): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${op.url}${route}`, { method, headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body ? { 'content-type': 'application/json' } : {}) } }, (res) => {
      if (route.startsWith('/v1/watch') && res.statusCode === 200) {
        resolve({ status: 200, headers: res.headers, body: '' });
        req.destroy();
        return;
      }
      let text = '';
      res.on('data', (c: Buffer) => { text += c.toString(); });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

beforeAll(async () => {
  remote = await makeRemote({ 'web.yaml': manifest('web', 'shop'), 'db.yaml': manifest('db', 'data') });
  op = await startTestOperator(remote.url, instance);
  await op.reached((p) => p.converged, 'first converged pass');
  const store = TokenStore.open(op.stateDir);
  tokens.viewer = (await store.create({ name: 'dash', role: 'viewer' })).token;
  tokens.operator = (await store.create({ name: 'ci', role: 'operator', namespaces: ['shop'] })).token;
  tokens.admin = (await store.create({ name: 'root', role: 'admin' })).token;
  tokens.expired = (await store.create({ name: 'old', role: 'admin', expiresAt: new Date(Date.now() - 1000) })).token;
  tokens.revoked = (await store.create({ name: 'gone', role: 'admin' })).token;
  // the operator re-reads the file within a second; wait for the last token written, so every one is in force (waiting for
  // an earlier one could see a read that predates the expired and revoked tokens, and both would then answer `unknown`)
  await waitFor(async () => (await call('GET', '/v1/status', tokens.revoked)).status === 200 || undefined, { what: 'new tokens in force' });
}, 120_000);

afterAll(async () => {
  await op?.stop();
  await remote?.close();
  await cleanupInstance(docker, instance);
});

type Who = 'none' | 'viewer' | 'operator' | 'admin';
const WHO: Who[] = ['none', 'viewer', 'operator', 'admin'];
const endpoint = JSON.stringify({ address: '127.0.0.1', port: 9, ttl: '1h' });

/** route -> expected status per caller, in WHO order. */
const TABLE: [string, string, string | undefined, number[]][] = [
  ['GET', '/healthz', undefined, [200, 200, 200, 200]],
  ['GET', '/metrics', undefined, [401, 200, 200, 200]],
  ['GET', '/v1/status', undefined, [401, 200, 200, 200]],
  ['GET', '/v1/proxies', undefined, [401, 200, 200, 200]],
  ['GET', '/v1/services', undefined, [401, 200, 200, 200]],
  ['GET', '/v1/services/shop/web/endpoints', undefined, [401, 200, 200, 200]],
  ['GET', '/v1/watch?service=shop/web', undefined, [401, 200, 200, 200]],
  ['PUT', '/v1/services/shop/web/endpoints/ext-{who}', endpoint, [401, 403, 200, 200]],
  ['PUT', '/v1/services/shop/web/endpoints/ext-{who}/heartbeat', undefined, [401, 403, 200, 200]],
  ['DELETE', '/v1/services/shop/web/endpoints/ext-{who}', undefined, [401, 403, 200, 200]],
  ['PUT', '/v1/services/data/db/endpoints/x-{who}', endpoint, [401, 403, 403, 200]],
  ['DELETE', '/v1/services/data/db/endpoints/x-{who}', undefined, [401, 403, 403, 200]],
  ['POST', '/v1/sync', undefined, [401, 403, 202, 202]],
  ['GET', '/v1/audit?since=1h', undefined, [401, 403, 403, 200]],
  ['GET', '/v1/no-such-route', undefined, [401, 404, 404, 404]],
];

describe('every route x role', () => {
  for (const [method, route, body, expected] of TABLE) {
    it(`${method} ${route}`, async () => {
      const got: number[] = [];
      // {who}: each caller its own endpoint id, so an earlier caller's change does not decide a later one's answer
      for (const who of WHO) got.push((await call(method, route.replace('{who}', who), who === 'none' ? undefined : tokens[who], body)).status);
      expect(got).toEqual(expected);
    });
  }
});

describe('credentials', () => {
  it('answers 401 with a Bearer challenge, and says nothing more, for no, malformed, unknown, expired and revoked tokens', async () => {
    const store = TokenStore.open(op.stateDir);
    expect(store.revoke('gone')).toBe(true);
    await waitFor(async () => (await call('GET', '/v1/status', tokens.revoked)).status === 401 || undefined, { what: 'revocation in force' });
    const none = await call('GET', '/v1/status');
    expect(none.headers['www-authenticate']).toBe('Bearer realm="berth"');
    const unknown = `berth_000000000000_${'A'.repeat(43)}`;
    for (const t of ['not-a-token', unknown, tokens.expired!, tokens.revoked!]) {
      const r = await call('GET', '/v1/status', t);
      expect(r.status).toBe(401);
      expect(r.headers['www-authenticate']).toBe('Bearer realm="berth", error="invalid_token"');
      expect(JSON.parse(r.body)).toEqual({ error: 'authentication required' });
    }
    const metrics = (await call('GET', '/metrics', tokens.viewer)).body;
    expect(metrics).toMatch(/^berth_api_auth_failures_total\{reason="expired"\} [1-9]/m);
    expect(metrics).toMatch(/^berth_api_auth_failures_total\{reason="missing"\} [1-9]/m);
  });

  it('keeps the tokens file and the CLI token readable by their owner only, and no token secret in it', async () => {
    const file = path.join(op.stateDir, 'tokens.json');
    expect((await fs.stat(file)).mode & 0o777).toBe(0o600);
    expect((await fs.stat(path.join(op.stateDir, 'cli-token'))).mode & 0o777).toBe(0o600);
    const text = await fs.readFile(file, 'utf8');
    for (const t of Object.values(tokens)) expect(text).not.toContain(t.slice(19)); // the secret after berth_<12 hex>_ (it may hold '_' itself)
  });

  it('records who changed what, from where, with the result, and what berth applied with its revision', async () => {
    const r = await call('GET', '/v1/audit?since=1h', tokens.admin);
    const entries = (JSON.parse(r.body) as { entries: { actor: string; source: string; action: string; result: string; revision?: string }[] }).entries;
    expect(entries).toContainEqual(expect.objectContaining({ actor: 'ci', source: '127.0.0.1', action: 'PUT /v1/services/shop/web/endpoints/ext-operator', result: '200' }));
    expect(entries).toContainEqual(expect.objectContaining({ actor: 'ci', action: 'PUT /v1/services/data/db/endpoints/x-operator', result: '403' }));
    expect(entries).toContainEqual(expect.objectContaining({ actor: 'anonymous', action: 'POST /v1/sync', result: '401' }));
    expect(entries).toContainEqual(expect.objectContaining({ actor: 'root', action: 'DELETE /v1/services/data/db/endpoints/x-admin', result: '200' }));
    expect(entries.filter((e) => e.actor === 'berth' && e.action.startsWith('apply create-network')).every((e) => /^[0-9a-f]{40}$/.test(e.revision ?? ''))).toBe(true);
    expect(entries.some((e) => e.actor === 'berth')).toBe(true);
  });

  it('refuses an address for the rest of the window after 20 failed tokens, and counts failures in /metrics', async () => {
    const bad = `berth_000000000000_${'B'.repeat(43)}`;
    const statuses: number[] = [];
    for (let i = 0; i < 22; i++) statuses.push((await call('GET', '/v1/status', bad)).status);
    // the earlier tests' bad tokens count in the same window: 401s until the 20th failure, then 429s
    const first429 = statuses.indexOf(429);
    expect(first429).toBeGreaterThan(0);
    expect(statuses.slice(0, first429).every((s) => s === 401)).toBe(true);
    expect(statuses.slice(first429).every((s) => s === 429)).toBe(true);
    const locked = await call('GET', '/v1/status', tokens.admin);
    expect(locked.status).toBe(429);
    expect(Number(locked.headers['retry-after'])).toBeGreaterThan(0);
  });
});
