import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { MAX_AGE_INPUT_BYTES, decryptAge, isAgeEncrypted } from './age.ts';
import { secretErrorCatcher } from '../../test/doubles/secret-errors.ts';
import { readAgeKeyFile } from './keys.ts';

const FIX = fileURLToPath(new URL('../../test/fixtures/secrets/age/', import.meta.url));
const PLAIN = 'sekrit-7f3a9c-DISTINCT\n';
const KEY_FILE = join(FIX, 'key.txt');
const OTHER_FILE = join(FIX, 'other-key.txt');
const fx = (name: string): Buffer => readFileSync(join(FIX, name));

const messages: string[] = [];
const caught = secretErrorCatcher(messages);

describe('decryptAge', () => {
  it('decrypts binary and armored files made by the age CLI (fixtures)', async () => {
    const ids = await readAgeKeyFile(KEY_FILE);
    expect((await decryptAge(fx('secret.txt.age'), ids)).toString()).toBe(PLAIN);
    expect((await decryptAge(fx('secret.txt.age.asc'), ids)).toString()).toBe(PLAIN);
    expect((await decryptAge(fx('secret.txt.age.asc').toString('utf8'), ids)).toString()).toBe(PLAIN);
    expect((await decryptAge(fx('two-recipients.age'), await readAgeKeyFile(OTHER_FILE))).toString()).toBe(PLAIN);
    expect(isAgeEncrypted(fx('secret.txt.age'))).toBe(true);
    expect(isAgeEncrypted(fx('secret.txt.age.asc'))).toBe(true);
    expect(isAgeEncrypted('hello')).toBe(false);
  });

  // scripts/provision.sh installs the age CLI (npm test runs it first): without it this fails, it is not skipped
  it('round-trips fresh files from the age CLI (age-keygen, age -a, binary)', async () => {
    const keys = execFileSync('age-keygen', [], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    const id = keys.split('\n').find((l) => l.startsWith('AGE-SECRET-KEY-1'))!;
    const pub = execFileSync('age-keygen', ['-y'], { input: id, encoding: 'utf8' }).trim();
    const payload = Buffer.concat([Buffer.from(PLAIN), Buffer.alloc(200_000, 7)]); // several 64 KiB chunks
    const bin = execFileSync('age', ['-r', pub], { input: payload });
    const arm = execFileSync('age', ['-a', '-r', pub], { input: payload });
    expect((await decryptAge(bin, [id])).equals(payload)).toBe(true);
    expect((await decryptAge(arm, [id])).equals(payload)).toBe(true);
  });

  it('decrypts the SOPS test vector of getsops/sops (age/keysource_test.go, MPL-2.0)', async () => {
    const mockIdentity = 'AGE-SECRET-KEY-1G0Q5K9TV4REQ3ZSQRMTMG8NSWQGYT0T7TZ33RAZEE0GZYVZN0APSU24RK7';
    const mockEncryptedKey = `-----BEGIN AGE ENCRYPTED FILE-----
YWdlLWVuY3J5cHRpb24ub3JnL3YxCi0+IFgyNTUxOSBvY2t2NkdLUGRvY3l2OGNy
MVJWcUhCOEZrUG8yeCtnRnhxL0I5NFk4YjJFCmE4SVQ3MEdyZkFqRWpSa2F0NVhF
VDUybzBxdS9nSGpHSVRVMUI0UEVqZkkKLS0tIGJjeGhNQ0Y5L2VZRVVYSm90djFF
bzdnQ3UwTGljMmtrbWNMV1MxYkFzUFUK4xjOZOTGdcbzuwUY/zeBXhcF+Md3e5PQ
EylloI7MNGbadPGb
-----END AGE ENCRYPTED FILE-----`;
    expect((await decryptAge(mockEncryptedKey, [mockIdentity])).toString()).toBe('data');
  });

  it('a file for another key: no-key, naming the key source', async () => {
    const other = await readAgeKeyFile(OTHER_FILE);
    const e = await caught(decryptAge(fx('secret.txt.age'), other, { keySource: OTHER_FILE }));
    expect(e.reason).toBe('no-key');
    expect(e.message).toBe(`age input is not encrypted for any key in ${OTHER_FILE} (no identity matches)`);
    expect((await caught(decryptAge(fx('secret.txt.age'), []))).reason).toBe('no-key');
  });

  it('a plain input is not-encrypted', async () => {
    const e = await caught(decryptAge(Buffer.from(PLAIN), await readAgeKeyFile(KEY_FILE), { what: 'secrets/db.txt' }));
    expect(e.reason).toBe('not-encrypted');
    expect(e.message).toContain('secrets/db.txt');
  });

  it('malformed and tampered files are refused', async () => {
    const ids = await readAgeKeyFile(KEY_FILE);
    const arm = fx('secret.txt.age.asc').toString();
    // armor broken
    expect((await caught(decryptAge(arm.replace('-----END AGE ENCRYPTED FILE-----', ''), ids))).reason).toBe('malformed');
    // one payload byte flipped (binary): payload authentication fails
    const bin = Buffer.from(fx('secret.txt.age'));
    bin[bin.length - 5] = bin[bin.length - 5]! ^ 1;
    expect((await caught(decryptAge(bin, ids))).reason).toBe('mac-mismatch');
    // header MAC flipped
    const bin2 = Buffer.from(fx('secret.txt.age'));
    const macAt = bin2.indexOf('\n--- ') + 6;
    bin2[macAt] = bin2[macAt] === 0x41 ? 0x42 : 0x41;
    expect(['mac-mismatch', 'malformed']).toContain((await caught(decryptAge(bin2, ids))).reason);
    // truncated
    expect((await caught(decryptAge(fx('secret.txt.age').subarray(0, 150), ids))).reason).not.toBe('no-key');
    // a bad version line
    expect((await caught(decryptAge(Buffer.from('age-encryption.org/v9\n-> X\n'), ids))).reason).toBe('malformed');
  });

  it('bounds the input', async () => {
    const ids = await readAgeKeyFile(KEY_FILE);
    const big = Buffer.concat([fx('secret.txt.age'), Buffer.alloc(MAX_AGE_INPUT_BYTES)]);
    expect((await caught(decryptAge(big, ids))).reason).toBe('too-large');
    expect((await caught(decryptAge(fx('secret.txt.age'), ids, { maxBytes: 100 }))).reason).toBe('too-large');
  });

  it('no error message holds the plaintext or a key', async () => {
    const keyText = readFileSync(KEY_FILE, 'utf8') + readFileSync(OTHER_FILE, 'utf8');
    const secrets = keyText.split('\n').filter((l) => l.startsWith('AGE-SECRET-KEY-1')).map((l) => l.slice(16, 48));
    expect(messages.length).toBeGreaterThan(8);
    for (const m of messages) {
      expect(m).not.toContain('sekrit-7f3a9c-DISTINCT');
      for (const s of secrets) expect(m).not.toContain(s);
    }
  });
});
