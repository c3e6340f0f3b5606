/**
 * Which tags are asked of their registry this pass, and what they resolved to (the effect behind images/pin.ts).
 *
 * - pullPolicy Never, a build, or a reference that is already a digest: never asked.
 * - IfNotPresent: an image some node has without a registry digest (built or `docker load`ed there, as berth's own
 *   examples are) is used as it is; every other tag is resolved (HEAD on its manifest) on every pass.
 * - Always: resolved on every pass, whatever the nodes have.
 *
 * A failed resolution keeps the digest last resolved (in memory, or read back from the running replicas' labels after
 * a restart), so a registry outage never rolls a service back to its bare tag nor mixes digests; it is reported as
 * ErrImagePull and retried with exponential backoff (ImagePullBackOff: the registry is not asked again before the
 * backoff ends, so an unreachable registry costs a pass one timeout, not one per pass).
 */
import { asBerthError, type BerthError } from '../model/errors.ts';
import { LABELS } from '../model/keys.ts';
import type { DesiredService, ImageState, ObservedState } from '../model/state.ts';

export type { ImageState } from '../model/state.ts';
import { limiter } from '../util/limit.ts';
import type { Logger } from '../util/log.ts';

export interface TagResolver {
  resolve(ref: string): Promise<{ digest: string }>;
}

interface Known {
  digest?: string;
  resolvedAt?: number;
  failures: number;
  retryAt: number;
  /** When the last failure happened: this pass (ErrImagePull) or before (ImagePullBackOff, not asked). */
  failedAt?: number;
  error?: BerthError;
}

export const RESOLVE_BACKOFF_MIN_MS = 2_000;
export const RESOLVE_BACKOFF_MAX_MS = 5 * 60_000;

export interface ImageResolverDeps {
  client: TagResolver;
  log: Logger;
  now?: () => number;
  /** Resolutions in flight at once (default 4). */
  concurrency?: number;
}

export class ImageResolver {
  private readonly known = new Map<string, Known>();
  private readonly limit;
  private last = new Map<string, ImageState>();

  constructor(private readonly deps: ImageResolverDeps) {
    this.limit = limiter(deps.concurrency ?? 4);
  }

  /** The states of the last resolve(), by reference. */
  states(): ReadonlyMap<string, ImageState> {
    return this.last;
  }

  /** Resolves what this pass needs; `digests` feeds pinImages. Never throws: failures are in the states. */
  async resolve(services: readonly DesiredService[], observed: ObservedState): Promise<{ digests: Map<string, string>; states: Map<string, ImageState> }> {
    const now = this.now();
    const states = new Map<string, ImageState>();
    const asks: string[] = [];
    const local = new Set(observed.localImages ?? []);
    for (const svc of services) {
      if (svc.image.type !== 'ref' || svc.image.ref.includes('@') || states.has(svc.image.ref) || asks.includes(svc.image.ref)) continue;
      const ref = svc.image.ref;
      if (svc.spec.pullPolicy === 'Never') states.set(ref, { ref, source: 'never' });
      else if (svc.spec.pullPolicy === 'IfNotPresent' && local.has(ref) && !this.known.get(ref)?.digest) states.set(ref, { ref, source: 'local' });
      else asks.push(ref);
    }
    this.seed(asks, observed);
    await Promise.all(asks.map((ref) => this.limit.run(() => this.ask(ref, now))));
    const digests = new Map<string, string>();
    for (const ref of asks) {
      const k = this.known.get(ref)!;
      if (k.digest) digests.set(ref, k.digest);
      states.set(ref, this.stateOf(ref, k, now));
    }
    this.last = states;
    return { digests, states };
  }

  private async ask(ref: string, now: number): Promise<void> {
    const k = this.known.get(ref) ?? { failures: 0, retryAt: 0 };
    this.known.set(ref, k);
    if (k.retryAt > now) return; // backing off
    try {
      const { digest } = await this.deps.client.resolve(ref);
      if (k.digest && k.digest !== digest) this.deps.log.info('image tag moved in its registry', { image: ref, digest, was: k.digest });
      if (k.failures) this.deps.log.info('image registry answers again', { image: ref, digest });
      k.digest = digest;
      k.resolvedAt = this.now();
      k.failures = 0;
      k.retryAt = 0;
      delete k.error;
      delete k.failedAt;
    } catch (err) {
      const error = asBerthError(err, 'E_PULL');
      k.failures++;
      k.error = error;
      k.failedAt = now;
      const backoff = Math.min(RESOLVE_BACKOFF_MAX_MS, RESOLVE_BACKOFF_MIN_MS * 2 ** (k.failures - 1));
      k.retryAt = this.now() + backoff;
      this.deps.log.warn('cannot resolve image tag', { image: ref, error: error.message, retryInMs: backoff, ...(k.digest ? { keeps: k.digest } : {}) });
    }
  }

  /** After a restart, the digest the running replicas of a reference carry stands until the registry answers. */
  private seed(refs: string[], observed: ObservedState): void {
    for (const ref of refs) {
      if (this.known.get(ref)?.digest) continue;
      const carriers = observed.containers
        .filter((c) => c.labels[LABELS.image] === ref && c.labels[LABELS.imageDigest])
        .sort((a, b) => (a.status === 'running' ? 0 : 1) - (b.status === 'running' ? 0 : 1) || b.createdAt.localeCompare(a.createdAt));
      const digest = carriers[0]?.labels[LABELS.imageDigest];
      if (digest) this.known.set(ref, { ...(this.known.get(ref) ?? { failures: 0, retryAt: 0 }), digest });
    }
  }

  private stateOf(ref: string, k: Known, now: number): ImageState {
    const base: ImageState = { ref, source: 'unresolved', ...(k.digest ? { digest: k.digest } : {}), ...(k.resolvedAt ? { resolvedAt: new Date(k.resolvedAt).toISOString() } : {}) };
    if (!k.error) return { ...base, source: 'registry' };
    return {
      ...base,
      source: k.digest ? 'last-known' : 'unresolved',
      reason: k.failedAt === now ? 'ErrImagePull' : 'ImagePullBackOff',
      message: k.error.message,
    };
  }

  private now(): number {
    return this.deps.now?.() ?? Date.now();
  }
}
