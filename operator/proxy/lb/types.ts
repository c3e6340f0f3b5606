/**
 * The common surface of berth's load-balancing algorithms. Every algorithm is pure code: a small class whose
 * state (cursor, current weights, ring, in-flight counts) lives in the instance and changes only through its methods.
 */
import type { LbAlgorithm } from '../../model/manifest.ts';

export interface Endpoint {
  /** Stable identity of the replica (container id or replica key); state is carried across `update` by this id. */
  id: string;
  /** host:port or similar. */
  address: string;
  /** Positive integer, default 1; a value that is not a positive finite number counts as 1, fractions are floored (min 1). */
  weight: number;
}

export interface PickContext {
  /** Hash key for consistent hashing (header/cookie/path/client-ip value), if any. */
  key?: string;
}

export interface Balancer {
  /** Picks an endpoint, or undefined when there are none; `exclude` skips endpoints that just failed to connect. */
  pick(ctx?: PickContext, exclude?: ReadonlySet<string>): Endpoint | undefined;
  /** Replaces the endpoint set (ready replicas changed); keeps state where the algorithm can (e.g. the ring of unchanged endpoints). */
  update(endpoints: readonly Endpoint[]): void;
  /** For least-connections (and bounded-load consistent hashing): a connection to `id` opened. No-op elsewhere. */
  acquire(id: string): void;
  /** For least-connections (and bounded-load consistent hashing): a connection to `id` closed. No-op elsewhere. */
  release(id: string): void;
}

/** Every algorithm, in the order the docs list them. */
export const ALGORITHMS: readonly LbAlgorithm[] = ['round-robin', 'weighted-round-robin', 'consistent-hash', 'least-connections'];

export interface BalancerOptions {
  /** Ring points per weight unit for consistent hashing; default 160, like nginx's ketama. */
  vnodesPerWeight?: number;
  /** Bounded-load factor for consistent hashing (e.g. 1.25, must be >= 1); absent = unbounded. */
  boundedLoad?: number;
}
