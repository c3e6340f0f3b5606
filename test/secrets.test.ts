/**
 * berth's own secrets never leave the process: a real operator holds a credentialed git URL, a webhook secret, a
 * GitHub token (with a hostile fake GitHub that echoes the Authorization header back in its errors), the local CLI
 * token and API tokens; after passes, webhooks (bad and good), 401s with near-miss tokens, valid API calls, a failing
 * revision and a failing fetch, none of them appears in any log line, HTTP answer, /metrics, the audit trail (file and
 * API), the status branch (files and commit messages), the environment or command line of the script probes berth
 * spawns, or process.title.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TokenStore } from '../operator/auth/tokens.ts';
import { createLogger } from '../operator/util/log.ts';
import { cleanupInstance, testDocker, uniqueInstance, waitFor } from './helpers/docker.ts';
import { makeRemote, withAuth, type Remote } from './helpers/git.ts';
import { signedWebhook, startTestOperator, statusFromBranch, type TestOperator } from './helpers/operator.ts';

const run = promisify(execFile);
const docker = testDocker();
const instance = uniqueInstance('secrets');
const rand = (n: number) => randomBytes(n).toString('hex');

const WEBHOOK = `whsec-DISTINCT-${rand(12)}`;
const GH_TOKEN = `ghp_DISTINCT${rand(16)}`;
// '+' and '/' differ in their URL-encoded form: both forms must stay out
const auth = { username: 'berth-bot', password: `gitpw+DISTINCT/${rand(10)}` };
const BASIC = Buffer.from(`${auth.username}:${auth.password}`).toString('base64');
const TOKEN_ENV = 'BERTH_TEST_SECRETS_GH_TOKEN';

const lines: string[] = [];
const bodies: { what: string; text: string }[] = [];
const apiTokens: Record<string, string> = {};
const badTokens: string[] = [];
let cliToken = '';
let dumpDir: string;
let remote: Remote;
let op: TestOperator;
let gh: http.Server;
let ghUrl = '';
let ghRequests = 0;
let gitMode: 'ok' | 'fail' = 'ok';

const web = `apiVersion: berth/v1
kind: Service
metadata: { name: web, namespace: sec }
spec:
  image: berth-local/busybox:1
  command: [sleep, "3600"]
`;
const probed = `apiVersion: berth/v1
kind: Service
metadata: { name: probed, namespace: sec }
spec:
  image: berth-local/busybox:1
  command: [sleep, "3600"]
  health:
    readiness: { script: { file: probes/dump.sh }, interval: 1s, timeout: 900ms, failureThreshold: 1 }
`;
/** Dumps its own environment and command line (as the kernel shows them to any local user) and fails, printing its env. */
const dumpScript = (dir: string) => `#!/bin/sh
cat /proc/$$/environ > ${dir}/environ.$$ 2>/dev/null
cat /proc/$$/cmdline > ${dir}/cmdline.$$ 2>/dev/null
env > ${dir}/env.$$
echo "env: $(env | tr '\\n' ' ')"
exit 1
`;

/** Every distinctive value, by a name that can be printed. */
function secrets(): [string, string][] {
  const out: [string, string][] = [
    ['webhook secret', WEBHOOK], ['github token', GH_TOKEN], ['git password', auth.password],
    ['git password (URL-encoded)', encodeURIComponent(auth.password)], ['git basic credentials', BASIC],
    ['cli token', cliToken], ['cli token secret', cliToken.slice(19)],
  ];
  for (const [name, t] of Object.entries(apiTokens)) out.push([`api token ${name}`, t], [`api token ${name} secret`, t.slice(19)]);
  badTokens.forEach((t, i) => out.push([`presented near-miss token #${i}`, t]));
  return out;
}

/** The names of the secrets found in `text`. */
function leaks(text: string): string[] {
  return secrets().filter(([, v]) => v && text.includes(v)).map(([n]) => n);
}

function call(method: string, route: string, token?: string, body?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${op.url}${route}`, { method, headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body ? { 'content-type': 'application/json' } : {}) } }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => { text += c.toString(); });
      res.on('end', () => {
        bodies.push({ what: `${method} ${route} -> ${res.statusCode} (headers ${JSON.stringify(res.headers)})`, text: text + JSON.stringify(res.headers) });
        resolve({ status: res.statusCode ?? 0, body: text });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** A pass after now, asked for with a trigger. */
async function pass(what: string, pred: Parameters<TestOperator['waitPass']>[0] = () => true) {
  return waitFor(async () => {
    const next = op.waitPass(() => true, what);
    op.trigger(`test: ${what}`);
    const p = await next;
    return pred(p) ? p : undefined;
  }, { what, intervalMs: 200, timeoutMs: 60_000 }).catch((err: Error) => {
    const last = op.passes.at(-1);
    throw new Error(`${err.message}; last pass: error ${last?.error?.message}, fetch ${last?.fetchError?.message}, services ${JSON.stringify(last?.status.services)}`);
  });
}

beforeAll(async () => {
  dumpDir = await fs.mkdtemp(path.join(os.tmpdir(), 'berth-secrets-dump-'));
  await fs.chmod(dumpDir, 0o777);
  // A hostile GitHub: every answer is an error that echoes the credentials it was sent.
  gh = http.createServer((req, res) => {
    ghRequests++;
    req.resume();
    res.writeHead(401, { 'content-type': 'application/json' }); // not 5xx: Octokit would retry with backoff and stop() wait it out
    res.end(JSON.stringify({ message: `Bad credentials: ${req.headers.authorization ?? 'nobody'}` }));
  });
  await new Promise<void>((resolve) => gh.listen(0, '127.0.0.1', resolve));
  ghUrl = `http://127.0.0.1:${(gh.address() as AddressInfo).port}`;
  process.env[TOKEN_ENV] = GH_TOKEN;
  remote = await makeRemote({ 'web.yaml': web, 'probed.yaml': probed, 'probes/dump.sh': dumpScript(dumpDir) }, {
    auth,
    onRequest: () => {
      if (gitMode === 'fail') throw new Error(`git server down (${auth.username})`);
    },
  });
  const log = createLogger({ level: 'debug', write: (l) => lines.push(l) });
  op = await startTestOperator(withAuth(remote.url, auth), instance, {
    'webhook-secret': WEBHOOK, 'github-repo': 'acme/shop', 'github-api-url': ghUrl, 'github-token-env': TOKEN_ENV, 'status-interval': '1s',
  }, { log });
  cliToken = op.auth.authorization.replace(/^Bearer /, '');
  const store = TokenStore.open(op.stateDir);
  apiTokens.viewer = (await store.create({ name: 'dash', role: 'viewer' })).token;
  apiTokens.operator = (await store.create({ name: 'ci', role: 'operator', namespaces: ['sec'] })).token;
  apiTokens.admin = (await store.create({ name: 'root', role: 'admin' })).token;
  await waitFor(async () => (await call('GET', '/v1/status', apiTokens.admin)).status === 200 || undefined, { what: 'new tokens in force' });
}, 120_000);

afterAll(async () => {
  gitMode = 'ok';
  await op?.stop();
  await remote?.close();
  gh?.closeAllConnections();
  await new Promise((resolve) => gh?.close(resolve));
  await cleanupInstance(docker, instance);
  delete process.env[TOKEN_ENV];
  if (dumpDir) await fs.rm(dumpDir, { recursive: true, force: true });
});

describe('berth\'s own secrets', () => {
  it('never appear in any output, whatever the API, the webhook, the revision or git do', async () => {
    await pass('a converged pass', (p) => p.converged || p.status.services['sec/web']?.running === 1);

    // webhooks: unsigned, signed with a near-miss secret, signed right
    const nearSecret = WEBHOOK.slice(0, -1) + (WEBHOOK.endsWith('a') ? 'b' : 'a');
    for (const [what, res] of [
      ['unsigned webhook', await fetch(`${op.url}/hooks/git`, { method: 'POST', body: '{}', headers: { 'x-github-event': 'push' } })],
      ['near-miss webhook', await signedWebhook(op.url, nearSecret, 'push', JSON.stringify({ ref: 'refs/heads/main' }))],
      ['gitlab token webhook', await fetch(`${op.url}/hooks/git`, { method: 'POST', body: '{}', headers: { 'x-gitlab-event': 'Push Hook', 'x-gitlab-token': nearSecret } })],
      ['good webhook', await signedWebhook(op.url, WEBHOOK, 'push', JSON.stringify({ ref: 'refs/heads/main', n: 1 }))],
    ] as const) {
      bodies.push({ what: `${what} -> ${res.status}`, text: (await res.text()) + JSON.stringify([...res.headers]) });
    }
    expect(bodies.at(-1)!.what).toBe('good webhook -> 202');
    expect(bodies.at(-3)!.what).toBe('near-miss webhook -> 401');

    // 401s: tokens one character off a real one (secret part, id part), the bare secret part, Basic with the secret
    const admin = apiTokens.admin!;
    const flip = (s: string, i: number) => s.slice(0, i) + (s[i] === 'A' ? 'B' : 'A') + s.slice(i + 1);
    badTokens.push(flip(admin, admin.length - 1), flip(admin, 'berth_'.length), admin.slice(19), flip(cliToken, cliToken.length - 5));
    for (const t of badTokens) expect((await call('GET', '/v1/status', t)).status).toBe(401);
    expect((await call('POST', '/v1/sync', badTokens[0])).status).toBe(401);
    expect((await call('GET', '/v1/audit?since=1h', apiTokens.viewer)).status).toBe(403);

    // valid calls, state-changing ones included (audited)
    expect((await call('POST', '/v1/sync', apiTokens.operator)).status).toBe(202);
    expect((await call('PUT', '/v1/services/sec/web/endpoints/ext1', apiTokens.operator, JSON.stringify({ address: '127.0.0.1', port: 9, ttl: '1h' }))).status).toBe(200);
    expect((await call('GET', '/v1/services', apiTokens.viewer)).status).toBe(200);

    // the probe ran (its dump is there) and its output reached the status
    await waitFor(async () => ((await fs.readdir(dumpDir)).some((f) => f.startsWith('environ.')) ? true : undefined), { what: 'script probe dump', timeoutMs: 30_000 });
    await pass('probe output in the status', (p) => /exit 1: env:/.test(p.status.services['sec/probed']?.replicas?.[0]?.message ?? ''));

    // a failing revision, then a failing fetch, then git back
    await remote.commit({ 'broken.yaml': `apiVersion: berth/v1\nkind: Service\nmetadata: { name: "Bad Name!", namespace: sec }\nspec: { image: "", replicas: -1 }\n` }, 'break');
    const broken = await pass('a pass rejecting the revision', (p) => p.error !== null && p.error.code !== 'E_GIT');
    gitMode = 'fail';
    const fetchFailed = await pass('a pass with git failing', (p) => p.fetchError !== null);
    gitMode = 'ok';
    await remote.commit({ 'broken.yaml': null }, 'fix');
    await pass('a pass with the fixed revision', (p) => p.error === null && p.fetchError === null);
    const errors = JSON.stringify([broken.error?.message, broken.status, fetchFailed.fetchError?.message, fetchFailed.error?.message, fetchFailed.status]);
    expect(errors).toMatch(/Bad Name|name/);

    // what the API shows now
    const status = await call('GET', '/v1/status', apiTokens.viewer);
    const metrics = await call('GET', '/metrics', apiTokens.viewer);
    const auditApi = await call('GET', '/v1/audit?since=1h', apiTokens.admin);
    expect(status.status).toBe(200);
    expect(metrics.body).toMatch(/berth_api_auth_failures_total\{reason="mismatch"\} [1-9]/);
    const audit = JSON.parse(auditApi.body) as { entries: { actor: string; action: string; result: string }[] };
    expect(audit.entries).toContainEqual(expect.objectContaining({ actor: 'anonymous', action: 'POST /v1/sync', result: '401' }));
    expect(audit.entries).toContainEqual(expect.objectContaining({ action: expect.stringMatching(/^POST \/hooks\/git: webhook github push/) }));

    // the status branch: the file and every commit message
    const branch = await waitFor(() => statusFromBranch(remote.bareDir, instance).then((s) => (s && s.text.includes('exit 1: env:') ? s : undefined)), { what: 'status commit with the probe output' });
    const { stdout: commitLog } = await run('git', ['--git-dir', remote.bareDir, 'log', '--format=%an %ae%n%B', 'berth/status']);
    const { stdout: branchTree } = await run('git', ['--git-dir', remote.bareDir, 'grep', '-I', '-e', '.', 'berth/status']).catch(() => ({ stdout: '' }));

    // the probe's environment and command line as the kernel exposes them
    const dumps: { what: string; text: string }[] = [];
    for (const f of await fs.readdir(dumpDir)) dumps.push({ what: `probe ${f}`, text: await fs.readFile(path.join(dumpDir, f), 'latin1') });
    const environ = dumps.find((d) => d.what.startsWith('probe environ.'))!.text.split('\0').filter(Boolean).map((kv) => kv.split('=')[0]).sort();
    expect(environ).toEqual(['BERTH_ADDRESS', 'BERTH_CONTAINER_ID', 'BERTH_CONTAINER_NAME', 'LANG', 'PATH']);

    const auditFile = await fs.readFile(path.join(op.stateDir, 'audit.jsonl'), 'utf8');
    const tokensFile = await fs.readFile(path.join(op.stateDir, 'tokens.json'), 'utf8');
    const { stdout: ps } = await run('ps', ['-eo', 'pid,args', '--no-headers']);
    const sinks: { what: string; text: string }[] = [
      { what: 'log lines', text: lines.join('\n') },
      { what: 'GET /v1/status', text: status.body },
      { what: 'GET /metrics', text: metrics.body },
      { what: 'GET /v1/audit', text: auditApi.body },
      { what: 'audit file', text: auditFile },
      { what: 'tokens file', text: tokensFile },
      { what: 'status branch file', text: branch.text },
      { what: 'status branch tree', text: branchTree },
      { what: 'status branch commits', text: commitLog },
      { what: 'pass errors and statuses', text: errors },
      { what: 'process.title', text: process.title },
      { what: 'process list (ps)', text: ps },
      ...bodies.map((b) => ({ what: `answer of ${b.what}`, text: b.text })),
      ...dumps,
    ];
    expect(lines.length).toBeGreaterThan(20);
    expect(lines.some((l) => /webhook rejected/.test(l))).toBe(true);
    const found = sinks.flatMap((s) => leaks(s.text).map((secret) => `${s.what}: ${secret}`));
    expect(found).toEqual([]);
  }, 240_000);

  it('logs a GitHub error that echoed the token with the token redacted', async () => {
    await waitFor(() => (lines.some((l) => l.includes('Bad credentials: token ***')) ? true : undefined), { what: 'a logged GitHub error' });
    expect(ghRequests).toBeGreaterThan(0);
    expect(leaks(lines.join('\n'))).toEqual([]);
  });
});
