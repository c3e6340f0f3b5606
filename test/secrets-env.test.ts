/**
 * spec.secrets[].env on the real engine: an age file's value and one item of a SOPS document, decrypted by the
 * operator, arrive as environment variables of the replica (when asked: a file is the default); the plaintext
 * reaches neither the operator's log, the status, nor the status branch, and no file of it is written on the node.
 */
import { readFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanupInstance, execIn, testDocker, uniqueInstance } from './helpers/docker.ts';
import { makeRemote, type Remote } from './helpers/git.ts';
import { runningOf, startTestOperator, statusFromBranch, type TestOperator } from './helpers/operator.ts';

const docker = testDocker();
const instance = uniqueInstance('secretenv');
const FIX = new URL('fixtures/secrets/', import.meta.url);
const fixture = (p: string): Promise<string> => readFile(new URL(p, FIX), 'utf8');
const AGE_PLAIN = 'sekrit-7f3a9c-DISTINCT';
const SOPS_PLAIN = 'this is a secret';
let remote: Remote;
let op: TestOperator;
let keyDir: string;

const manifests = `apiVersion: berth/v1
kind: Secret
metadata: { name: token, namespace: se }
spec: { file: ../secrets/token.age.asc }
---
apiVersion: berth/v1
kind: Secret
metadata: { name: db, namespace: se }
spec: { file: ../secrets/db.enc.yaml, format: sops }
---
apiVersion: berth/v1
kind: Service
metadata: { name: app, namespace: se }
spec:
  image: berth-local/busybox:1
  command: [sleep, "3600"]
  env: { PLAIN: visible }
  secrets:
    - { secret: token, env: API_TOKEN }
    - { secret: db, key: complex.value, env: DB_VALUE }
`;

beforeAll(async () => {
  keyDir = await mkdtemp(join(tmpdir(), 'berth-age-'));
  await writeFile(join(keyDir, 'keys.txt'), `${await fixture('age/key.txt')}\n${await fixture('sops-age-humphd/key.txt')}`, { mode: 0o600 });
  remote = await makeRemote({
    'deploy/app.yaml': manifests,
    'secrets/token.age.asc': await fixture('age/secret.txt.age.asc'),
    'secrets/db.enc.yaml': await fixture('sops-age-humphd/secret.enc.yaml'),
  });
  op = await startTestOperator(remote.url, instance, { path: 'deploy', 'age-key-file': join(keyDir, 'keys.txt') });
}, 60_000);

afterAll(async () => {
  await op?.stop();
  await remote?.close();
  await cleanupInstance(docker, instance);
  await rm(`/dev/shm/berth/${instance}`, { recursive: true, force: true });
  if (keyDir) await rm(keyDir, { recursive: true, force: true });
});

describe('Secrets as environment variables', () => {
  it('delivers the values as variables; no log line, status or status branch holds them', async () => {
    const timer = setInterval(() => op.trigger('test'), 300);
    let pass;
    try {
      pass = await op.waitPass((p) => p.status.services['se/app']?.ready === 1, 'app ready', 60_000);
    } finally {
      clearInterval(timer);
    }
    const [c] = await runningOf(docker, instance, 'app');
    expect(await execIn(docker, c!.Id, ['sh', '-c', 'echo "$'+'API_TOKEN'+'"'])).toBe(`${AGE_PLAIN}\n`); // the file's trailing newline dropped, echo's own
    expect(await execIn(docker, c!.Id, ['sh', '-c', 'echo "$'+'DB_VALUE'+'"'])).toBe(`${SOPS_PLAIN}\n`);
    expect(await execIn(docker, c!.Id, ['sh', '-c', 'echo "$'+'PLAIN'+'"'])).toBe('visible\n');
    // No secret file for env-only Secrets: nothing under /run/secrets, and no directory of it on the node.
    expect(await execIn(docker, c!.Id, ['sh', '-c', 'ls /run/secrets 2>&1 || true'])).toMatch(/No such file|^$/);
    expect(existsSync(`/dev/shm/berth/${instance}/${c!.Names[0]!.slice(1)}/0`)).toBe(false);
    for (const text of [op.recentLog().join('\n'), JSON.stringify(pass.status), JSON.stringify(pass.desired), (await statusFromBranch(remote.bareDir, instance))?.text ?? '']) {
      expect(text).not.toContain(AGE_PLAIN);
      expect(text).not.toContain(SOPS_PLAIN);
    }
  }, 90_000);
});
