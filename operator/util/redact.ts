/**
 * Secrets kept out of everything that leaves the process: log lines, status documents, status commits, probe output.
 * One mechanism: the operator registers each secret it holds (tokens, the webhook secret, credentials in URLs) with one
 * Redactor, and every sink passes its text through it.
 */
import type { Logger } from './log.ts';

export const REDACTED = '***';

/** Replaces every one of `secrets` in `text` with `***`. */
export function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) if (secret) out = out.split(secret).join(REDACTED);
  return out;
}

export class Redactor {
  private readonly secrets = new Set<string>();
  /** The secrets longest first (kept sorted on add: text() runs on every log line). */
  private sorted: string[] = [];

  /** Registers a secret (and its URL-encoded form); values shorter than 4 characters are ignored (they would redact common words). */
  add(secret: string | undefined | null): this {
    if (!secret || secret.length < 4) return this;
    this.secrets.add(secret);
    const encoded = encodeURIComponent(secret);
    if (encoded !== secret) this.secrets.add(encoded);
    this.sorted = [...this.secrets].sort((a, b) => b.length - a.length);
    return this;
  }

  /** Registers the password (and user info) of a URL such as `https://user:pass@host/repo.git`. */
  addUrlCredentials(url: string | undefined): this {
    if (!url) return this;
    try {
      const u = new URL(url);
      if (u.password) this.add(decodeURIComponent(u.password)).add(u.password);
      if (u.username && u.password) this.add(`${u.username}:${u.password}`);
    } catch {
      // not a URL (a local path): nothing to register
    }
    return this;
  }

  /** The text without any registered secret; longest first, so a secret containing another is replaced whole. */
  text(s: string): string {
    return this.sorted.length ? redact(s, this.sorted) : s;
  }

  /** A deep copy of plain data (JSON-like) with every string redacted. */
  deep<T>(value: T): T {
    if (!this.secrets.size) return value;
    return walk(value, (s) => this.text(s)) as T;
  }

  /** `log` with the message and every field redacted. */
  logger(log: Logger): Logger {
    const fields = (f?: Record<string, unknown>) => (f ? this.deep(f) : f);
    return {
      log: (level, msg, f) => log.log(level, this.text(msg), fields(f)),
      debug: (msg, f) => log.debug(this.text(msg), fields(f)),
      info: (msg, f) => log.info(this.text(msg), fields(f)),
      warn: (msg, f) => log.warn(this.text(msg), fields(f)),
      error: (msg, f) => log.error(this.text(msg), fields(f)),
    };
  }
}

function walk(value: unknown, fn: (s: string) => string): unknown {
  if (typeof value === 'string') return fn(value);
  if (Array.isArray(value)) return value.map((v) => walk(v, fn));
  if (value instanceof Error) return fn(value.message);
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, walk(v, fn)]));
  return value;
}
