/**
 * Decrypting age files (armored `-----BEGIN AGE ENCRYPTED FILE-----` or binary `age-encryption.org/v1`), as the `age`
 * CLI writes them, with X25519 (or post-quantum hybrid) identities, through `age-encryption` (typage).
 *
 * Errors never hold plaintext or keys. X25519 stanzas do not reveal their recipients, so a file for someone else is
 * reported as "no identity matches", naming the key source the caller gives.
 */

import { Decrypter, armor } from 'age-encryption';
import { SecretError } from './errors.ts';

/** Inputs larger than this are refused before any parsing. */
export const MAX_AGE_INPUT_BYTES = 1024 * 1024;

const ARMOR_BEGIN = '-----BEGIN AGE ENCRYPTED FILE-----';
const BINARY_MAGIC = 'age-encryption.org/';

export interface DecryptAgeOptions {
  /** Names the key source in messages (e.g. the keys file path); defaults to "the loaded keys". */
  keySource?: string;
  /** Overrides MAX_AGE_INPUT_BYTES. */
  maxBytes?: number;
  /** Names the input in messages (e.g. a repository path); defaults to "age input". */
  what?: string;
}

/** Whether the input looks like an age file (armored or binary); does not decrypt. */
export function isAgeEncrypted(data: Buffer | string): boolean {
  return detect(data) !== null;
}

function detect(data: Buffer | string): 'armor' | 'binary' | null {
  const head = (typeof data === 'string' ? data.slice(0, 128) : data.subarray(0, 128).toString('latin1')).trimStart();
  if (head.startsWith(ARMOR_BEGIN)) return 'armor';
  if (head.startsWith(BINARY_MAGIC) && (typeof data === 'string' ? data : data.toString('latin1', 0, 64)).startsWith(BINARY_MAGIC)) {
    return 'binary';
  }
  return null;
}

/** Decrypts an age file for one of `identities`. Returns the plaintext. */
export async function decryptAge(data: Buffer | string, identities: string[], opts: DecryptAgeOptions = {}): Promise<Buffer> {
  const what = opts.what ?? 'age input';
  const max = opts.maxBytes ?? MAX_AGE_INPUT_BYTES;
  const size = typeof data === 'string' ? Buffer.byteLength(data) : data.length;
  if (size > max) throw new SecretError('too-large', `${what} is larger than ${max} bytes`);
  const kind = detect(data);
  if (kind === null) throw new SecretError('not-encrypted', `${what} is not an age encrypted file`);
  if (identities.length === 0) throw new SecretError('no-key', `no age identity loaded to decrypt ${what}`);

  let file: Uint8Array;
  if (kind === 'armor') {
    try {
      file = armor.decode(typeof data === 'string' ? data : data.toString('utf8'));
    } catch {
      throw new SecretError('malformed', `${what} is not a valid armored age file`);
    }
  } else {
    file = typeof data === 'string' ? Buffer.from(data, 'latin1') : data;
  }

  const d = new Decrypter();
  for (const id of identities) {
    try {
      d.addIdentity(id);
    } catch {
      throw new SecretError('malformed', `an identity from ${opts.keySource ?? 'the loaded keys'} is not a valid age identity`);
    }
  }
  let out: Uint8Array;
  try {
    out = await d.decrypt(file);
  } catch (e) {
    const msg = e instanceof Error ? e.message : '';
    if (/no identity matched/i.test(msg)) {
      throw new SecretError('no-key', `${what} is not encrypted for any key in ${opts.keySource ?? 'the loaded keys'} (no identity matches)`);
    }
    if (/header HMAC/i.test(msg)) throw new SecretError('mac-mismatch', `${what} failed authentication (header MAC)`);
    if (/version|header|stanza/i.test(msg)) throw new SecretError('malformed', `${what} has an invalid age header`);
    throw new SecretError('mac-mismatch', `${what} failed authentication (payload corrupted or truncated)`);
  }
  return Buffer.from(out.buffer, out.byteOffset, out.byteLength);
}
