/**
 * Scorers (each 0..100, higher is better) and their weights. The weights are tiers: count-based scorers give integers
 * and weigh 101x the tier below, so the sum ranks lexicographically — topology domain first, then replicas on the node,
 * then allocation — while each stays a plain weighted scorer. Counts are relative to the fewest on any feasible node
 * (kube-scheduler's normalisation), so a difference of 100 or more replicas saturates at 0 rather than overflowing a tier.
 */
import type { PlacementSpec } from '../model/manifest.ts';
import type { Scorer } from './types.ts';

const TIER = 101;

/** Fewest replicas of the service in the node's value of placement.topologySpreadKey first; a node without the label scores 0. */
export const topologySpread: Scorer = {
  name: 'topology-spread',
  weight: TIER * TIER,
  score(i, v) {
    const key = v.demand.replica.placement.topologySpreadKey;
    const value = key === undefined ? undefined : v.state.nodes[i]!.labels[key];
    if (value === undefined || !v.inDomain) return 0;
    return Math.max(0, 100 - ((v.inDomain.get(value) ?? 0) - v.minInDomain));
  },
};

/** Fewest replicas of the service on the node first (Swarm's spread). */
export const spread: Scorer = {
  name: 'spread',
  weight: TIER,
  score: (i, v) => Math.max(0, 100 - (v.onNode[i]! - v.minOnNode)),
};

/** Least allocated node first, counting the replica itself (kube's LeastAllocated); spread's tie-break. */
export const leastAllocated: Scorer = {
  name: 'least-allocated',
  weight: 1,
  score: (i, v) => 100 * (1 - v.state.allocatedAfter(i, v.demand)),
};

/** Most allocated node first, counting the replica itself (Nomad's binpack, kube's MostAllocated). */
export const binpack: Scorer = {
  name: 'binpack',
  weight: 1,
  score: (i, v) => 100 * v.state.allocatedAfter(i, v.demand),
};

const SPREAD = [spread, leastAllocated];
const BINPACK = [binpack];
const TOPO_SPREAD = [topologySpread, ...SPREAD];
const TOPO_BINPACK = [topologySpread, ...BINPACK];

/** The scorers of a placement: topologySpread when it has a key, then its strategy's. */
export function scorersFor(p: PlacementSpec): readonly Scorer[] {
  if (p.topologySpreadKey === undefined) return p.strategy === 'binpack' ? BINPACK : SPREAD;
  return p.strategy === 'binpack' ? TOPO_BINPACK : TOPO_SPREAD;
}
