/**
 * RegistryClient's protocol logic against small local Node HTTP servers playing a registry and a token service
 * (Bearer challenges, token caching, refresh tokens, redirects, size caps, Link pagination, digest fallback).
 * Basic auth, TLS and the real answers of distribution are tested against docker-registry in test/registry-client.test.ts.
 */
import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { BerthError } from '../model/errors.ts';
import { nextLink, parseChallenge, RegistryClient, type RegistryCredential } from './registry-client.ts';

const PASSWORD = 'spec-pw-7f3a9c1e5b';
const USER = 'alice';
const MANIFEST = JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: {}, layers: [] });
const MANIFEST_DIGEST = `sha256:${createHash('sha256').update(MANIFEST).digest('hex')}`;

type Handler = (req: http.IncomingMessage, res: http.ServerResponse, body: string) => void;
interface Fake {
  host: string;
  seen: { method: string; url: string; authorization?: string; body: string }[];
  handle: Handler;
}

const servers: http.Server[] = [];

async function fake(handle: Handler = () => undefined): Promise<Fake> {
  const f: Fake = { host: '', seen: [], handle };
  const server = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8').on('data', (d: string) => (body += d)).on('end', () => {
      f.seen.push({ method: req.method!, url: req.url!, ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}), body });
      f.handle(req, res, body);
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  f.host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  return f;
}

afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((resolve) => s.close(resolve));
  }
});

const basicOf = (u: string, p: string): string => `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`;

function json(res: http.ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}): void {
  const body = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...headers });
  res.end(body);
}

/** A token service handing `token` to alice:PASSWORD (GET) or to refresh token `rt-1` (POST), anonymous → 401. */
async function tokenService(o: { token?: string; field?: 'token' | 'access_token'; expiresIn?: number } = {}): Promise<Fake> {
  let n = 0;
  return fake((req, res, body) => {
    const url = new URL(req.url!, 'http://x');
    const ok = req.method === 'GET' ? req.headers.authorization === basicOf(USER, PASSWORD) : new URLSearchParams(body).get('refresh_token') === 'rt-1';
    if (!ok) return json(res, 401, { details: 'incorrect username or password' });
    n++;
    const scope = req.method === 'GET' ? url.searchParams.get('scope') : new URLSearchParams(body).get('scope');
    json(res, 200, { [o.field ?? 'token']: `${o.token ?? 'tok'}-${n}-${scope}`, ...(o.expiresIn ? { expires_in: o.expiresIn } : {}) });
  });
}

/** A registry that wants `Bearer tok-*` tokens from `realm`, serving MANIFEST for shop/api:1 (HEAD with digest unless noDigest). */
async function bearerRegistry(realm: string, o: { noDigest?: boolean } = {}): Promise<Fake> {
  return fake((req, res) => {
    if (!req.headers.authorization?.startsWith('Bearer tok')) {
      return json(res, 401, { errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] }, {
        'www-authenticate': `Bearer realm="${realm}",service="fake-registry",scope="repository:shop/api:pull"`,
      });
    }
    if (req.url === '/v2/shop/api/manifests/1') {
      res.writeHead(200, { 'content-type': 'application/vnd.oci.image.manifest.v1+json', 'content-length': Buffer.byteLength(MANIFEST), ...(o.noDigest ? {} : { 'docker-content-digest': MANIFEST_DIGEST }) });
      return res.end(req.method === 'HEAD' ? undefined : MANIFEST);
    }
    json(res, 404, { errors: [{ code: 'MANIFEST_UNKNOWN', message: 'manifest unknown' }] });
  });
}

const credsOf = (c: RegistryCredential | undefined) => ({ get: async () => c });
const alice = credsOf({ username: USER, password: PASSWORD });

async function caught(p: Promise<unknown>): Promise<BerthError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(BerthError);
    expect((err as BerthError).code).toBe('E_PULL');
    return err as BerthError;
  }
  throw new Error('expected a rejection');
}

function expectNoSecret(err: BerthError, ...secrets: string[]): void {
  const all = `${err.message}\n${err.stack}\n${JSON.stringify(err)}`;
  for (const s of [PASSWORD, Buffer.from(`${USER}:${PASSWORD}`).toString('base64'), ...secrets]) expect(all).not.toContain(s);
  expect(err.cause).toBeUndefined();
}

describe('Bearer token flow', () => {
  it('fetches a token with basic auth for repository:<repo>:pull, then caches it per scope', async () => {
    const tokens = await tokenService({ expiresIn: 300 });
    const reg = await bearerRegistry(`http://${tokens.host}/token`);
    const client = new RegistryClient({ credentials: alice, insecure: [reg.host] });
    expect(await client.resolve(`${reg.host}/shop/api:1`)).toEqual({ digest: MANIFEST_DIGEST, mediaType: 'application/vnd.oci.image.manifest.v1+json' });
    expect(tokens.seen).toHaveLength(1);
    const asked = new URL(tokens.seen[0]!.url, 'http://x');
    expect(asked.searchParams.get('service')).toBe('fake-registry');
    expect(asked.searchParams.get('scope')).toBe('repository:shop/api:pull');
    expect(asked.searchParams.get('account')).toBe(USER);
    expect(reg.seen.map((s) => `${s.method} ${s.authorization ?? '-'}`)).toEqual(['HEAD -', 'HEAD Bearer tok-1-repository:shop/api:pull']);
    // cached: no token request and no challenge round trip
    await client.resolve(`${reg.host}/shop/api:1`);
    expect(tokens.seen).toHaveLength(1);
    expect(reg.seen).toHaveLength(3);
    expect(reg.seen[2]!.authorization).toBe('Bearer tok-1-repository:shop/api:pull');
    // another repository is another scope: a new token
    const missing = await caught(client.resolve(`${reg.host}/shop/other:1`));
    expect(tokens.seen).toHaveLength(2);
    expect(missing.message).toBe(`registry ${reg.host} answered 404 MANIFEST_UNKNOWN (manifest unknown) for ${reg.host}/shop/other:1`);
    expectNoSecret(missing, 'tok-2');
  });

  it('fetches a new token once the cached one expired (expires_in, 60 s by default)', async () => {
    const tokens = await tokenService({ expiresIn: 1 });
    const reg = await bearerRegistry(`http://${tokens.host}/token`);
    const client = new RegistryClient({ credentials: alice, insecure: [reg.host] });
    await client.resolve(`${reg.host}/shop/api:1`);
    await client.resolve(`${reg.host}/shop/api:1`);
    expect(tokens.seen).toHaveLength(1);
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    await client.resolve(`${reg.host}/shop/api:1`);
    expect(tokens.seen).toHaveLength(2);
  });

  it('takes access_token, and trades an identity token with POST grant_type=refresh_token', async () => {
    const tokens = await tokenService({ field: 'access_token' });
    const reg = await bearerRegistry(`http://${tokens.host}/token`);
    const client = new RegistryClient({ credentials: credsOf({ identityToken: 'rt-1' }), insecure: [reg.host] });
    expect((await client.resolve(`${reg.host}/shop/api:1`)).digest).toBe(MANIFEST_DIGEST);
    expect(tokens.seen[0]!.method).toBe('POST');
    const form = new URLSearchParams(tokens.seen[0]!.body);
    expect(Object.fromEntries(form)).toEqual({ grant_type: 'refresh_token', refresh_token: 'rt-1', client_id: 'berth', scope: 'repository:shop/api:pull', service: 'fake-registry' });
  });

  it('anonymous token requests carry no Authorization; a refused token request is an E_PULL naming the token service', async () => {
    const tokens = await tokenService();
    const reg = await bearerRegistry(`http://${tokens.host}/token`);
    const err = await caught(new RegistryClient({ credentials: credsOf(undefined), insecure: [reg.host] }).resolve(`${reg.host}/shop/api:1`));
    expect(tokens.seen[0]!.authorization).toBeUndefined();
    expect(err.message).toBe(`token service ${tokens.host}/token answered 401 (incorrect username or password) (no credentials for this registry) for ${reg.host}/shop/api:1`);
    const wrong = 'spec-wrong-pw-99';
    const err2 = await caught(new RegistryClient({ credentials: credsOf({ username: USER, password: wrong }), insecure: [reg.host] }).resolve(`${reg.host}/shop/api:1`));
    expect(err2.message).toContain('credentials refused');
    expectNoSecret(err2, wrong, Buffer.from(`${USER}:${wrong}`).toString('base64'));
  });

  it('sends a registry token as is', async () => {
    const reg = await bearerRegistry('http://127.0.0.1:1/never');
    const client = new RegistryClient({ credentials: credsOf({ registryToken: 'tok-given' }), insecure: [reg.host] });
    expect((await client.resolve(`${reg.host}/shop/api:1`)).digest).toBe(MANIFEST_DIGEST);
    expect(reg.seen.at(-1)!.authorization).toBe('Bearer tok-given');
  });

  it('tries https first on a loopback registry, then plain http', async () => {
    const tokens = await tokenService();
    const reg = await bearerRegistry(`http://${tokens.host}/token`);
    const client = new RegistryClient({ credentials: alice });
    expect((await client.resolve(`${reg.host}/shop/api:1`)).digest).toBe(MANIFEST_DIGEST);
  });
});

describe('answers', () => {
  it('computes the digest from the body when HEAD gives no Docker-Content-Digest', async () => {
    const tokens = await tokenService();
    const reg = await bearerRegistry(`http://${tokens.host}/token`, { noDigest: true });
    const client = new RegistryClient({ credentials: alice, insecure: [reg.host] });
    expect(await client.resolve(`${reg.host}/shop/api:1`)).toEqual({ digest: MANIFEST_DIGEST, mediaType: 'application/vnd.oci.image.manifest.v1+json' });
    expect(reg.seen.map((s) => s.method)).toEqual(['HEAD', 'HEAD', 'GET']);
    // sent with the Accept of every manifest type
    const pinned = await caught(client.resolve(`${reg.host}/shop/api:1@sha256:${'0'.repeat(64)}`));
    expect(pinned.message).toContain('404 MANIFEST_UNKNOWN');
  });

  it('asks for the OCI index, Docker list, Docker v2 and OCI manifest types', async () => {
    let accept = '';
    const reg = await fake((req, res) => {
      accept = String(req.headers.accept);
      res.writeHead(200, { 'docker-content-digest': MANIFEST_DIGEST, 'content-type': 'application/vnd.oci.image.index.v1+json' }).end();
    });
    const got = await new RegistryClient({ credentials: credsOf(undefined), insecure: [reg.host] }).resolve(`${reg.host}/x`);
    expect(got.mediaType).toBe('application/vnd.oci.image.index.v1+json');
    expect(reg.seen[0]!.url).toBe('/v2/x/manifests/latest');
    expect(accept.split(', ')).toEqual([
      'application/vnd.oci.image.index.v1+json',
      'application/vnd.docker.distribution.manifest.list.v2+json',
      'application/vnd.docker.distribution.manifest.v2+json',
      'application/vnd.oci.image.manifest.v1+json',
    ]);
  });

  it('refuses a manifest over 4 MiB', async () => {
    const reg = await fake((req, res) => {
      if (req.method === 'HEAD') return res.writeHead(200).end();
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(Buffer.alloc(4 * 1024 * 1024 + 1, 32));
    });
    const err = await caught(new RegistryClient({ credentials: credsOf(undefined), insecure: [reg.host] }).resolve(`${reg.host}/x:1`));
    expect(err.message).toBe(`registry ${reg.host} sent an answer larger than 4 MiB for ${reg.host}/x:1`);
  });

  it('refuses a token answer over 64 KiB (declared length)', async () => {
    const tokens = await fake((_req, res) => json(res, 200, { token: 'x'.repeat(70_000) }));
    const reg = await bearerRegistry(`http://${tokens.host}/token`);
    const err = await caught(new RegistryClient({ credentials: alice, insecure: [reg.host] }).resolve(`${reg.host}/shop/api:1`));
    expect(err.message).toBe(`token service ${tokens.host}/token sent an answer larger than 64 KiB (68.4 KiB) for ${reg.host}/shop/api:1`);
  });

  it('times out a registry that answers too slowly', async () => {
    const reg = await fake((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"tags":['); // and never the rest
    });
    const err = await caught(new RegistryClient({ credentials: alice, insecure: [reg.host], timeoutMs: 300 }).listTags(`${reg.host}/x`));
    expect(err.message).toBe(`registry ${reg.host} did not answer within 0.3 s listing the tags of ${reg.host}/x`);
  });

  it('follows up to 3 redirects for GET, dropping Authorization when the host changes', async () => {
    const storage = await fake((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/vnd.oci.image.manifest.v1+json' });
      res.end(MANIFEST);
    });
    const reg = await fake((req, res) => {
      if (!req.headers.authorization) return res.writeHead(401, { 'www-authenticate': 'Basic realm="r"' }).end();
      if (req.method === 'HEAD') return res.writeHead(200).end();
      if (req.url === '/v2/x/manifests/1') return res.writeHead(307, { location: '/v2/x/manifests/1-moved' }).end();
      res.writeHead(302, { location: `http://${storage.host}/blob` }).end();
    });
    const client = new RegistryClient({ credentials: alice, insecure: [reg.host, storage.host] });
    expect((await client.resolve(`${reg.host}/x:1`)).digest).toBe(MANIFEST_DIGEST);
    expect(reg.seen.map((s) => `${s.method} ${s.url} ${s.authorization ? 'auth' : '-'}`)).toEqual([
      'HEAD /v2/x/manifests/1 -', 'HEAD /v2/x/manifests/1 auth', 'GET /v2/x/manifests/1 auth', 'GET /v2/x/manifests/1-moved auth',
    ]);
    expect(storage.seen).toEqual([{ method: 'GET', url: '/blob', body: '' }]);

    const loop = await fake((req, res) => res.writeHead(req.method === 'HEAD' ? 404 : 302, { location: '/again' }).end());
    const err = await caught(new RegistryClient({ credentials: alice, insecure: [loop.host] }).resolve(`${loop.host}/x:1`));
    expect(err.message).toBe(`registry ${loop.host} redirected more than 3 times for ${loop.host}/x:1`);
    expect(loop.seen).toHaveLength(5);
  });

  it('names connection refused and unresolvable hosts', async () => {
    const refused = await caught(new RegistryClient({ credentials: alice, insecure: ['127.0.0.1:1'] }).resolve('127.0.0.1:1/x:1'));
    expect(refused.message).toBe('registry 127.0.0.1:1: connection refused on 127.0.0.1:1 for 127.0.0.1:1/x:1');
    const dns = await caught(new RegistryClient({ credentials: alice }).resolve('no-such-host.invalid/x:1'));
    expect(dns.message).toMatch(/^registry no-such-host\.invalid: cannot resolve host no-such-host\.invalid \((ENOTFOUND|EAI_AGAIN)\) for no-such-host\.invalid\/x:1$/);
  });
});

describe('listTags', () => {
  it('follows Link rel="next" pages and stops at 10,000 tags', async () => {
    const all = Array.from({ length: 10_050 }, (_, i) => `t${String(i).padStart(5, '0')}`);
    const reg = await fake((req, res) => {
      const url = new URL(req.url!, 'http://x');
      const n = Number(url.searchParams.get('n') ?? 100);
      const last = url.searchParams.get('last');
      const start = last ? all.indexOf(last) + 1 : 0;
      const page = all.slice(start, start + n);
      const more = start + n < all.length;
      json(res, 200, { name: 'shop/api', tags: page }, more ? { link: `</v2/shop/api/tags/list?last=${page.at(-1)}&n=${n}>; rel="next"` } : {});
    });
    const few = await fake((req, res) => {
      const last = new URL(req.url!, 'http://x').searchParams.get('last');
      if (!last) return json(res, 200, { tags: ['a', 'b'] }, { link: '</v2/r/tags/list?last=b&n=2>; rel="next"' });
      if (last === 'b') return json(res, 200, { tags: ['c', 'd'] }, { link: `<http://${few.host}/v2/r/tags/list?last=d&n=2>; rel="next"` });
      json(res, 200, { tags: ['e'] });
    });
    expect(await new RegistryClient({ credentials: alice, insecure: [few.host], pageSize: 2 }).listTags(`${few.host}/r`)).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(few.seen.map((s) => s.url)).toEqual(['/v2/r/tags/list?n=2', '/v2/r/tags/list?last=b&n=2', '/v2/r/tags/list?last=d&n=2']);

    const big = await new RegistryClient({ credentials: alice, insecure: [reg.host], pageSize: 1000 }).listTags(`${reg.host}/shop/api`);
    expect(big).toHaveLength(10_000);
    expect(big).toEqual(all.slice(0, 10_000));
    expect(reg.seen).toHaveLength(10);
  });

  it('stops on a page that adds nothing (a Link loop) and refuses a next page on another host', async () => {
    const loop = await fake((_req, res) => json(res, 200, { tags: ['a'] }, { link: '</v2/r/tags/list?n=1>; rel="next"' }));
    expect(await new RegistryClient({ credentials: alice, insecure: [loop.host] }).listTags(`${loop.host}/r`)).toEqual(['a']);
    expect(loop.seen).toHaveLength(2);
    const away = await fake((_req, res) => json(res, 200, { tags: ['a'] }, { link: '<http://127.0.0.1:9/v2/r/tags/list>; rel="next"' }));
    const err = await caught(new RegistryClient({ credentials: alice, insecure: [away.host] }).listTags(`${away.host}/r`));
    expect(err.message).toContain('next-page link to another host (127.0.0.1:9)');
  });

  it('takes a null tag list as empty', async () => {
    const reg = await fake((_req, res) => json(res, 200, { name: 'r', tags: null }));
    expect(await new RegistryClient({ credentials: alice, insecure: [reg.host] }).listTags(`${reg.host}/r`)).toEqual([]);
  });
});

describe('header parsing', () => {
  it('parseChallenge', () => {
    expect(parseChallenge('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/nginx:pull"'))
      .toEqual({ scheme: 'bearer', realm: 'https://auth.docker.io/token', service: 'registry.docker.io' });
    expect(parseChallenge('Basic realm="berth-test-registry"')).toEqual({ scheme: 'basic' });
    expect(parseChallenge(['Basic realm="x"', 'Bearer realm="https://a/t"'])).toEqual({ scheme: 'bearer', realm: 'https://a/t' });
    expect(parseChallenge('bearer realm=https://a/t, service=s')).toEqual({ scheme: 'bearer', realm: 'https://a/t', service: 's' });
    expect(parseChallenge('Bearer service="s"')).toBeUndefined();
    expect(parseChallenge(undefined)).toBeUndefined();
  });

  it('nextLink', () => {
    expect(nextLink('</v2/r/tags/list?last=b&n=2>; rel="next"')).toBe('/v2/r/tags/list?last=b&n=2');
    expect(nextLink('<https://h/a>; rel="prev", <https://h/b>; rel=next')).toBe('https://h/b');
    expect(nextLink('<https://h/a>; rel="prev"')).toBeUndefined();
    expect(nextLink(undefined)).toBeUndefined();
  });
});
