import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SecretError } from './errors.ts';
import { MAX_KEY_FILE_BYTES, defaultAgeKeyFile, loadAgeIdentities, parseAgeIdentities, readAgeKeyFile } from './keys.ts';

const FIX = fileURLToPath(new URL('../../test/fixtures/secrets/', import.meta.url));
const KEY_FILE = join(FIX, 'age/key.txt');
const OTHER_FILE = join(FIX, 'age/other-key.txt');
const PUB = 'age146uzw9wstmljcnrql6nak4mulr60kfmf6ec52u5quluc2ymuha0smqdkm0';
const OTHER_PUB = 'age1kggt8v6f9759khmdsqm4crl0czqycfxqejs96axd94hyn6rrveys7sxxsn';

let dir: string;
let key: string;
let other: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'berth-keys-'));
  key = (await readFile(KEY_FILE, 'utf8')).split('\n').find((l) => l.startsWith('AGE-SECRET-KEY-1'))!;
  other = (await readFile(OTHER_FILE, 'utf8')).split('\n').find((l) => l.startsWith('AGE-SECRET-KEY-1'))!;
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function caught(p: Promise<unknown>): Promise<SecretError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(SecretError);
    return e as SecretError;
  }
  throw new Error('expected a SecretError');
}

describe('age keys file', () => {
  it('reads an age-keygen file (comments, blank lines, CRLF)', async () => {
    expect(await readAgeKeyFile(KEY_FILE)).toEqual([key]);
    const f = join(dir, 'crlf.txt');
    await writeFile(f, `# created: x\r\n# public key: ${PUB}\r\n\r\n${key}\r\n  ${other}  \r\n${key}\r\n`);
    expect(await readAgeKeyFile(f)).toEqual([key, other]);
  });

  it('refuses a bad line naming the file and line, never the key', async () => {
    const f = join(dir, 'bad.txt');
    const broken = key.slice(0, -3) + 'QQQ';
    await writeFile(f, `# ok\n${key}\n${broken}\n`);
    const e = await caught(readAgeKeyFile(f));
    expect(e.reason).toBe('malformed');
    expect(e.message).toContain(f);
    expect(e.message).toContain('line 3');
    expect(e.message).not.toContain(broken.slice(16, 40));
    expect(e.message).not.toContain(key.slice(16, 40));

    await writeFile(f, `ssh-ed25519 AAAA\n`);
    expect((await caught(readAgeKeyFile(f))).reason).toBe('malformed');
    await writeFile(f, `AGE-PLUGIN-YUBIKEY-1XYZ\n`);
    expect((await caught(readAgeKeyFile(f))).reason).toBe('unsupported');
  });

  it('caps the file at 64 KiB', async () => {
    const f = join(dir, 'big.txt');
    await writeFile(f, `${key}\n` + '#'.repeat(MAX_KEY_FILE_BYTES));
    const e = await caught(readAgeKeyFile(f));
    expect(e.reason).toBe('too-large');
    expect(e.message).toContain(f);
  });

  it('a missing file is no-key, naming it', async () => {
    const f = join(dir, 'nope.txt');
    const e = await caught(readAgeKeyFile(f));
    expect(e.reason).toBe('no-key');
    expect(e.message).toContain(f);
  });

  it('parses SOPS_AGE_KEY with several keys per line', async () => {
    expect(await parseAgeIdentities(`${key} ${other}\n`, 'SOPS_AGE_KEY', { multiplePerLine: true })).toEqual([key, other]);
  });

  it('accepts post-quantum hybrid identities', async () => {
    const pq = (await readFile(join(FIX, 'flux/keys-age-pq.txt'), 'utf8')).split('\n').find((l) => l.startsWith('AGE-SECRET-KEY-PQ-1'))!;
    expect(await parseAgeIdentities(pq, 'x')).toEqual([pq]);
  });
});

describe('loadAgeIdentities', () => {
  it('--age-key-file wins and gives the recipients', async () => {
    const r = await loadAgeIdentities({ keyFile: KEY_FILE, env: { SOPS_AGE_KEY: other } });
    expect(r.identities).toEqual([key]);
    expect(r.sources).toEqual([KEY_FILE]);
    expect(r.recipients).toEqual([PUB]);
  });

  it('without a key file: SOPS_AGE_KEY, SOPS_AGE_KEY_FILE and the default file, all passed in explicitly', async () => {
    const home = join(dir, 'home');
    await mkdir(join(home, '.config/sops/age'), { recursive: true });
    await writeFile(join(home, '.config/sops/age/keys.txt'), `${key}\n`);
    expect(defaultAgeKeyFile({}, home)).toBe(join(home, '.config/sops/age/keys.txt'));
    expect(defaultAgeKeyFile({ XDG_CONFIG_HOME: '/x' }, home)).toBe('/x/sops/age/keys.txt');

    const r = await loadAgeIdentities({ homeDir: home, env: { SOPS_AGE_KEY: other } });
    expect(r.recipients).toEqual([OTHER_PUB, PUB]);
    expect(r.sources).toEqual(['SOPS_AGE_KEY', join(home, '.config/sops/age/keys.txt')]);

    const r2 = await loadAgeIdentities({ homeDir: join(dir, 'nohome'), env: { SOPS_AGE_KEY_FILE: OTHER_FILE } });
    expect(r2.recipients).toEqual([OTHER_PUB]);
  });

  it('never reads process.env itself', async () => {
    const saved = process.env['SOPS_AGE_KEY'];
    process.env['SOPS_AGE_KEY'] = key;
    try {
      const e = await caught(loadAgeIdentities({ homeDir: join(dir, 'nohome') }));
      expect(e.reason).toBe('no-key');
      expect(e.message).toContain(join(dir, 'nohome', '.config/sops/age/keys.txt'));
    } finally {
      if (saved === undefined) delete process.env['SOPS_AGE_KEY'];
      else process.env['SOPS_AGE_KEY'] = saved;
    }
  });

  it('an empty key file is no-key', async () => {
    const f = join(dir, 'empty.txt');
    await writeFile(f, '# nothing\n');
    expect((await caught(loadAgeIdentities({ keyFile: f }))).reason).toBe('no-key');
  });
});
