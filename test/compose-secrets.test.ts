/**
 * Compose secrets and bind mounts on the real engine: a compose stack whose top-level secret is an age file of the
 * repository (encrypted here with the age CLI for the test key of test/fixtures/secrets) and whose service bind-mounts a
 * temporary host directory. The operator (--age-key-file, --allow-host-path <the directory's parent>) delivers the
 * decrypted value as the file /run/secrets/<name>, as docker compose does, and the replica reads a file of the host
 * directory; without --allow-host-path, `berth validate` reports the compose line of the bind mount.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { berth } from './helpers/cli.ts';
import { cleanupInstance, testDocker, uniqueInstance, execIn } from './helpers/docker.ts';
import { makeRemote, type Remote } from './helpers/git.ts';
import { runningOf, startTestOperator, type TestOperator } from './helpers/operator.ts';

const run = promisify(execFile);
const docker = testDocker();
const instance = uniqueInstance('composesecrets');
const KEY = fileURLToPath(new URL('fixtures/secrets/age/key.txt', import.meta.url));
const PLAIN = 'compose-secret-4c91e2-DISTINCT';
const HOST_TEXT = 'from-the-host-9d27aa';
let remote: Remote | undefined;
let op: TestOperator | undefined;
let work: string; // the age plaintext's scratch dir, and the parent of the bind-mounted host directory
let hostDir: string;
let armored: string;

const compose = (dir: string): string => `services:
  app:
    image: berth-local/busybox:1
    command: [sleep, "3600"]
    secrets:
      - db_password
    volumes:
      - ${dir}:/host:ro
secrets:
  db_password:
    file: ./db_password.age
`;

const exec = (id: string, cmd: string[]): Promise<string> => execIn(docker, id, cmd);

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'berth-compose-secrets-'));
  hostDir = join(work, 'host-data');
  await mkdir(hostDir);
  await writeFile(join(hostDir, 'hello.txt'), `${HOST_TEXT}\n`);
  const plain = join(work, 'plain.txt');
  await writeFile(plain, `${PLAIN}\n`);
  const recipient = (await run('age-keygen', ['-y', KEY])).stdout.trim();
  armored = (await run('age', ['-a', '-r', recipient, plain])).stdout;
  await rm(plain);
  remote = await makeRemote({ 'csec/compose.yaml': compose(hostDir), 'csec/db_password.age': armored });
  op = await startTestOperator(remote.url, instance, { 'age-key-file': KEY, 'allow-host-path': [work] });
}, 60_000);

afterAll(async () => {
  await op?.stop();
  await remote?.close();
  await cleanupInstance(docker, instance);
  await rm(`/dev/shm/berth/${instance}`, { recursive: true, force: true });
  if (work) await rm(work, { recursive: true, force: true });
});

describe('compose secrets and bind mounts on the engine', () => {
  it('delivers the age secret as /run/secrets/<name> and mounts the host directory', async () => {
    const pass = await op!.waitPass((p) => p.converged || p.error !== null, 'converged', 90_000);
    expect(pass.error?.message ?? null).toBeNull();
    expect(pass.converged).toBe(true);
    const [c] = await runningOf(docker, instance, 'app');
    expect(c).toBeDefined();
    expect(await exec(c!.Id, ['cat', '/run/secrets/db_password'])).toBe(`${PLAIN}\n`);
    expect(await exec(c!.Id, ['cat', '/host/hello.txt'])).toBe(`${HOST_TEXT}\n`);
    // read-only, as :ro asked
    expect(await exec(c!.Id, ['sh', '-c', 'touch /host/x 2>&1 || echo refused'])).toMatch(/refused/);
    const desired = pass.desired!;
    expect(desired.services.map((s) => s.key)).toEqual(['csec/app']);
    expect(desired.secrets?.map((s) => `${s.key} ${s.format}`)).toEqual(['csec/db-password age']);
    expect(JSON.stringify(pass.desired)).not.toContain(PLAIN);
    expect(op!.recentLog().join('\n')).not.toContain(PLAIN);
  }, 120_000);

  it('berth validate without --allow-host-path reports the compose line of the bind mount; with it, the stack is valid', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'berth-compose-secrets-validate-'));
    try {
      await mkdir(join(dir, 'csec'));
      await writeFile(join(dir, 'csec', 'compose.yaml'), compose(hostDir));
      await writeFile(join(dir, 'csec', 'db_password.age'), armored);
      const refused = await berth(['validate', dir]);
      expect(refused.code).toBe(1);
      expect(refused.stderr.trim().split('\n')).toEqual([
        `csec/compose.yaml:8:9: spec.driverOpts: mounts the host path ${JSON.stringify(hostDir)} (o: bind): host paths are refused unless they lie under a prefix given to the operator with --allow-host-path (none is set)`,
      ]);
      const ok = await berth(['validate', dir, '--allow-host-path', work]);
      expect(ok.code, ok.stderr).toBe(0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
