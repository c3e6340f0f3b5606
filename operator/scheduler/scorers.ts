/**
 * Scorers (each 0..100, higher is better) and their weights. The weights are tiers: count-based scorers give integers
 * and weigh 101x the tier below, so the sum ranks lexicographically — topology domain first, then replicas on the node,
 * then allocation — while each stays a plain weighted scorer. Counts are relative to the fewest among the nodes scored
 * (kube-scheduler's normalisation), so 100 or more replicas above the fewest saturate at 0 instead of spilling a tier.
 */
import type { PlacementSpec } from '../model/manifest.ts';
import type { Scorer } from './types.ts';

const TIER = 101;

/** Fewest replicas of the service in the node's value of placement.topologySpreadKey first; a node without the label scores 0. */
export const topologySpread: Scorer = {
  name: 'topology-spread',
  weight: TIER * TIER,
  score(nodes, count, v, out) {
    if (!v.domain) return void out.fill(0, 0, count);
    const { ids, counts } = v.domain;
    let min = Infinity;
    for (let k = 0; k < count; k++) {
      const id = ids[nodes[k]!]!;
      out[k] = id < 0 ? -1 : counts[id]!;
      if (id >= 0 && out[k]! < min) min = out[k]!;
    }
    for (let k = 0; k < count; k++) {
      const above = out[k]! - min;
      out[k] = out[k]! < 0 ? 0 : above < 100 ? 100 - above : 0;
    }
  },
};

/** Fewest replicas of the service on the node first (Swarm's spread). */
export const spread: Scorer = {
  name: 'spread',
  weight: TIER,
  score(nodes, count, v, out) {
    const on = v.onNode;
    let min = Infinity;
    for (let k = 0; k < count; k++) if (on[nodes[k]!]! < min) min = on[nodes[k]!]!;
    for (let k = 0; k < count; k++) {
      const above = on[nodes[k]!]! - min;
      out[k] = above < 100 ? 100 - above : 0;
    }
  },
};

/** Least allocated node first, counting the replica itself (kube's LeastAllocated); spread's tie-break. */
export const leastAllocated: Scorer = {
  name: 'least-allocated',
  weight: 1,
  score(nodes, count, v, out) {
    v.state.allocationsAfter(nodes, count, v.demand, out);
    for (let k = 0; k < count; k++) out[k] = 100 * (1 - out[k]!);
  },
};

/** Most allocated node first, counting the replica itself (Nomad's binpack, kube's MostAllocated). */
export const binpack: Scorer = {
  name: 'binpack',
  weight: 1,
  score(nodes, count, v, out) {
    v.state.allocationsAfter(nodes, count, v.demand, out);
    for (let k = 0; k < count; k++) out[k] = 100 * out[k]!;
  },
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
