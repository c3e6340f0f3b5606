/**
 * API bearer tokens. A token is printed once at creation (`berth_<id>_<secret>`); the tokens file under --state-dir
 * (mode 0600) keeps its id, name, role, granted namespaces, expiry and an scrypt hash of the secret, never the secret.
 * Checking a token looks its id up (an unknown id costs no hash), then runs scrypt off the event loop; a token that
 * verified is remembered by the SHA-256 of its text, so later requests cost a hash and a map lookup. The file is
 * re-read when it changes (a `berth token revoke` from another process takes effect within a second).
 */
import { createHash, randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { BerthError } from '../model/errors.ts';
import { isRole, type Principal, type Role } from './policy.ts';

export interface TokenEntry {
  id: string;
  name: string;
  role: Role;
  /** Namespaces an operator token may change; ['*'] = all. */
  namespaces: string[];
  created: string;
  /** ISO time; null = never. */
  expires: string | null;
  /** scrypt(secret, salt), base64. */
  hash: string;
  salt: string;
}

interface TokenFile {
  apiVersion: 'berth/v1';
  kind: 'Tokens';
  tokens: TokenEntry[];
}

/** scrypt cost: 16 MiB and a few ms per check, paid once per token thanks to the cache. */
const SCRYPT = { N: 16384, r: 8, p: 1, maxmem: 64 * 1024 * 1024 };
const KEY_LENGTH = 32;
const TOKEN_FORMAT = /^berth_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$/;
/** A tokens file is a few hundred bytes per token: anything past this is not one. */
const MAX_FILE = 1024 * 1024;
/** Verified tokens remembered; only valid tokens enter, so an outsider cannot grow it. */
const MAX_CACHED = 4096;
/** Hash checks running at once (each holds 16 MiB): beyond, a check waits for a slot. */
const MAX_HASHING = 2;

export const TOKENS_FILE = 'tokens.json';

export type TokenCheck = { ok: true; principal: Principal } | { ok: false; reason: 'malformed' | 'unknown' | 'expired' | 'mismatch' };

function hashSecret(secret: string, salt: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => scrypt(secret, salt, KEY_LENGTH, SCRYPT, (err, key) => (err ? reject(err) : resolve(key))));
}

const digest = (token: string): string => createHash('sha256').update(token).digest('hex');

export class TokenStore {
  private entries = new Map<string, TokenEntry>();
  private readonly cache = new Map<string, TokenEntry>();
  private version = '';
  private hashing = 0;
  private readonly queue: (() => void)[] = [];
  private timer?: NodeJS.Timeout;

  private constructor(readonly file: string) {}

  /** Opens (or starts) the tokens file `<stateDir>/tokens.json`; a file that does not parse is E_CONFIG naming it. */
  static open(stateDir: string): TokenStore {
    const store = new TokenStore(path.join(stateDir, TOKENS_FILE));
    store.reload();
    return store;
  }

  /** Tokens in the file (without hashes). */
  list(): Omit<TokenEntry, 'hash' | 'salt'>[] {
    return [...this.entries.values()].map(({ hash: _h, salt: _s, ...rest }) => rest);
  }

  /** True when at least one token other than the local CLI's exists. */
  hasTokens(except?: string): boolean {
    return [...this.entries.values()].some((e) => e.name !== except);
  }

  /** Creates a token; returns its text, which is shown once and stored nowhere. */
  async create(opts: { name: string; role: Role; namespaces?: string[]; expiresAt?: Date | null }, now = new Date()): Promise<{ token: string; entry: TokenEntry }> {
    if (!/^[A-Za-z0-9][A-Za-z0-9._@-]{0,62}$/.test(opts.name)) throw new BerthError('E_CONFIG', `token name "${opts.name.slice(0, 64)}": use 1-63 letters, digits, ".", "_", "@", "-"`);
    this.reload();
    if ([...this.entries.values()].some((e) => e.name === opts.name)) throw new BerthError('E_CONFIG', `a token named "${opts.name}" exists (berth token revoke ${opts.name} first)`);
    const id = randomBytes(6).toString('hex');
    const secret = randomBytes(32).toString('base64url');
    const salt = randomBytes(16);
    const hash = await hashSecret(secret, salt);
    const entry: TokenEntry = {
      id, name: opts.name, role: opts.role, namespaces: opts.namespaces?.length ? opts.namespaces : ['*'],
      created: now.toISOString(), expires: opts.expiresAt ? opts.expiresAt.toISOString() : null,
      hash: hash.toString('base64'), salt: salt.toString('base64'),
    };
    this.entries.set(id, entry);
    this.save();
    return { token: `berth_${id}_${secret}`, entry };
  }

  /** Removes the token named `name` (or with that id); false when there is none. */
  revoke(name: string): boolean {
    this.reload();
    const e = [...this.entries.values()].find((x) => x.name === name || x.id === name);
    if (!e) return false;
    this.entries.delete(e.id);
    this.save();
    return true;
  }

  /** Checks a presented bearer token. */
  async check(token: string, now = Date.now()): Promise<TokenCheck> {
    const key = digest(token);
    const cached = this.cache.get(key);
    if (cached) return this.answer(cached, now);
    const m = TOKEN_FORMAT.exec(token);
    if (!m) return { ok: false, reason: 'malformed' };
    const entry = this.entries.get(m[1]!);
    if (!entry) return { ok: false, reason: 'unknown' };
    const expected = Buffer.from(entry.hash, 'base64');
    const actual = await this.hashLimited(m[2]!, Buffer.from(entry.salt, 'base64'));
    if (expected.length !== actual.length || !timingSafeEqual(expected, actual)) return { ok: false, reason: 'mismatch' };
    if (this.entries.get(entry.id) !== entry) return { ok: false, reason: 'unknown' }; // revoked while hashing
    if (this.cache.size >= MAX_CACHED) this.cache.delete(this.cache.keys().next().value!);
    this.cache.set(key, entry);
    return this.answer(entry, now);
  }

  /** Re-reads the file when it changed, checking once per `everyMs` in the background. */
  watch(everyMs = 1000, onError?: (err: Error) => void): void {
    this.timer = setInterval(() => {
      stat(this.file).then((s) => s, () => null).then((s) => {
        if (this.stamp(s) !== this.version) this.reload();
      }).catch((err: Error) => onError?.(err));
    }, everyMs);
    this.timer.unref();
  }

  close(): void {
    clearInterval(this.timer);
  }

  private answer(e: TokenEntry, now: number): TokenCheck {
    if (e.expires && Date.parse(e.expires) <= now) return { ok: false, reason: 'expired' };
    return { ok: true, principal: { name: e.name, via: 'token', role: e.role, namespaces: e.namespaces } };
  }

  private async hashLimited(secret: string, salt: Buffer): Promise<Buffer> {
    if (this.hashing >= MAX_HASHING) await new Promise<void>((resolve) => this.queue.push(resolve));
    this.hashing++;
    try {
      return await hashSecret(secret, salt);
    } finally {
      this.hashing--;
      this.queue.shift()?.();
    }
  }

  private stamp(s: { mtimeMs: number; size: number; ino: number } | null): string {
    return s ? `${s.ino}:${s.size}:${s.mtimeMs}` : 'none';
  }

  /** Loads the file (absent = no tokens); the cache is dropped, so a revoked or changed token is checked anew. */
  reload(): void {
    let s: ReturnType<typeof statSync> | null = null;
    try {
      s = statSync(this.file);
    } catch {
      s = null;
    }
    this.cache.clear();
    this.version = this.stamp(s);
    if (!s) {
      this.entries = new Map();
      return;
    }
    if (s.size > MAX_FILE) throw new BerthError('E_CONFIG', `${this.file}: larger than ${MAX_FILE} bytes, not a tokens file`);
    let doc: TokenFile;
    try {
      doc = JSON.parse(readFileSync(this.file, 'utf8')) as TokenFile;
    } catch (err) {
      throw new BerthError('E_CONFIG', `${this.file}: not a tokens file (${(err as Error).message.split('\n')[0]})`);
    }
    // A file without a tokens list is no tokens file: reading it as empty would drop every token in force, and the next
    // create or revoke would overwrite it.
    if (!Array.isArray(doc?.tokens)) throw new BerthError('E_CONFIG', `${this.file}: not a tokens file (no tokens: [...] list)`);
    const entries = new Map<string, TokenEntry>();
    for (const [i, e] of doc.tokens.entries()) {
      if (typeof e?.id !== 'string' || typeof e.name !== 'string' || typeof e.hash !== 'string' || typeof e.salt !== 'string' || !isRole(e.role) || !Array.isArray(e.namespaces)) {
        throw new BerthError('E_CONFIG', `${this.file}: tokens[${i}] is not a token entry (id, name, role, namespaces, hash, salt)`);
      }
      entries.set(e.id, e);
    }
    this.entries = entries;
  }

  /** Writes the file atomically, readable by its owner only. */
  private save(): void {
    mkdirSync(path.dirname(this.file), { recursive: true, mode: 0o700 });
    const doc: TokenFile = { apiVersion: 'berth/v1', kind: 'Tokens', tokens: [...this.entries.values()] };
    const tmp = `${this.file}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(doc, null, 2) + '\n', { mode: 0o600 });
    chmodSync(tmp, 0o600);
    renameSync(tmp, this.file);
    this.cache.clear();
    this.version = this.stamp(statSync(this.file));
  }
}
