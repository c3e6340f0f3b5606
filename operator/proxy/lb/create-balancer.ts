/** The one way callers build a balancer: algorithm name + endpoints + options, options checked once. */
import { BerthError } from '../../model/errors.ts';
import type { LbAlgorithm } from '../../model/manifest.ts';
import { ConsistentHashBalancer, DEFAULT_VNODES_PER_WEIGHT } from './consistent-hash.ts';
import { LeastConnectionsBalancer } from './least-connections.ts';
import { RoundRobinBalancer } from './round-robin.ts';
import type { Balancer, BalancerOptions, Endpoint } from './types.ts';
import { WeightedRoundRobinBalancer } from './weighted-round-robin.ts';

/** Upper bound on ring points per weight unit: beyond this, ring memory grows with no measurable gain in spread. */
export const MAX_VNODES_PER_WEIGHT = 10_000;

/**
 * Builds a balancer for `algorithm` over `endpoints`. Throws BerthError E_CONFIG for an unknown algorithm, a
 * vnodesPerWeight that is not an integer in 1..10000, or a boundedLoad that is not a finite number >= 1.
 */
export function createBalancer(algorithm: LbAlgorithm, endpoints: readonly Endpoint[], opts: BalancerOptions = {}): Balancer {
  const vnodesPerWeight = opts.vnodesPerWeight ?? DEFAULT_VNODES_PER_WEIGHT;
  if (!Number.isInteger(vnodesPerWeight) || vnodesPerWeight < 1 || vnodesPerWeight > MAX_VNODES_PER_WEIGHT) {
    throw new BerthError('E_CONFIG', `vnodesPerWeight must be an integer in 1..${MAX_VNODES_PER_WEIGHT}, got ${vnodesPerWeight}`);
  }
  const { boundedLoad } = opts;
  if (boundedLoad !== undefined && !(Number.isFinite(boundedLoad) && boundedLoad >= 1)) {
    throw new BerthError('E_CONFIG', `boundedLoad must be a number >= 1 (e.g. 1.25), got ${boundedLoad}`);
  }
  switch (algorithm) {
    case 'round-robin':
      return new RoundRobinBalancer(endpoints);
    case 'weighted-round-robin':
      return new WeightedRoundRobinBalancer(endpoints);
    case 'consistent-hash':
      return new ConsistentHashBalancer(endpoints, { vnodesPerWeight, boundedLoad });
    case 'least-connections':
      return new LeastConnectionsBalancer(endpoints);
    default:
      throw new BerthError('E_CONFIG', `unknown load-balancing algorithm ${String(algorithm satisfies never)}`);
  }
}
