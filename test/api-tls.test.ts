/**
 * berth's API over TLS on a real operator: HTTPS with --tls-cert/--tls-key, client certificates (--tls-client-ca) mapped
 * to roles by --tls-client-policy, a policy file that does not parse, the refused (and the --insecure-listen) start on a
 * non-loopback address, and --metrics-public.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOperator } from '../operator/commands/operator.ts';
import { flagsWith } from '../operator/settings/flags.ts';
import { createLogger, silentLogger } from '../operator/util/log.ts';
import { cleanupInstance, testDocker, uniqueInstance } from './helpers/docker.ts';
import { makeRemote, type Remote } from './helpers/git.ts';
import { idleService, startTestOperator, type TestOperator } from './helpers/operator.ts';
import { makeCerts, request, type TestCerts } from './helpers/tls.ts';

const docker = testDocker();
const instances: string[] = [];
const operators: TestOperator[] = [];
const manifest = idleService('web', 'shop');
const endpoint = JSON.stringify({ address: '127.0.0.1', port: 9, ttl: '1h' });

let remote: Remote;
let certs: TestCerts;
let tmp: string;

/** An operator on its own instance, stopped and cleaned up in afterAll. */
async function operator(prefix: string, extra: Record<string, string | boolean>, opts: Parameters<typeof startTestOperator>[3] = {}): Promise<TestOperator> {
  const instance = uniqueInstance(prefix);
  instances.push(instance);
  const op = await startTestOperator(remote.url, instance, extra, opts);
  operators.push(op);
  // /v1/status answers 503 until the first pass finished
  if (!op.passes.length) await op.waitPass(() => true, 'the first pass');
  return op;
}

/** startOperator for a start that must fail: its own state dir (removed here), so nothing of the refused start stays. */
async function refusedStart(prefix: string, extra: Record<string, string | boolean>): Promise<Error> {
  const stateDir = await fs.mkdtemp(path.join(os.tmpdir(), 'berth-refused-'));
  const instance = uniqueInstance(prefix);
  try {
    const op = await startOperator(flagsWith('run', { repo: remote.url, instance, interval: '1h', listen: '127.0.0.1:0', 'state-dir': stateDir, ...extra }), silentLogger).catch((e: Error) => e);
    if (!(op instanceof Error)) {
      await op.stop();
      await cleanupInstance(docker, instance);
      throw new Error('the operator started');
    }
    return op;
  } finally {
    await fs.rm(stateDir, { recursive: true, force: true });
  }
}

const tokenOf = (op: TestOperator): string => op.auth.authorization.replace(/^Bearer /, '');

beforeAll(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'berth-tls-'));
  [certs, remote] = await Promise.all([makeCerts(tmp), makeRemote({ 'web.yaml': manifest })]);
  await fs.writeFile(path.join(tmp, 'policy.yaml'), 'apiVersion: berth/v1\nkind: ClientPolicy\nclients:\n  - subject: ci-runner\n    role: viewer\n');
}, 120_000);

afterAll(async () => {
  for (const op of operators) await op.stop();
  await remote?.close();
  for (const i of instances) await cleanupInstance(docker, i);
  if (tmp) await fs.rm(tmp, { recursive: true, force: true });
});

describe('HTTPS (--tls-cert, --tls-key)', () => {
  let op: TestOperator;
  beforeAll(async () => {
    op = await operator('tls', { 'tls-cert': certs.serverCert, 'tls-key': certs.serverKey });
  });

  it('serves /v1/status over HTTPS to a client trusting the CA, with the token', async () => {
    expect(op.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const r = await request(`${op.url}/v1/status`, { ca: certs.ca, token: tokenOf(op) });
    expect(r.status, r.body).toBe(200);
    expect(JSON.parse(r.body)).toHaveProperty('conditions');
    // the cli-token file holds the same token
    expect((await fs.readFile(path.join(op.stateDir, 'cli-token'), 'utf8')).trim()).toBe(tokenOf(op));
    expect((await request(`${op.url}/v1/status`, { ca: certs.ca })).status).toBe(401);
  });

  it('answers no plain-HTTP request, and fails a client that does not trust the CA', async () => {
    await expect(request(`${op.url.replace('https:', 'http:')}/v1/status`, { token: tokenOf(op) })).rejects.toThrow(/socket hang up|ECONNRESET/);
    await expect(request(`${op.url}/v1/status`, { token: tokenOf(op) })).rejects.toThrow(/certificate|verify/i);
  });
});

describe('client certificates (--tls-client-ca, --tls-client-policy)', () => {
  let op: TestOperator;
  beforeAll(async () => {
    op = await operator('mtls', { 'tls-cert': certs.serverCert, 'tls-key': certs.serverKey, 'tls-client-ca': certs.ca, 'tls-client-policy': path.join(tmp, 'policy.yaml') });
  });

  it('gives the role of the policy to a certificate of the CA, without a token', async () => {
    const client = { ca: certs.ca, cert: certs.clientCert, key: certs.clientKey };
    const status = await request(`${op.url}/v1/status`, client);
    expect(status.status, status.body).toBe(200);
    const put = await request(`${op.url}/v1/services/shop/web/endpoints/e1`, { ...client, method: 'PUT', body: endpoint });
    expect(put.status, put.body).toBe(403);
    expect(JSON.parse(put.body)).toEqual({ error: 'role viewer may not write endpoints in namespace shop' });
    // a token still works beside the certificate (the local CLI's admin token)
    const admin = await request(`${op.url}/v1/services/shop/web/endpoints/e1`, { ...client, method: 'PUT', body: endpoint, token: tokenOf(op) });
    expect(admin.status, admin.body).toBe(200);
  });

  it('refuses (403) a certificate of the CA that the policy does not name', async () => {
    const r = await request(`${op.url}/v1/status`, { ca: certs.ca, cert: certs.strangerCert, key: certs.strangerKey });
    expect(r.status, r.body).toBe(403);
    expect(JSON.parse(r.body)).toEqual({ error: 'client certificate not named in the client policy' });
  });

  it('fails the handshake of a certificate from another CA, and of a client without a certificate', async () => {
    const refused = (opts: Parameters<typeof request>[1]) => request(`${op.url}/v1/status`, opts).then((r) => `answered ${r.status}`, (e: Error) => e.message);
    // TLS 1.3: the client finishes its side first, so the refusal arrives as an alert or a cut connection, never an answer
    const cut = /alert|socket hang up|ECONNRESET|EPIPE/i;
    expect(await refused({ ca: certs.ca, cert: certs.otherCert, key: certs.otherKey })).toMatch(cut);
    expect(await refused({ ca: certs.ca })).toMatch(/certificate required/);
    expect(await refused({ ca: certs.ca, token: tokenOf(op) })).toMatch(/certificate required/);
  });
});

describe('refused starts', () => {
  it('fails the start on a client policy that does not parse, naming file:line and the field', async () => {
    const bad = path.join(tmp, 'bad-policy.yaml');
    await fs.writeFile(bad, 'apiVersion: berth/v1\nkind: ClientPolicy\nclients:\n  - subject: ci-runner\n    role: superuser\n');
    const err = await refusedStart('badpol', { 'tls-cert': certs.serverCert, 'tls-key': certs.serverKey, 'tls-client-ca': certs.ca, 'tls-client-policy': bad });
    expect(err.message).toBe(`${bad}:5: clients[0].role: must be one of viewer, operator, admin`);
  });

  it('refuses a non-loopback address without TLS, in one line naming --insecure-listen', async () => {
    const err = await refusedStart('exposed', { listen: '0.0.0.0:0' });
    expect(err.message).not.toContain('\n');
    expect(err.message).toMatch(/^refusing to start: listening on 0\.0\.0\.0:0, which is not loopback, without TLS/);
    expect(err.message).toContain('--insecure-listen');
  });

  it('refuses a non-loopback address with TLS but without credentials', async () => {
    const err = await refusedStart('notoken', { listen: '0.0.0.0:0', 'tls-cert': certs.serverCert, 'tls-key': certs.serverKey });
    expect(err.message).toMatch(/^refusing to start: listening on 0\.0\.0\.0:0, which is not loopback, without credentials \(berth token create, or --tls-client-ca\);/);
    expect(err.message).not.toMatch(/without TLS/);
  });

  it('starts there with --insecure-listen, warning about it', async () => {
    const lines: string[] = [];
    const op = await operator('insecure', { listen: '0.0.0.0:0', 'insecure-listen': true }, { log: createLogger({ level: 'warn', write: (l) => lines.push(l) }) });
    const port = new URL(op.url).port;
    const r = await request(`http://127.0.0.1:${port}/v1/status`, { token: tokenOf(op) });
    expect(r.status, r.body).toBe(200);
    expect(lines.filter((l) => l.includes('insecure: listening on 0.0.0.0:0, which is not loopback, without TLS'))).toHaveLength(1);
    expect(lines.find((l) => l.includes('insecure:'))).toContain('(--insecure-listen)');
  });
});

describe('--metrics-public', () => {
  it('serves /metrics without a token, and still wants one for /v1/status', async () => {
    const op = await operator('metrics', { 'metrics-public': true });
    const metrics = await request(`${op.url}/metrics`);
    expect(metrics.status).toBe(200);
    expect(metrics.body).toMatch(/^# HELP /m);
    expect((await request(`${op.url}/v1/status`)).status).toBe(401);
    expect((await request(`${op.url}/v1/status`, { token: tokenOf(op) })).status).toBe(200);
  });
});
