/**
 * `berth secret encrypt`: the file encrypted for the recipients of the nearest .sops.yaml creation rule (or
 * --recipient), readable by the age CLI and by berth's own decryption, the plaintext never printed.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decryptAge } from '../operator/secrets/age.ts';
import { readAgeKeyFile } from '../operator/secrets/keys.ts';
import { berth } from './helpers/cli.ts';

const run = promisify(execFile);
const PLAIN = 'enc-test-5b1d9e-DISTINCT\n';
let dir: string;
const keys: { file: string; recipient: string }[] = [];

beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'berth-secret-encrypt-'));
  for (const name of ['team', 'other']) {
    const file = path.join(dir, `${name}.key`);
    await run('age-keygen', ['-o', file]);
    keys.push({ file, recipient: (await run('age-keygen', ['-y', file])).stdout.trim() });
  }
  await fs.mkdir(path.join(dir, 'repo', 'secrets'), { recursive: true });
  await fs.writeFile(path.join(dir, 'repo', '.sops.yaml'), `creation_rules:\n  - path_regex: ^secrets/.*\\.txt$\n    age: ${keys[0]!.recipient}\n  - age: ${keys[1]!.recipient}\n`);
  await fs.writeFile(path.join(dir, 'repo', 'secrets', 'db.txt'), PLAIN);
});

afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

describe('berth secret encrypt', () => {
  it('encrypts for the first matching .sops.yaml rule, readable by age and by berth, and prints no plaintext', async () => {
    const file = path.join(dir, 'repo', 'secrets', 'db.txt');
    const r = await berth(['secret', 'encrypt', file]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`${file}.age written for 1 recipient(s) (from ${path.join(dir, 'repo', '.sops.yaml')})`);
    expect(r.stdout + r.stderr).not.toContain(PLAIN.trim());
    const armored = await fs.readFile(`${file}.age`, 'utf8');
    expect(armored).toMatch(/^-----BEGIN AGE ENCRYPTED FILE-----/);
    expect((await run('age', ['-d', '-i', keys[0]!.file, `${file}.age`])).stdout).toBe(PLAIN);
    expect((await decryptAge(armored, await readAgeKeyFile(keys[0]!.file))).toString()).toBe(PLAIN);
    await expect(run('age', ['-d', '-i', keys[1]!.file, `${file}.age`])).rejects.toThrow(); // not for the second rule's key
  });

  it('takes --recipient over the config, and refuses what is not an age recipient', async () => {
    const file = path.join(dir, 'repo', 'secrets', 'db.txt');
    const out = path.join(dir, 'other.age');
    expect((await berth(['secret', 'encrypt', file, '--recipient', keys[1]!.recipient, '--output', out])).code).toBe(0);
    expect((await run('age', ['-d', '-i', keys[1]!.file, out])).stdout).toBe(PLAIN);
    const bad = await berth(['secret', 'encrypt', file, '--recipient', 'ssh-ed25519 AAAA']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/is not an age X25519 recipient/);
  });
});
