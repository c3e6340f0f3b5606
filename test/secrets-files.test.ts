/**
 * kind: Secret on the real engine: an age file and a SOPS document of the repository, decrypted by the operator (test
 * keys of test/fixtures/secrets, through --age-key-file) and delivered to the replica as files on tmpfs of the node,
 * written between create and start. The plaintext never shows in the container's config, the log, the status or the
 * status branch; rotating the file in git replaces the replica; a file for another key fails the create and the old
 * replica keeps running.
 */
import { execFile } from 'node:child_process';
import { rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDocker, uniqueInstance, waitFor, execIn } from './helpers/docker.ts';
import type { Remote } from './helpers/git.ts';
import { AGE_PLAIN, SOPS_PLAIN, secretFixture, startSecretOperator, type SecretOperator } from './helpers/secret-fixtures.ts';
import { runningOf, statusFromBranch, type TestOperator } from './helpers/operator.ts';

const run = promisify(execFile);
const docker = testDocker();
const instance = uniqueInstance('secretfiles');
const fixture = secretFixture;
const ROTATED = 'rotated-5e8d1b-DISTINCT';
let remote: Remote;
let op: TestOperator;
let keyDir: string;

const manifests = `apiVersion: berth/v1
kind: Secret
metadata: { name: token, namespace: sf }
spec: { file: ../secrets/token.age.asc }
---
apiVersion: berth/v1
kind: Secret
metadata: { name: db, namespace: sf }
spec: { file: ../secrets/db.enc.yaml, format: sops }
---
apiVersion: berth/v1
kind: Service
metadata: { name: app, namespace: sf }
spec:
  image: berth-local/busybox:1
  command: [sleep, "3600"]
  secrets:
    - { secret: token, key: value, target: /run/secrets/token }
    - { secret: db, uid: 1000, gid: 1000 }
`;

const exec = (id: string, cmd: string[]): Promise<string> => execIn(docker, id, cmd);

let fx: SecretOperator;

beforeAll(async () => {
  fx = await startSecretOperator(docker, instance, manifests);
  ({ remote, op, keyDir } = fx);
}, 60_000);

afterAll(async () => {
  await fx?.stop();
});

function expectNoPlaintext(text: string, what: string): void {
  for (const p of [AGE_PLAIN, SOPS_PLAIN, ROTATED]) expect(text, `${what} holds a plaintext`).not.toContain(p);
}

describe('kind: Secret files', () => {
  let first = '';

  it('delivers the decrypted items as files, mode 0400, owned as asked, and nowhere else', async () => {
    await op.waitPass((p) => p.converged, 'converged', 60_000);
    const [c] = await runningOf(docker, instance, 'app');
    first = c!.Id;
    expect(await exec(first, ['cat', '/run/secrets/token'])).toBe(`${AGE_PLAIN}\n`);
    expect(await exec(first, ['cat', '/run/secrets/db/complex.value'])).toBe(SOPS_PLAIN);
    expect(await exec(first, ['cat', '/run/secrets/db/int'])).toBe('7');
    expect((await exec(first, ['ls', '/run/secrets/db'])).split('\n').filter(Boolean)).toEqual(['boolean', 'complex.array.0', 'complex.array.1', 'complex.array.2', 'complex.value', 'float', 'int', 'secret', 'string']);
    expect(await exec(first, ['stat', '-c', '%a %u %g', '/run/secrets/token', '/run/secrets/db/secret'])).toBe('400 0 0\n400 1000 1000\n');
    // On tmpfs of the node, in the replica's own directory.
    const info = await docker.getContainer(first).inspect();
    const bind = info.Mounts.find((m) => m.Destination === '/run/secrets');
    expect(bind?.Source).toBe(`/dev/shm/berth/${instance}/${info.Name.slice(1)}/0`);
    expect((await run('stat', ['-f', '-c', '%T', bind!.Source])).stdout.trim()).toBe('tmpfs');
    expectNoPlaintext(JSON.stringify({ env: info.Config.Env, labels: info.Config.Labels, cmd: info.Config.Cmd, host: info.HostConfig }), 'docker inspect');
    expectNoPlaintext(op.recentLog().join('\n'), 'the operator log');
    expectNoPlaintext(JSON.stringify(op.passes.map((p) => ({ status: p.status, plan: p.plan, desired: p.desired }))), 'the status and plans');
    const branch = await waitFor(() => statusFromBranch(remote.bareDir, instance), { what: 'status commit' });
    expectNoPlaintext(branch.text, 'the status branch');
  }, 90_000);

  it('rotating the file in git replaces the replica, which reads the new value; the old directory is gone', async () => {
    const oldDir = (await docker.getContainer(first).inspect()).Mounts.find((m) => m.Destination === '/run/secrets')!.Source;
    const plain = join(keyDir, 'rotated.txt');
    await writeFile(plain, `${ROTATED}\n`);
    const recipient = (await run('age-keygen', ['-y', fileURLToPath(new URL('fixtures/secrets/age/key.txt', import.meta.url))])).stdout.trim();
    const { stdout: armored } = await run('age', ['-a', '-r', recipient, plain]);
    await rm(plain);
    await remote.commit({ 'secrets/token.age.asc': armored }, 'rotate token');
    op.trigger('test: rotated');
    await op.waitPass((p) => p.converged && p.applied !== null, 'rolled after the rotation', 60_000);
    const [c] = await runningOf(docker, instance, 'app');
    expect(c!.Id).not.toBe(first);
    expect(await exec(c!.Id, ['cat', '/run/secrets/token'])).toBe(`${ROTATED}\n`);
    await expect(stat(oldDir)).rejects.toThrow(/ENOENT/);
    expectNoPlaintext(op.recentLog().join('\n'), 'the operator log');
    first = c!.Id;
  }, 90_000);

  it('a file encrypted for another key fails the create with the reason, and the old replica keeps running', async () => {
    await remote.commit({ 'secrets/token.age.asc': await fixture('age/for-other.age.asc') }, 'token for someone else');
    op.trigger('test: other key');
    const pass = await op.waitPass((p) => p.error !== null || (p.applied?.errors.length ?? 0) > 0, 'the create failed', 60_000);
    const message = [pass.error?.message ?? '', ...(pass.applied?.errors.map((e) => `${e.code}: ${e.message}`) ?? [])].join('\n');
    expect(message).toMatch(/E_SECRET: cannot decrypt secrets\/token\.age\.asc \(Secret sf\/token\).*\(no-key\)/);
    const running = await runningOf(docker, instance, 'app');
    expect(running.map((c) => c.Id)).toEqual([first]);
    expect(await exec(first, ['cat', '/run/secrets/token'])).toBe(`${ROTATED}\n`);
    expectNoPlaintext(JSON.stringify(pass.status), 'the status');
    expect(JSON.stringify(pass.status)).toContain('secrets/token.age.asc');
    await op.reconciler.flushStatus();
    const branch = await waitFor(() => statusFromBranch(remote.bareDir, instance).then((s) => (s?.text.includes('token.age.asc') ? s : undefined)), { what: 'status commit of the failure' });
    expectNoPlaintext(branch.text, 'the status branch');
    expectNoPlaintext(op.recentLog().join('\n'), 'the operator log');
  }, 90_000);
});
