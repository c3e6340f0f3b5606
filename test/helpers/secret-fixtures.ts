/**
 * The secret fixtures of test/fixtures/secrets on the real engine: an operator whose --age-key-file holds both test
 * keys (the age fixture's and the SOPS fixture's), on a repository with the manifests under deploy/ and the two
 * encrypted files under secrets/ (`../secrets/token.age.asc`, `../secrets/db.enc.yaml` from the manifests).
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Docker from 'dockerode';
import { cleanupInstance } from './docker.ts';
import { makeRemote, type Remote } from './git.ts';
import { startTestOperator, type TestOperator } from './operator.ts';

const FIX = new URL('../fixtures/secrets/', import.meta.url);
/** A file of test/fixtures/secrets. */
export const secretFixture = (p: string): Promise<string> => readFile(new URL(p, FIX), 'utf8');
/** The plaintext of age/secret.txt.age.asc, and of the item of sops-age-humphd/secret.enc.yaml the tests read. */
export const AGE_PLAIN = 'sekrit-7f3a9c-DISTINCT';
export const SOPS_PLAIN = 'this is a secret';

export interface SecretOperator {
  remote: Remote;
  op: TestOperator;
  /** The directory of the keys file (a test may write further files there; it is removed by stop). */
  keyDir: string;
  stop(): Promise<void>;
}

export async function startSecretOperator(docker: Docker, instance: string, manifests: string): Promise<SecretOperator> {
  const keyDir = await mkdtemp(join(tmpdir(), 'berth-age-'));
  await writeFile(join(keyDir, 'keys.txt'), `${await secretFixture('age/key.txt')}\n${await secretFixture('sops-age-humphd/key.txt')}`, { mode: 0o600 });
  const remote = await makeRemote({
    'deploy/app.yaml': manifests,
    'secrets/token.age.asc': await secretFixture('age/secret.txt.age.asc'),
    'secrets/db.enc.yaml': await secretFixture('sops-age-humphd/secret.enc.yaml'),
  });
  const op = await startTestOperator(remote.url, instance, { path: 'deploy', 'age-key-file': join(keyDir, 'keys.txt') });
  return {
    remote, op, keyDir,
    async stop() {
      await op.stop();
      await remote.close();
      await cleanupInstance(docker, instance);
      await rm(`/dev/shm/berth/${instance}`, { recursive: true, force: true });
      await rm(keyDir, { recursive: true, force: true });
    },
  };
}
