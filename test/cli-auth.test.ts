/**
 * The CLI's side of the API's authentication, as a user runs it (child processes) against a real operator: token
 * create / list / revoke, status through the local cli-token and through BERTH_TOKEN, a wrong token, the audit trail,
 * and status over HTTPS with --ca.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { berth } from './helpers/cli.ts';
import { cleanupInstance, testDocker, uniqueInstance, waitFor } from './helpers/docker.ts';
import { makeRemote, type Remote } from './helpers/git.ts';
import { idleService, startTestOperator, type TestOperator } from './helpers/operator.ts';
import { makeCerts, request, type TestCerts } from './helpers/tls.ts';

const docker = testDocker();
const instance = uniqueInstance('cliauth');
const tlsInstance = uniqueInstance('clitls');
const manifest = idleService('web', 'shop');

let remote: Remote;
let op: TestOperator;
let tmp: string;
let emptyDir: string;
let certs: TestCerts;
let viewer = '';

/** The first pass of `o` finished (before it, /v1/status answers 503). */
async function firstPass(o: TestOperator): Promise<void> {
  if (!o.passes.some((p) => p.converged)) await o.waitPass((p) => p.converged, 'first converged pass');
}

beforeAll(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'berth-cli-auth-'));
  emptyDir = path.join(tmp, 'empty-state');
  await fs.mkdir(emptyDir);
  await fs.mkdir(path.join(tmp, 'certs'));
  [remote, certs] = await Promise.all([makeRemote({ 'web.yaml': manifest }), makeCerts(path.join(tmp, 'certs'))]);
  op = await startTestOperator(remote.url, instance);
  await firstPass(op);
}, 120_000);

afterAll(async () => {
  await op?.stop();
  await remote?.close();
  await cleanupInstance(docker, instance);
  await cleanupInstance(docker, tlsInstance);
  if (tmp) await fs.rm(tmp, { recursive: true, force: true });
});

describe('berth token and the API', () => {
  it('token create prints the token once, and only it, on stdout', async () => {
    const r = await berth(['token', 'create', '--role', 'viewer', '--name', 'ci', '--state-dir', op.stateDir]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^berth_[0-9a-f]{12}_[A-Za-z0-9_-]{43}\n$/);
    viewer = r.stdout.trim();
    expect(r.stderr).toContain('token "ci" (viewer) created; it is shown only now');
    expect(r.stderr).not.toContain(viewer.slice(19));
    const again = await berth(['token', 'create', '--role', 'viewer', '--name', 'ci', '--state-dir', op.stateDir]);
    expect(again.code).toBe(1);
    expect(again.stdout).toBe('');
    expect(again.stderr).toMatch(/^berth: a token named "ci" exists/);
  });

  it('token list shows it without the secret', async () => {
    const r = await berth(['token', 'list', '--state-dir', op.stateDir]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^ci\s+viewer\s+\*\s+created \d{4}-/m);
    expect(r.stdout).toMatch(/^local-cli\s+admin\s/m);
    expect(r.stdout).not.toContain(viewer.slice(19));
    const json = await berth(['token', 'list', '--json', '--state-dir', op.stateDir]);
    const list = JSON.parse(json.stdout) as Record<string, unknown>[];
    expect(list.find((t) => t.name === 'ci')).toMatchObject({ id: viewer.split('_')[1], role: 'viewer', namespaces: ['*'], expires: null });
    for (const t of list) expect(Object.keys(t)).not.toContain('hash');
  });

  it('status works through the local cli-token of --state-dir', async () => {
    const r = await berth(['status', '--server', op.url, '--state-dir', op.stateDir]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/Ready\s+True/);
  });

  it('status works with BERTH_TOKEN and a state dir without a cli-token', async () => {
    // the operator re-reads the tokens file within a second
    await waitFor(async () => (await request(`${op.url}/v1/status`, { token: viewer })).status === 200, { what: 'the new token in force' });
    const r = await berth(['status', '--server', op.url, '--state-dir', emptyDir], { BERTH_TOKEN: viewer });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/Ready\s+True/);
    const none = await berth(['status', '--server', op.url, '--state-dir', emptyDir]);
    expect(none.code).toBe(3);
    expect(none.stderr).toMatch(/needs a token: set BERTH_TOKEN/);
  });

  it('a wrong token exits 3 with one line that does not show the token', async () => {
    const wrong = `berth_${viewer.split('_')[1]}_${'x'.repeat(43)}`;
    const r = await berth(['status', '--server', op.url, '--state-dir', emptyDir], { BERTH_TOKEN: wrong });
    expect(r.code).toBe(3);
    expect(r.stdout).toBe('');
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^berth: berth at http:\/\/127\.0\.0\.1:\d+ refused the token \(unknown, expired or revoked\)/);
    expect(r.stderr).not.toContain(wrong);
    expect(r.stderr).not.toContain('x'.repeat(43));
    const flag = await berth(['status', '--server', op.url, '--state-dir', emptyDir, '--token', 'not-a-token-at-all']);
    expect(flag.code).toBe(3);
    expect(flag.stderr).not.toContain('not-a-token-at-all');
  });

  it('audit lists the token creation the CLI recorded', async () => {
    const r = await berth(['audit', '--server', op.url, '--state-dir', op.stateDir, '--since', '1h']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^\S+\s+cli:\S+\s+local\s+ok\s+token create ci: role viewer$/m);
    const json = await berth(['audit', '--server', op.url, '--state-dir', op.stateDir, '--since', '1h', '--json']);
    const entries = json.stdout.trim().split('\n').map((l) => JSON.parse(l) as { actor: string; action: string });
    expect(entries).toContainEqual(expect.objectContaining({ actor: `cli:${os.userInfo().username}`, action: 'token create ci', source: 'local', result: 'ok' }));
    // a viewer may not read it
    const refused = await berth(['audit', '--server', op.url, '--state-dir', emptyDir, '--since', '1h'], { BERTH_TOKEN: viewer });
    expect(refused.code).toBe(3);
    expect(refused.stderr).toMatch(/refused: role viewer may not read audit/);
  });

  it('token revoke takes the token out of force within seconds', async () => {
    const r = await berth(['token', 'revoke', 'ci', '--state-dir', op.stateDir]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('token "ci" revoked');
    await waitFor(async () => (await request(`${op.url}/v1/status`, { token: viewer })).status === 401, { what: 'the revoked token refused', timeoutMs: 10_000 });
    const status = await berth(['status', '--server', op.url, '--state-dir', emptyDir], { BERTH_TOKEN: viewer });
    expect(status.code).toBe(3);
    const list = await berth(['token', 'list', '--state-dir', op.stateDir]);
    expect(list.stdout).not.toMatch(/^ci\s/m);
    const audit = await berth(['audit', '--server', op.url, '--state-dir', op.stateDir, '--since', '1h']);
    expect(audit.stdout).toMatch(/token revoke ci$/m);
    const missing = await berth(['token', 'revoke', 'ci', '--state-dir', op.stateDir]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/no token named "ci"/);
  });
});

describe('berth status over HTTPS', () => {
  let tlsOp: TestOperator;
  beforeAll(async () => {
    tlsOp = await startTestOperator(remote.url, tlsInstance, { 'tls-cert': certs.serverCert, 'tls-key': certs.serverKey });
    await firstPass(tlsOp);
  });
  afterAll(async () => {
    await tlsOp?.stop();
  });

  it('works with --ca, and fails in one line without it', async () => {
    expect(tlsOp.url).toMatch(/^https:/);
    const r = await berth(['status', '--server', tlsOp.url, '--ca', certs.ca, '--state-dir', tlsOp.stateDir]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/Ready\s+True/);
    const untrusted = await berth(['status', '--server', tlsOp.url, '--state-dir', tlsOp.stateDir]);
    expect(untrusted.code).toBe(3);
    expect(untrusted.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(untrusted.stderr).toMatch(/cannot reach berth at https:/);
  });
});
