/**
 * age identities for decrypting secrets kept in git: read from a keys file (the `age-keygen` output format, the one SOPS
 * reads), or from the SOPS environment variables when the caller passes them in.
 *
 * Like SOPS (age/keysource.go): lines that are empty or start with `#` are skipped, every other line is one identity
 * (`AGE-SECRET-KEY-1...`, or a post-quantum `AGE-SECRET-KEY-PQ-1...`); `SOPS_AGE_KEY` may hold several identities per
 * line, separated by whitespace. The default file is `$XDG_CONFIG_HOME/sops/age/keys.txt`, else
 * `~/.config/sops/age/keys.txt`. This module never reads `process.env`: the caller hands it the variables it honours.
 *
 * Errors name the file (or `SOPS_AGE_KEY`) and a line number, never a key.
 */

import { open } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { identityToRecipient } from 'age-encryption';
import { SecretError } from './errors.ts';

/** A keys file larger than this is refused (a keys file holds a few lines of ~75 bytes). */
export const MAX_KEY_FILE_BYTES = 64 * 1024;

/** Relative to the user config directory, as SOPS has it. */
export const SOPS_AGE_KEY_USER_CONFIG_PATH = join('sops', 'age', 'keys.txt');

/** The environment variables honoured, when the caller passes them in (never read from process.env here). */
export interface AgeKeyEnv {
  SOPS_AGE_KEY?: string | undefined;
  SOPS_AGE_KEY_FILE?: string | undefined;
  XDG_CONFIG_HOME?: string | undefined;
}

export interface LoadAgeIdentitiesOptions {
  /** `--age-key-file`: when set, only this file is read (the environment and the default file are not). */
  keyFile?: string | undefined;
  /** The SOPS variables to honour; omit to honour none. */
  env?: AgeKeyEnv | undefined;
  /** Home directory for the default path; defaults to os.homedir(). */
  homeDir?: string | undefined;
}

export interface LoadedAgeIdentities {
  /** The identities, deduplicated, in the order found. */
  identities: string[];
  /** Where they came from: file paths and/or `SOPS_AGE_KEY`, for messages ("no identity in <sources> matches"). */
  sources: string[];
  /** The public keys (`age1...`) of the identities, same order: safe to log. */
  recipients: string[];
}

const X25519_PREFIX = 'AGE-SECRET-KEY-1';
const PQ_PREFIX = 'AGE-SECRET-KEY-PQ-1';
/** Bech32 data characters (upper case, as age encodes identities). */
const BECH32_UPPER = /^[02-9AC-HJ-NP-Z]+$/;

/** The default keys file: `$XDG_CONFIG_HOME/sops/age/keys.txt`, else `<home>/.config/sops/age/keys.txt`. */
export function defaultAgeKeyFile(env: AgeKeyEnv = {}, homeDir: string = homedir()): string {
  const base = env.XDG_CONFIG_HOME && env.XDG_CONFIG_HOME !== '' ? env.XDG_CONFIG_HOME : join(homeDir, '.config');
  return join(base, SOPS_AGE_KEY_USER_CONFIG_PATH);
}

/**
 * Parses identities from a keys file's text. `source` names it in errors. With `multiplePerLine` (SOPS_AGE_KEY), every
 * whitespace-separated word of a line is an identity. Validates each (bech32 checksum via age-encryption).
 */
export async function parseAgeIdentities(text: string, source: string, opts: { multiplePerLine?: boolean } = {}): Promise<string[]> {
  const out: string[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = (lines[i] ?? '').trim();
    if (line === '' || line.startsWith('#')) continue;
    const words = opts.multiplePerLine ? line.split(/\s+/) : [line];
    for (const word of words) {
      const where = `line ${i + 1} of ${source}`;
      if (word.startsWith('AGE-PLUGIN-')) {
        throw new SecretError('unsupported', `${where}: age plugin identities are not supported`);
      }
      const isPq = word.startsWith(PQ_PREFIX);
      if (!isPq && !word.startsWith(X25519_PREFIX)) {
        throw new SecretError('malformed', `${where} is not an age identity (expected AGE-SECRET-KEY-1...)`);
      }
      const data = word.slice(isPq ? PQ_PREFIX.length : X25519_PREFIX.length);
      if (!BECH32_UPPER.test(data)) {
        throw new SecretError('malformed', `${where} is not a valid age identity (bad characters)`);
      }
      try {
        await identityToRecipient(word);
      } catch {
        throw new SecretError('malformed', `${where} is not a valid age identity (bad checksum or length)`);
      }
      if (!out.includes(word)) out.push(word);
    }
  }
  return out;
}

/** Reads a keys file, at most MAX_KEY_FILE_BYTES. A missing file is `no-key`. */
export async function readAgeKeyFile(path: string): Promise<string[]> {
  let fh;
  try {
    fh = await open(path, 'r');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new SecretError('no-key', `age key file ${path} does not exist`);
    throw new SecretError('no-key', `age key file ${path} cannot be read (${code ?? 'error'})`);
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new SecretError('malformed', `age key file ${path} is not a regular file`);
    if (st.size > MAX_KEY_FILE_BYTES) {
      throw new SecretError('too-large', `age key file ${path} is larger than ${MAX_KEY_FILE_BYTES} bytes`);
    }
    const buf = Buffer.alloc(MAX_KEY_FILE_BYTES + 1);
    let n = 0;
    for (;;) {
      const { bytesRead } = await fh.read(buf, n, buf.length - n, n);
      if (bytesRead === 0) break;
      n += bytesRead;
      if (n > MAX_KEY_FILE_BYTES) {
        throw new SecretError('too-large', `age key file ${path} is larger than ${MAX_KEY_FILE_BYTES} bytes`);
      }
    }
    const text = buf.subarray(0, n).toString('utf8');
    buf.fill(0);
    return await parseAgeIdentities(text, path);
  } finally {
    await fh.close();
  }
}

/**
 * Loads identities. With `keyFile` (`--age-key-file`), that file only. Otherwise, like SOPS, the union of
 * `SOPS_AGE_KEY`, `SOPS_AGE_KEY_FILE` and the default file (a missing default file is fine when another source gave
 * keys). No identity at all is `no-key`.
 */
export async function loadAgeIdentities(opts: LoadAgeIdentitiesOptions = {}): Promise<LoadedAgeIdentities> {
  const identities: string[] = [];
  const sources: string[] = [];
  const add = (ids: string[], source: string): void => {
    if (ids.length > 0) sources.push(source);
    for (const id of ids) if (!identities.includes(id)) identities.push(id);
  };
  if (opts.keyFile !== undefined && opts.keyFile !== '') {
    add(await readAgeKeyFile(opts.keyFile), opts.keyFile);
    if (identities.length === 0) throw new SecretError('no-key', `age key file ${opts.keyFile} holds no identity`);
  } else {
    const env = opts.env ?? {};
    if (env.SOPS_AGE_KEY !== undefined && env.SOPS_AGE_KEY !== '') {
      if (Buffer.byteLength(env.SOPS_AGE_KEY) > MAX_KEY_FILE_BYTES) {
        throw new SecretError('too-large', `SOPS_AGE_KEY is larger than ${MAX_KEY_FILE_BYTES} bytes`);
      }
      add(await parseAgeIdentities(env.SOPS_AGE_KEY, 'SOPS_AGE_KEY', { multiplePerLine: true }), 'SOPS_AGE_KEY');
    }
    if (env.SOPS_AGE_KEY_FILE !== undefined && env.SOPS_AGE_KEY_FILE !== '') {
      add(await readAgeKeyFile(env.SOPS_AGE_KEY_FILE), env.SOPS_AGE_KEY_FILE);
    }
    const def = defaultAgeKeyFile(env, opts.homeDir ?? homedir());
    try {
      add(await readAgeKeyFile(def), def);
    } catch (e) {
      if (!(e instanceof SecretError && e.reason === 'no-key' && identities.length > 0)) throw e;
    }
    if (identities.length === 0) throw new SecretError('no-key', `no age identity found (looked in ${def})`);
  }
  const recipients = await Promise.all(identities.map((id) => identityToRecipient(id)));
  return { identities, sources, recipients };
}
