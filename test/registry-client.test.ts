/**
 * RegistryClient against a real registry (docker-registry, CNCF distribution 2.8, from test/helpers/registry.ts):
 * TLS on 10.98.0.1 verified with the registry's CA, htpasswd basic auth, tag lists over several pages, and a plain
 * HTTP registry on 127.0.0.1 without auth.
 */
import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BerthError } from '../operator/model/errors.ts';
import { RegistryClient, type CredentialSource, type RegistryCredential } from '../operator/images/registry-client.ts';
import { TEST_IMAGE } from './helpers/docker.ts';
import { startTestRegistry, type TestRegistry } from './helpers/registry.ts';

const run = promisify(execFile);

let reg: TestRegistry;
let plain: TestRegistry;
let work: string;
let certsDir: string;
let emptyCertsDir: string;
let digest1: string;

function creds(map: Record<string, RegistryCredential>): CredentialSource {
  return { get: async (domain) => map[domain] };
}

async function caught(p: Promise<unknown>): Promise<BerthError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(BerthError);
    return err as BerthError;
  }
  throw new Error('expected a rejection');
}

/** Neither the password nor any base64 of user:password in the error, its fields or its stack. */
function expectNoSecret(err: BerthError, ...secrets: string[]): void {
  const all = [err.message, String(err.stack), JSON.stringify(err), JSON.stringify(Object.getOwnPropertyNames(err).map((k) => String((err as unknown as Record<string, unknown>)[k])))].join('\n');
  for (const s of secrets) {
    expect(all).not.toContain(s);
    expect(all).not.toContain(Buffer.from(s).toString('base64'));
    expect(all).not.toContain(Buffer.from(`${reg.username}:${s}`).toString('base64'));
  }
  expect(err.cause).toBeUndefined();
}

beforeAll(async () => {
  [reg, plain] = await Promise.all([startTestRegistry(), startTestRegistry({ tls: false, auth: false })]);
  work = await mkdtemp(path.join(os.tmpdir(), 'berth-regclient-'));
  certsDir = path.join(work, 'certs.d');
  emptyCertsDir = path.join(work, 'empty-certs.d');
  await mkdir(path.join(certsDir, reg.host), { recursive: true });
  await mkdir(emptyCertsDir);
  await copyFile(reg.caFile, path.join(certsDir, reg.host, 'ca.crt'));
  digest1 = await reg.push(TEST_IMAGE, 'shop/api:1');
});

afterAll(async () => {
  await Promise.all([reg?.stop(), plain?.stop()]);
  if (work) await rm(work, { recursive: true, force: true });
});

describe('RegistryClient on a TLS registry with basic auth', () => {
  const client = (o: { password?: string; certs?: string; pageSize?: number; none?: boolean } = {}): RegistryClient =>
    new RegistryClient({
      credentials: creds(o.none ? {} : { [reg.host]: { username: reg.username, password: o.password ?? reg.password } }),
      certsDir: o.certs ?? certsDir,
      ...(o.pageSize ? { pageSize: o.pageSize } : {}),
    });

  it('resolves a pushed tag to the digest the push reported, with one challenge then up-front auth', async () => {
    const c = client();
    const before = (await reg.settledRequests()).length;
    const got = await c.resolve(`${reg.host}/shop/api:1`);
    expect(got).toEqual({ digest: digest1, mediaType: 'application/vnd.docker.distribution.manifest.v2+json' });
    expect(await c.resolve(`${reg.host}/shop/api:1`)).toEqual(got);
    const seen = (await reg.settledRequests()).slice(before).filter((r) => r.path === '/v2/shop/api/manifests/1');
    expect(seen).toEqual([
      { method: 'HEAD', path: '/v2/shop/api/manifests/1', status: 401 },
      { method: 'HEAD', path: '/v2/shop/api/manifests/1', status: 200 },
      { method: 'HEAD', path: '/v2/shop/api/manifests/1', status: 200 },
    ]);
  });

  it('resolves a reference pinned to a digest, and the default CA dir (/etc/docker/certs.d) the helper filled', async () => {
    const c = new RegistryClient({ credentials: creds({ [reg.host]: { username: reg.username, password: reg.password } }) });
    expect((await c.resolve(`${reg.host}/shop/api@${digest1}`)).digest).toBe(digest1);
    expect((await c.resolve(`${reg.host}/shop/api:1@${digest1}`)).digest).toBe(digest1);
  });

  it('sees a tag re-pushed with another image as a new digest', async () => {
    const c = client();
    const first = await reg.push(TEST_IMAGE, 'shop/moving:stable');
    expect((await c.resolve(`${reg.host}/shop/moving:stable`)).digest).toBe(first);
    const second = await reg.pushSized('shop/moving:stable', 1);
    expect(second).not.toBe(first);
    expect((await c.resolve(`${reg.host}/shop/moving:stable`)).digest).toBe(second);
    // the old manifest is still there by digest
    expect((await c.resolve(`${reg.host}/shop/moving@${first}`)).digest).toBe(first);
  });

  it('names MANIFEST_UNKNOWN, the registry and the image for a missing tag (transient E_PULL, no password)', async () => {
    const ref = `${reg.host}/shop/api:9.9`;
    const err = await caught(client().resolve(ref));
    expect(err.code).toBe('E_PULL');
    expect(err.terminal).toBe(false);
    expect(err.message).toBe(`registry ${reg.host} answered 404 MANIFEST_UNKNOWN (manifest unknown) for ${ref}`);
    expectNoSecret(err, reg.password);
    const repo = await caught(client().listTags(`${reg.host}/nope/nothing`));
    expect(repo.message).toContain('404 NAME_UNKNOWN');
  });

  it('reports 401 UNAUTHORIZED for a wrong password, without the password', async () => {
    const wrong = `${reg.password}-wrong`;
    const err = await caught(client({ password: wrong }).resolve(`${reg.host}/shop/api:1`));
    expect(err.code).toBe('E_PULL');
    expect(err.message).toContain(`registry ${reg.host} answered 401 UNAUTHORIZED`);
    expect(err.message).toContain('credentials refused');
    expectNoSecret(err, wrong, reg.password);
    const list = await caught(client({ password: wrong }).listTags(`${reg.host}/shop/api`));
    expect(list.message).toContain('401 UNAUTHORIZED');
    expectNoSecret(list, wrong, reg.password);
  });

  it('reports 401 without credentials', async () => {
    const err = await caught(client({ none: true }).resolve(`${reg.host}/shop/api:1`));
    expect(err.message).toContain('answered 401 UNAUTHORIZED');
    expect(err.message).toContain('no credentials for this registry');
  });

  it('verifies TLS: a CA dir without the registry CA gives a clear error naming where it looked', async () => {
    const err = await caught(client({ certs: emptyCertsDir }).resolve(`${reg.host}/shop/api:1`));
    expect(err.code).toBe('E_PULL');
    expect(err.message).toContain(`registry ${reg.host}: TLS verification failed: certificate signed by unknown authority`);
    expect(err.message).toContain(path.join(emptyCertsDir, reg.host));
    expect(err.message).toContain(`for ${reg.host}/shop/api:1`);
    expectNoSecret(err, reg.password);
    // a CA dir holding another CA: the file tried is named
    const other = path.join(work, 'other-certs.d');
    await mkdir(path.join(other, reg.host), { recursive: true });
    await run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', path.join(work, 'other.key'), '-out', path.join(other, reg.host, 'ca.crt'), '-days', '1', '-subj', '/CN=other']);
    const err2 = await caught(client({ certs: other }).resolve(`${reg.host}/shop/api:1`));
    expect(err2.message).toContain(`CA files tried: ${path.join(other, reg.host, 'ca.crt')}`);
  });

  it('gives up on a registry that does not answer within the timeout, without the password', async () => {
    const sockets = new Set<net.Socket>();
    const silent = net.createServer((s) => sockets.add(s));
    await new Promise<void>((resolve) => silent.listen(0, '10.98.0.1', resolve));
    const host = `10.98.0.1:${(silent.address() as net.AddressInfo).port}`;
    try {
      const c = new RegistryClient({ credentials: creds({ [host]: { username: reg.username, password: reg.password } }), certsDir, timeoutMs: 400 });
      const started = Date.now();
      const err = await caught(c.resolve(`${host}/shop/api:1`));
      expect(Date.now() - started).toBeLessThan(3_000);
      expect(err.message).toBe(`registry ${host} did not answer within 0.4 s for ${host}/shop/api:1`);
      expectNoSecret(err, reg.password);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  it('lists tags, asking for pages of pageSize (distribution 2.8 ignores ?n= on tags/list and answers them all)', async () => {
    const tags = ['a1', 'a2', 'b1', 'b2', 'c1'];
    for (const t of tags) await reg.push(TEST_IMAGE, `shop/paged:${t}`);
    const before = (await reg.settledRequests()).length;
    expect((await client({ pageSize: 2 }).listTags(`${reg.host}/shop/paged:whatever`)).sort()).toEqual(tags);
    const pages = (await reg.settledRequests()).slice(before).filter((r) => r.path.startsWith('/v2/shop/paged/tags/list'));
    expect(pages).toEqual([
      { method: 'GET', path: '/v2/shop/paged/tags/list?n=2', status: 401 },
      { method: 'GET', path: '/v2/shop/paged/tags/list?n=2', status: 200 },
    ]);
    expect((await client().listTags(`${reg.host}/shop/paged`)).sort()).toEqual(tags);
  });

  it('the engine pulls from the registry too (dockerd verifies it with /etc/docker/certs.d/HOST:PORT/ca.crt)', async () => {
    const config = await mkdtemp(path.join(work, 'docker-config-'));
    const docker = (args: string[]): Promise<{ stdout: string }> => run('docker', ['--config', config, ...args]);
    const login = run('docker', ['--config', config, 'login', reg.host, '-u', reg.username, '--password-stdin']);
    login.child.stdin!.end(reg.password);
    await login;
    const ref = `${reg.host}/shop/api@${digest1}`;
    await docker(['pull', '-q', ref]);
    const { stdout } = await docker(['image', 'inspect', '--format', '{{json .RepoDigests}}', ref]);
    expect(stdout).toContain(digest1);
    await docker(['rmi', ref]);
    // another dockerd of this host (berth-e1, started by the global setup) reads the same /etc/docker/certs.d
    const e1 = ['-H', 'unix:///run/berth-engines/e1/docker.sock'];
    const e1Login = run('docker', ['--config', config, ...e1, 'login', reg.host, '-u', reg.username, '--password-stdin']);
    e1Login.child.stdin!.end(reg.password);
    await e1Login;
    await docker([...e1, 'pull', '-q', ref]);
    await docker([...e1, 'rmi', ref]);
  });
});

describe('RegistryClient on a plain HTTP registry on 127.0.0.1 (no TLS, no auth)', () => {
  it('resolves and lists tags: https first, then plain http, as dockerd does for loopback', async () => {
    const digest = await plain.push(TEST_IMAGE, 'web/site:2');
    expect(plain.host.startsWith('127.0.0.1:')).toBe(true);
    const c = new RegistryClient({ credentials: creds({}), certsDir });
    expect(await c.resolve(`${plain.host}/web/site:2`)).toEqual({ digest, mediaType: 'application/vnd.docker.distribution.manifest.v2+json' });
    expect(await c.listTags(`${plain.host}/web/site`)).toEqual(['2']);
    const missing = await caught(c.resolve(`${plain.host}/web/site:3`));
    expect(missing.message).toBe(`registry ${plain.host} answered 404 MANIFEST_UNKNOWN (manifest unknown) for ${plain.host}/web/site:3`);
  });

  it('speaks plain http straight away to a host listed as insecure', async () => {
    const c = new RegistryClient({ credentials: creds({}), insecure: [plain.host] });
    const before = (await plain.settledRequests()).length;
    const got = await c.resolve(`${plain.host}/web/site:2`);
    expect(got.digest).toMatch(/^sha256:[a-f0-9]{64}$/);
    expect((await plain.settledRequests()).slice(before).filter((r) => r.path.startsWith('/v2/web/site/'))).toEqual([{ method: 'HEAD', path: '/v2/web/site/manifests/2', status: 200 }]);
  });
});
