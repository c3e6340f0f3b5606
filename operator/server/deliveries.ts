/**
 * Webhook replay protection (pure, injected clock): the keys of the deliveries accepted in the last `windowMs` (the
 * delivery ids of GitHub, Gitea, Gogs and GitLab, and the verified signature, which a replayer cannot change the way
 * it can change an unsigned header), at most `maxEntries` of them (the oldest go first). A delivery any of whose keys
 * was seen is a duplicate.
 */
import { createHash } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

export interface DeliveryCacheOptions {
  /** How long a delivery is remembered; default 10 min. */
  windowMs?: number;
  /** Most keys remembered; default 10,000. */
  maxEntries?: number;
  now?: () => number;
}

/** Delivery id headers, by forge (GitHub also sends its header from Gitea; GitLab 15+ sends an event UUID). */
export const DELIVERY_HEADERS = ['x-github-delivery', 'x-gitea-delivery', 'x-gogs-delivery', 'x-gitlab-event-uuid'] as const;

/** Keys longer than this are stored as their SHA-256 (a header may be kilobytes long). */
const MAX_KEY_LENGTH = 128;

export class DeliveryCache {
  private readonly windowMs: number;
  private readonly maxEntries: number;
  private readonly now: () => number;
  /** key -> time seen; insertion order is time order (a key is re-inserted when seen again). */
  private readonly seen = new Map<string, number>();

  constructor(opts: DeliveryCacheOptions = {}) {
    this.windowMs = opts.windowMs ?? 10 * 60_000;
    this.maxEntries = opts.maxEntries ?? 10_000;
    this.now = opts.now ?? Date.now;
  }

  /**
   * True when one of `keys` was recorded within the window (a replay: nothing is recorded then); otherwise records
   * them all and answers false. No keys: never a duplicate.
   */
  checkAndRecord(keys: readonly string[]): boolean {
    const now = this.now();
    this.expire(now);
    const stored = keys.map(storedKey);
    if (stored.some((k) => this.seen.has(k))) return true;
    for (const k of stored) {
      this.seen.delete(k);
      this.seen.set(k, now);
    }
    while (this.seen.size > this.maxEntries) this.seen.delete(this.seen.keys().next().value as string);
    return false;
  }

  /** Keys remembered now. */
  get size(): number {
    return this.seen.size;
  }

  private expire(now: number): void {
    for (const [k, t] of this.seen) {
      if (now - t < this.windowMs) return;
      this.seen.delete(k);
    }
  }
}

/**
 * The replay keys of a webhook request: each delivery id header present (prefixed by its name) and, for a signed
 * delivery, its signature (the HMAC of the body: the same body signed with the same secret).
 */
export function deliveryKeys(headers: IncomingHttpHeaders, verifiedSignature?: string): string[] {
  const keys: string[] = [];
  for (const name of DELIVERY_HEADERS) {
    const v = headers[name];
    const id = (Array.isArray(v) ? v[0] : v)?.trim();
    if (id) keys.push(`${name}:${id}`);
  }
  if (verifiedSignature) keys.push(`signature:${verifiedSignature.trim().toLowerCase()}`);
  return keys;
}

function storedKey(key: string): string {
  return key.length <= MAX_KEY_LENGTH ? key : `sha256:${createHash('sha256').update(key).digest('hex')}`;
}
