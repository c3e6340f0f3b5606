/**
 * spec.secrets[].env on the real engine: an age file's value and one item of a SOPS document, decrypted by the
 * operator, arrive as environment variables of the replica (when asked: a file is the default); the plaintext
 * reaches neither the operator's log, the status, nor the status branch, and no file of it is written on the node.
 */
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execIn, testDocker, uniqueInstance } from './helpers/docker.ts';
import type { Remote } from './helpers/git.ts';
import { AGE_PLAIN, SOPS_PLAIN, startSecretOperator, type SecretOperator } from './helpers/secret-fixtures.ts';
import { runningOf, statusFromBranch, type TestOperator } from './helpers/operator.ts';

const docker = testDocker();
const instance = uniqueInstance('secretenv');
let remote: Remote;
let op: TestOperator;

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

let fx: SecretOperator;

beforeAll(async () => {
  fx = await startSecretOperator(docker, instance, manifests);
  ({ remote, op } = fx);
}, 60_000);

afterAll(async () => {
  await fx?.stop();
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
