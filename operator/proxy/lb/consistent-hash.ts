/**
 * Consistent hashing on a ring (ketama, as nginx's `hash ... consistent`): each endpoint owns
 * vnodesPerWeight × weight points, point v of endpoint `id` at murmur3(`${id}-${v}`); a key goes to the owner of the
 * first point at or after murmur3(key), found by binary search, wrapping at the top. Points depend only on (id, v),
 * so an update moves only the keys of endpoints that left or changed weight.
 *
 * Optional bounded load (Mirrokni, Thorup, Zadimoghaddam, "Consistent Hashing with Bounded Loads", 2016; HAProxy's
 * hash-balance-factor): with factor c, an endpoint may hold at most ceil(c × (in-flight + 1) × weight / total weight)
 * connections — c times its fair share including the one being placed; a full endpoint is skipped to the next point
 * on the ring. Load comes from acquire/release. Without a key, picks fall back to round-robin.
 */
import { murmur3 } from './hash.ts';
import { indexById, normalizeEndpoints } from './endpoints.ts';
import { RoundRobinBalancer } from './round-robin.ts';
import type { Balancer, Endpoint, PickContext } from './types.ts';

export const DEFAULT_VNODES_PER_WEIGHT = 160;

/** Ring points are sorted as hash × 2^21 + rank-by-id (exact in a double), so equal hashes order by id. */
const RANK_SLOTS = 2 ** 21;

export interface ConsistentHashOptions {
  /** Ring points per weight unit (default 160). */
  vnodesPerWeight?: number;
  /** Bounded-load factor c >= 1; absent = unbounded. */
  boundedLoad?: number;
}

export class ConsistentHashBalancer implements Balancer {
  private readonly vnodesPerWeight: number;
  private readonly boundedLoad: number | undefined;
  private endpoints: Endpoint[] = [];
  private byId = new Map<string, number>();
  /** Each endpoint's ring points, by id: reused as long as the endpoint stays. */
  private points = new Map<string, Uint32Array>();
  /** The ring: sorted point hashes and, in parallel, the index of the endpoint owning each point. */
  private ringHashes = new Uint32Array(0);
  private ringOwners = new Uint32Array(0);
  private inFlight: number[] = [];
  private totalInFlight = 0;
  private totalWeight = 0;
  private readonly fallback: RoundRobinBalancer;

  constructor(endpoints: readonly Endpoint[], opts: ConsistentHashOptions = {}) {
    this.vnodesPerWeight = opts.vnodesPerWeight ?? DEFAULT_VNODES_PER_WEIGHT;
    this.boundedLoad = opts.boundedLoad;
    this.fallback = new RoundRobinBalancer([]);
    this.update(endpoints);
  }

  /**
   * Picks the owner of the key's point, walking on along the ring past excluded (and, when bounded, full) endpoints.
   * If every endpoint left is full, the bound gives way: the first endpoint that is not excluded. No key: round-robin.
   */
  pick(ctx?: PickContext, exclude?: ReadonlySet<string>): Endpoint | undefined {
    if (ctx?.key === undefined) return this.fallback.pick(undefined, exclude);
    const size = this.ringHashes.length;
    const start = lowerBound(this.ringHashes, murmur3(ctx.key));
    let overBound: Endpoint | undefined;
    for (let step = 0; step < size; step++) {
      const owner = this.ringOwners[(start + step) % size]!;
      const e = this.endpoints[owner]!;
      if (exclude?.has(e.id)) continue;
      if (this.hasRoom(owner)) return e;
      overBound ??= e;
    }
    return overBound;
  }

  /** Replaces the endpoints: unchanged endpoints keep their ring points and in-flight counts. */
  update(endpoints: readonly Endpoint[]): void {
    const counts = new Map<string, number>();
    this.endpoints.forEach((e, i) => counts.set(e.id, this.inFlight[i] ?? 0));
    this.endpoints = normalizeEndpoints(endpoints);
    this.byId = indexById(this.endpoints);
    this.inFlight = this.endpoints.map((e) => counts.get(e.id) ?? 0);
    this.totalInFlight = this.inFlight.reduce((a, b) => a + b, 0);
    this.totalWeight = this.endpoints.reduce((a, e) => a + e.weight, 0);
    const points = new Map<string, Uint32Array>();
    for (const e of this.endpoints) {
      points.set(e.id, vnodeHashes(e.id, e.weight * this.vnodesPerWeight, this.points.get(e.id)));
    }
    this.points = points;
    this.buildRing();
    this.fallback.update(this.endpoints);
  }

  /** Counts a connection opened to `id` (used by the load bound); unknown ids are ignored. */
  acquire(id: string): void {
    const i = this.byId.get(id);
    if (i === undefined) return;
    this.inFlight[i] = this.inFlight[i]! + 1;
    this.totalInFlight += 1;
  }

  /** Counts a connection to `id` closed; never goes below 0, unknown ids are ignored. */
  release(id: string): void {
    const i = this.byId.get(id);
    if (i === undefined || this.inFlight[i] === 0) return;
    this.inFlight[i] = this.inFlight[i]! - 1;
    this.totalInFlight -= 1;
  }

  /** In-flight connections of `id` (0 when unknown). */
  load(id: string): number {
    const i = this.byId.get(id);
    return i === undefined ? 0 : this.inFlight[i]!;
  }

  /** The ring points of `id`, in vnode order (empty when unknown). */
  ringPoints(id: string): readonly number[] {
    return Array.from(this.points.get(id) ?? []);
  }

  /** Whether endpoint `i` may take one more connection under the load bound (always, when unbounded). */
  private hasRoom(i: number): boolean {
    if (this.boundedLoad === undefined) return true;
    const share = (this.boundedLoad * (this.totalInFlight + 1) * this.endpoints[i]!.weight) / this.totalWeight;
    // The epsilon keeps float noise (e.g. 2.0000000000000004) from adding a whole slot.
    return this.inFlight[i]! < Math.ceil(share - 1e-9);
  }

  /** Sorts every endpoint's points into the ring; equal hashes are ordered by endpoint id. */
  private buildRing(): void {
    const ranked = this.endpoints.map((e, i) => ({ id: e.id, i })).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    let size = 0;
    for (const p of this.points.values()) size += p.length;
    const packed = new Float64Array(size);
    let at = 0;
    ranked.forEach(({ id }, rank) => {
      for (const h of this.points.get(id)!) packed[at++] = h * RANK_SLOTS + rank;
    });
    packed.sort();
    this.ringHashes = new Uint32Array(size);
    this.ringOwners = new Uint32Array(size);
    for (let k = 0; k < size; k++) {
      const rank = packed[k]! % RANK_SLOTS;
      this.ringHashes[k] = (packed[k]! - rank) / RANK_SLOTS;
      this.ringOwners[k] = ranked[rank]!.i;
    }
  }
}

/** The first `count` ring points of `id`, reusing the ones already computed in `cached`. */
function vnodeHashes(id: string, count: number, cached: Uint32Array | undefined): Uint32Array {
  if (cached && cached.length >= count) return cached.length === count ? cached : cached.slice(0, count);
  const out = new Uint32Array(count);
  const reuse = cached?.length ?? 0;
  if (cached) out.set(cached);
  for (let v = reuse; v < count; v++) out[v] = murmur3(`${id}-${v}`);
  return out;
}

/** Index of the first element >= `h`, or 0 when every element is smaller (the ring wraps). */
function lowerBound(sorted: Uint32Array, h: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]! < h) lo = mid + 1;
    else hi = mid;
  }
  return lo === sorted.length ? 0 : lo;
}
