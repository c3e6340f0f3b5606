import { copyFile, mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { rawExchange } from '../../test/doubles/proxy-fixtures.ts';
import { waitFor } from '../../test/helpers/docker.ts';
import { freePort } from '../../test/helpers/net.ts';
import { makeHostCert, makeRouteCa, type HostCert } from '../../test/helpers/route-certs.ts';
import { startRouter, type Router, type RouterOptions } from './router.ts';
import { redirectLocation } from './tls-listener.ts';

const POLL = { timeoutMs: 5_000, intervalMs: 10 };

let dir: string;
let ca: Buffer;
let shop: HostCert;
let wild: HostCert;
let renewed: HostCert;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'berth-route-tls-'));
  ca = await readFile(await makeRouteCa(dir));
  shop = await makeHostCert(dir, 'shop', ['shop.example.com']);
  wild = await makeHostCert(dir, 'wild', ['*.example.com']);
  renewed = await makeHostCert(dir, 'renewed', ['shop.example.com']);
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A backend answering JSON {name, proto (its X-Forwarded-Proto), path}. */
async function backend(name: string): Promise<string> {
  const server = http.createServer((req, res) => {
    req.resume();
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ name, proto: req.headers['x-forwarded-proto'], path: req.url }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise<void>((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  }));
  return `127.0.0.1:${(server.address() as { port: number }).port}`;
}

async function router(tlsOpts: NonNullable<RouterOptions['tls']>, extra: Partial<RouterOptions> = {}): Promise<Router> {
  const r = await startRouter({ host: '127.0.0.1', port: 0, tls: tlsOpts, ...extra });
  cleanups.push(() => r.close());
  return r;
}

/** The certificate the router presents for `servername` (none: no SNI), verified against the test CA. */
function peer(port: number, servername?: string): Promise<tls.PeerCertificate> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, ca, ...(servername ? { servername } : {}), rejectUnauthorized: false }, () => {
      const cert = s.getPeerCertificate();
      s.end();
      resolve(cert);
    });
    s.on('error', reject);
  });
}

/** GET over https with SNI and Host `host`. */
function get(port: number, host: string, urlPath: string, headers: http.OutgoingHttpHeaders = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.get({ host: '127.0.0.1', port, path: urlPath, servername: host, headers: { host, ...headers }, ca, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
  });
}

const shopAndWild = (): NonNullable<RouterOptions['tls']> => ({
  certificates: [{ hosts: ['shop.example.com'], cert: shop.cert, key: shop.key }, { hosts: ['*.example.com'], cert: wild.cert, key: wild.key }],
});

describe('router with TLS', () => {
  it('picks the certificate by SNI: exact host, then wildcard, then the first one; TLS 1.2 at least', async () => {
    const r = await router(shopAndWild());
    expect((await peer(r.port, 'shop.example.com')).fingerprint256).toBe(shop.fingerprint);
    const api = await peer(r.port, 'API.example.com');
    expect(api.fingerprint256).toBe(wild.fingerprint);
    expect(api.subjectaltname).toBe('DNS:*.example.com');
    expect((await peer(r.port, 'other.test')).fingerprint256).toBe(shop.fingerprint);
    expect((await peer(r.port)).subject.CN).toBe('shop.example.com');
    await expect(new Promise((resolve, reject) => {
      const s = tls.connect({ host: '127.0.0.1', port: r.port, maxVersion: 'TLSv1.1', minVersion: 'TLSv1', rejectUnauthorized: false }, () => resolve(s.getProtocol()));
      s.on('error', reject);
    })).rejects.toThrow();
  });

  it('proxies each host to its backend with X-Forwarded-Proto: https, replacing what the client sent', async () => {
    const [web, api] = await Promise.all([backend('web'), backend('api')]);
    const r = await router(shopAndWild());
    r.update([
      { host: 'shop.example.com', pathPrefix: '/', backends: [{ service: 'ns/web', weight: 1 }] },
      { host: 'api.example.com', pathPrefix: '/', backends: [{ service: 'ns/api', weight: 1 }] },
    ], {
      'ns/web': { algorithm: 'round-robin', endpoints: [{ id: 'web', address: web, weight: 1 }] },
      'ns/api': { algorithm: 'round-robin', endpoints: [{ id: 'api', address: api, weight: 1 }] },
    });
    const a = await get(r.port, 'shop.example.com', '/cart?x=1', { 'x-forwarded-proto': 'http' });
    expect(a.status).toBe(200);
    expect(JSON.parse(a.body)).toEqual({ name: 'web', proto: 'https', path: '/cart?x=1' });
    expect(JSON.parse((await get(r.port, 'api.example.com', '/v1')).body)).toMatchObject({ name: 'api', proto: 'https' });
    expect((await get(r.port, 'shop.example.com', '/')).status).toBe(200);
    expect(r.stats().perService).toEqual({ 'ns/web': 2, 'ns/api': 1 });
  });

  it('serves a replaced certificate after reload and keeps it when the next replacement is corrupt', async () => {
    const live = path.join(dir, 'live');
    await rm(live, { recursive: true, force: true });
    await mkdir(live);
    const cert = path.join(live, 'tls.crt');
    const key = path.join(live, 'tls.key');
    await Promise.all([copyFile(shop.cert, cert), copyFile(shop.key, key)]);
    const warnings: { msg: string; fields?: object }[] = [];
    const r = await router({ certificates: [{ hosts: ['shop.example.com'], cert, key }], reloadIntervalMs: 20 }, { warn: (msg, fields) => warnings.push({ msg, fields }) });
    expect((await peer(r.port, 'shop.example.com')).fingerprint256).toBe(shop.fingerprint);

    // the way cert tooling renews: new files renamed into place
    await Promise.all([copyFile(renewed.cert, `${cert}.new`), copyFile(renewed.key, `${key}.new`)]);
    await rename(`${key}.new`, key);
    await rename(`${cert}.new`, cert);
    await waitFor(async () => (await peer(r.port, 'shop.example.com')).fingerprint256 === renewed.fingerprint, { ...POLL, what: 'the renewed certificate' });
    expect((await peer(r.port)).fingerprint256).toBe(renewed.fingerprint); // the default context (no SNI) follows too

    await writeFile(cert, '-----BEGIN CERTIFICATE-----\nnot a certificate\n-----END CERTIFICATE-----\n');
    await waitFor(() => warnings.some((w) => w.msg.includes('keeping the previous certificate')), { ...POLL, what: 'a warning' });
    const warning = warnings.find((w) => w.msg.includes('keeping the previous certificate'))!;
    expect(JSON.stringify(warning.fields)).toContain(cert);
    expect(JSON.stringify(warnings)).not.toContain('PRIVATE KEY');
    expect((await peer(r.port, 'shop.example.com')).fingerprint256).toBe(renewed.fingerprint);

    // a key that does not belong to the certificate is refused the same way
    warnings.length = 0;
    await copyFile(wild.key, key);
    await copyFile(shop.cert, cert);
    await waitFor(() => warnings.some((w) => w.msg.includes('keeping the previous certificate')), { ...POLL, what: 'a mismatch warning' });
    expect((await peer(r.port, 'shop.example.com')).fingerprint256).toBe(renewed.fingerprint);
  });

  it('refuses to start when no certificate loads, naming the files', async () => {
    const missing = path.join(dir, 'missing.crt');
    await expect(startRouter({ host: '127.0.0.1', port: 0, tls: { certificates: [{ hosts: ['a.example.com'], cert: missing, key: shop.key }] } }))
      .rejects.toThrow(/no TLS certificate could be loaded \(cert .*missing\.crt/);
  });

  it('answers plain HTTP on the redirect port with 301 to https, same host and path', async () => {
    const port = await freePort();
    const r = await router({ ...shopAndWild(), redirect: { host: '127.0.0.1', port } });
    const a = await rawExchange(port, 'GET /a/b?c=1 HTTP/1.1\r\nHost: Shop.Example.com:8080\r\nConnection: close\r\n\r\n');
    expect(a).toMatch(/^HTTP\/1\.1 301 /);
    expect(a).toContain(`\r\nlocation: https://shop.example.com:${r.port}/a/b?c=1\r\n`);
    expect(await rawExchange(port, 'GET / HTTP/1.0\r\n\r\n')).toMatch(/^HTTP\/1\.1 400/);
    expect(await rawExchange(port, 'GET / HTTP/1.1\r\nHost: a.test\r\nHost: evil.test\r\n\r\n')).toMatch(/^HTTP\/1\.1 400/);
    expect((await get(r.port, 'shop.example.com', '/')).status).toBe(404); // the TLS port itself has no rules yet
  });

  it('builds redirect locations only from safe hosts and paths', () => {
    expect(redirectLocation('shop.example.com', '/x', 443)).toBe('https://shop.example.com/x');
    expect(redirectLocation('[::1]:80', '/x', 8443)).toBe('https://[::1]:8443/x');
    expect(redirectLocation('shop.example.com', 'http://shop.example.com/p?q=1', 443)).toBe('https://shop.example.com/p?q=1');
    expect(redirectLocation('a.test/evil', '/x', 443)).toBeUndefined();
    expect(redirectLocation(undefined, '/x', 443)).toBeUndefined();
    expect(redirectLocation('a.test', '*', 443)).toBeUndefined();
  });
});
