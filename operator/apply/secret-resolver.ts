/**
 * The operator's SecretResolver: decrypts the Secrets of the desired states in force with the age identities of
 * --age-key-file (or, without the flag, SOPS_AGE_KEY / SOPS_AGE_KEY_FILE / the default keys file, passed in by the
 * settings layer), loaded once. Plaintexts are cached in memory by content hash, only for the Secrets of the desired
 * states last remembered, and every value is registered with the redactor before anyone sees it.
 */
import type { DesiredSecret, DesiredState } from '../model/state.ts';
import { BerthError } from '../model/errors.ts';
import { decryptAge } from '../secrets/age.ts';
import { isSecretError } from '../secrets/errors.ts';
import { loadAgeIdentities, type AgeKeyEnv, type LoadedAgeIdentities } from '../secrets/keys.ts';
import { decryptSops } from '../secrets/sops.ts';
import type { SecretResolver } from './secret-files.ts';

export interface SecretStoreOptions {
  /** --age-key-file: only this file (absent: the SOPS environment and the default file). */
  keyFile?: string;
  /** The SOPS variables to honour (from the settings layer). */
  env?: AgeKeyEnv;
  /** Registers a decrypted value with the operator's redactor. */
  redact(value: string): void;
}

/** Decrypted values (and lines of them) shorter than this are not registered with the redactor (see register). */
export const MIN_REDACTED_LENGTH = 8;

/** The item name of an age file. */
export const AGE_ITEM = 'value';

export class SecretStore implements SecretResolver {
  private identities: Promise<LoadedAgeIdentities> | undefined;
  /** `namespace/name\0contentHash` -> the Secret of a remembered desired state with that file. */
  private known = new Map<string, DesiredSecret>();
  private readonly plain = new Map<string, Promise<ReadonlyMap<string, Buffer>>>();

  constructor(private readonly opts: SecretStoreOptions) {}

  /** The Secrets resolvable from now on: those of `states` (the revision in force and the one a rollback returns to). */
  remember(...states: (DesiredState | null | undefined)[]): void {
    const known = new Map<string, DesiredSecret>();
    for (const s of states) for (const secret of s?.secrets ?? []) known.set(idOf(secret.namespace, secret.name, secret.contentHash), secret);
    this.known = known;
    for (const id of this.plain.keys()) if (!known.has(id)) this.plain.delete(id);
  }

  resolve(namespace: string, name: string, contentHash: string): Promise<ReadonlyMap<string, Buffer>> {
    const id = idOf(namespace, name, contentHash);
    const secret = this.known.get(id);
    if (!secret) {
      return Promise.reject(new BerthError('E_SECRET', `Secret ${namespace}/${name} with content ${contentHash.slice(0, 12)} is not in the desired state in force`));
    }
    const hit = this.plain.get(id);
    if (hit) return hit;
    const p = this.decrypt(secret);
    this.plain.set(id, p);
    p.catch(() => { if (this.plain.get(id) === p) this.plain.delete(id); }); // a new key file may open it later
    return p;
  }

  private async decrypt(secret: DesiredSecret): Promise<ReadonlyMap<string, Buffer>> {
    const what = `${secret.file} (Secret ${secret.key})`;
    try {
      const { identities, sources } = await this.loadIdentities();
      const keySource = sources.join(', ');
      const bytes = Buffer.from(secret.ciphertext, 'base64');
      const items = new Map<string, Buffer>();
      if (secret.format === 'age') {
        items.set(AGE_ITEM, Buffer.from(await decryptAge(bytes, identities, { what, keySource })));
      } else {
        const { values } = await decryptSops(bytes.toString('utf8'), secret.format === 'sops-json' ? 'json' : 'yaml', identities, { what, keySource });
        for (const [k, v] of Object.entries(values)) items.set(k, Buffer.from(v, 'utf8'));
      }
      for (const v of items.values()) this.register(v.toString('utf8'));
      return items;
    } catch (e) {
      if (isSecretError(e)) throw new BerthError('E_SECRET', `cannot decrypt ${e.message.includes(secret.file) ? '' : `${what}: `}${e.message} (${e.reason})`);
      if (e instanceof BerthError) throw e;
      throw new BerthError('E_SECRET', `cannot decrypt ${what}: internal error ${e instanceof Error ? e.name : 'unknown'}`);
    }
  }

  private loadIdentities(): Promise<LoadedAgeIdentities> {
    if (!this.identities) {
      const p = loadAgeIdentities({ keyFile: this.opts.keyFile, env: this.opts.env });
      this.identities = p;
      p.catch(() => { if (this.identities === p) this.identities = undefined; }); // retried at the next create
    }
    return this.identities;
  }

  /**
   * The value, and each of its lines (a PEM key, a .env file), go to the redactor: those of at least
   * MIN_REDACTED_LENGTH characters. Shorter ones (a port, `true`, a user name) are not secret enough to be worth
   * replacing in every log line and status document, where `true` or `7` turned into `***` would corrupt them.
   */
  private register(value: string): void {
    for (const v of new Set([value, value.trim(), ...value.split(/\r?\n/).map((l) => l.trim())])) if (v.length >= MIN_REDACTED_LENGTH) this.opts.redact(v);
  }
}

function idOf(namespace: string, name: string, contentHash: string): string {
  return `${namespace}/${name}\0${contentHash}`;
}
