/**
 * Certificates of a TLS Route listener. A `CertificateSource` yields one key pair and says when it may have changed;
 * `FileCertificateSource` reads PEM files of the operator host and polls their stat, since fs.watch misses the
 * rename-into-place that cert tooling does (and is not portable). ACME is not reachable from the machines berth runs
 * on: an ACME client would be another CertificateSource, nothing else here changes.
 *
 * `CertificateStore` holds one SecureContext per source and picks one per TLS handshake by SNI: the exact host, then a
 * wildcard (`*.example.com`: any subdomain, longest suffix first, as the Route rules match), then the first certificate.
 * A reload that fails (unreadable file, bad PEM, key not matching the certificate) keeps the previous context and logs
 * a warning naming the files; key material never reaches a log, only paths and OpenSSL's error text.
 */
import { readFile, stat } from 'node:fs/promises';
import tls, { type SecureContext } from 'node:tls';
import { BerthError } from '../model/errors.ts';

/** Oldest protocol offered to clients: TLS 1.0 and 1.1 are deprecated (RFC 8996). */
export const MIN_TLS_VERSION = 'TLSv1.2';
/** How often FileCertificateSource checks its files, by default. */
export const DEFAULT_RELOAD_INTERVAL_MS = 2_000;

/** One certificate of a listener as the Route declares it: host names and PEM files on the operator host. */
export interface RouterCertificate {
  hosts: string[];
  /** Absolute paths, checked against --allow-host-path when the manifests were loaded. */
  cert: string;
  key: string;
}

/** A PEM certificate chain and its private key. */
export interface KeyPair {
  cert: Buffer;
  key: Buffer;
}

/** Where a listener's key pair comes from (files today; an ACME client would be another implementation). */
export interface CertificateSource {
  /** What logs name: never the material. */
  readonly name: string;
  /** The current key pair; rejects when it cannot be read. */
  load(): Promise<KeyPair>;
  /** Calls `changed` whenever the material may differ from the last `load`; returns the function that stops it. */
  watch(changed: () => void): () => void;
}

/** A key pair in two files, reloaded when either file's inode, size or mtime changes (a stat poll). */
export class FileCertificateSource implements CertificateSource {
  readonly name: string;
  private loaded = '';

  constructor(private readonly certPath: string, private readonly keyPath: string, private readonly intervalMs = DEFAULT_RELOAD_INTERVAL_MS) {
    this.name = `cert ${certPath}, key ${keyPath}`;
  }

  async load(): Promise<KeyPair> {
    // the stat before the read: a change during the read shows as a difference on the next poll
    this.loaded = await this.signature();
    const [cert, key] = await Promise.all([readFile(this.certPath), readFile(this.keyPath)]);
    return { cert, key };
  }

  watch(changed: () => void): () => void {
    let busy = false;
    const timer = setInterval(() => {
      if (busy) return;
      busy = true;
      void this.signature().then((sig) => {
        busy = false;
        if (sig !== this.loaded) changed();
      });
    }, this.intervalMs);
    timer.unref();
    return () => clearInterval(timer);
  }

  private async signature(): Promise<string> {
    const one = (p: string): Promise<string> => stat(p).then((s) => `${s.ino}:${s.size}:${s.mtimeMs}`, () => 'missing');
    return (await Promise.all([one(this.certPath), one(this.keyPath)])).join('|');
  }
}

/** The source of one declared certificate: its files. */
export function certificateSource(c: RouterCertificate, reloadIntervalMs?: number): CertificateSource {
  return new FileCertificateSource(c.cert, c.key, reloadIntervalMs);
}

interface Slot {
  hosts: string[];
  source: CertificateSource;
  pair?: KeyPair;
  context?: SecureContext;
  /** A reload is running: a change seen meanwhile runs another one after it. */
  loading?: Promise<void>;
  again?: boolean;
}

export type Warn = (msg: string, fields?: object) => void;

/** One SecureContext per certificate, chosen by SNI, reloaded as the sources change. */
export class CertificateStore {
  private readonly slots: Slot[];
  private readonly stops: (() => void)[] = [];
  private defaultPair: KeyPair | undefined;
  /** Called with the new default key pair (for clients that send no SNI: tls.Server#setSecureContext). */
  onDefault: (pair: KeyPair) => void = () => {};

  constructor(entries: readonly { hosts: string[]; source: CertificateSource }[], private readonly log: { warn: Warn; info: Warn }) {
    this.slots = entries.map((e) => ({ hosts: e.hosts.map((h) => h.toLowerCase()), source: e.source }));
  }

  /**
   * Loads every certificate and starts watching. A certificate that does not load is skipped with a warning (and
   * retried when its files change); none loading is BerthError E_CONFIG, since the listener could not answer anyone.
   */
  async start(): Promise<void> {
    await Promise.all(this.slots.map((s) => this.reload(s)));
    for (const s of this.slots) this.stops.push(s.source.watch(() => void this.reload(s)));
    if (!this.defaultPair) {
      this.close();
      throw new BerthError('E_CONFIG', `no TLS certificate could be loaded (${this.slots.map((s) => s.source.name).join('; ')})`);
    }
  }

  /** The key pair for clients without SNI, or with a name no certificate covers. */
  get fallback(): KeyPair | undefined {
    return this.defaultPair;
  }

  /** The context for an SNI name: exact host, then the longest matching wildcard, then the first loaded certificate. */
  select(servername: string): SecureContext | undefined {
    const name = servername.toLowerCase().replace(/\.$/, '');
    let wildcard: { context: SecureContext; length: number } | undefined;
    for (const s of this.slots) {
      if (!s.context) continue;
      for (const h of s.hosts) {
        if (h === name) return s.context;
        const suffix = h.startsWith('*.') ? h.slice(1) : undefined;
        if (suffix && name.endsWith(suffix) && name.length > suffix.length && (!wildcard || suffix.length > wildcard.length)) {
          wildcard = { context: s.context, length: suffix.length };
        }
      }
    }
    return wildcard?.context ?? this.slots.find((s) => s.context)?.context;
  }

  /** The `SNICallback` of a tls.Server. */
  readonly sniCallback = (servername: string, cb: (err: Error | null, ctx?: SecureContext) => void): void => {
    const ctx = this.select(servername);
    if (ctx) cb(null, ctx);
    else cb(new Error('no TLS certificate loaded'));
  };

  close(): void {
    for (const stop of this.stops.splice(0)) stop();
  }

  /** Loads one source; concurrent triggers coalesce into one more load after the running one. */
  private reload(s: Slot): Promise<void> {
    if (s.loading) {
      s.again = true;
      return s.loading;
    }
    s.loading = this.loadOnce(s).finally(() => {
      s.loading = undefined;
      if (s.again) {
        s.again = false;
        void this.reload(s);
      }
    });
    return s.loading;
  }

  private async loadOnce(s: Slot): Promise<void> {
    let pair: KeyPair;
    let context: SecureContext;
    try {
      pair = await s.source.load();
      // throws on a bad PEM and on a key that does not belong to the certificate
      context = tls.createSecureContext({ ...pair, minVersion: MIN_TLS_VERSION });
    } catch (err) {
      const keeping = s.context ? 'keeping the previous certificate' : 'not serving it until its files change';
      this.log.warn(`route TLS certificate not loaded, ${keeping}`, { certificate: s.source.name, hosts: s.hosts.join(','), error: (err as Error).message });
      return;
    }
    const first = !s.context;
    s.pair = pair;
    s.context = context;
    if (!first) this.log.info('route TLS certificate reloaded', { certificate: s.source.name });
    const fallback = this.slots.find((x) => x.pair)?.pair;
    if (fallback && fallback !== this.defaultPair) {
      this.defaultPair = fallback;
      this.onDefault(fallback);
    }
  }
}
