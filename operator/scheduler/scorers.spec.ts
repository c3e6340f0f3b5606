import { describe, expect, it } from 'vitest';
import { Gi, node, placed, placement, replicas } from '../../test/doubles/scheduler-fixtures.ts';
import { binpack, leastAllocated, scorersFor, spread, topologySpread } from './scorers.ts';
import { ClusterState, demandOf } from './state.ts';
import type { ReplicaView, Scorer } from './types.ts';

const nodes = [node('a', { zone: 'x' }, 4, 4 * Gi), node('b', { zone: 'x' }, 4, 4 * Gi), node('c', { zone: 'y' }, 4, 4 * Gi), node('d')];

/** Scores of node indices `of`, scored together. */
function scores(s: Scorer, view: ReplicaView, of: number[]): number[] {
  const out = new Float64Array(of.length);
  s.score(Int32Array.from(of), of.length, view, out);
  return [...out];
}

describe('scorers', () => {
  it('spread: fewest replicas of the service on the node, relative to the fewest among the nodes scored', () => {
    const web = replicas('shop/web', 4, 0, 0);
    const state = new ClusterState(nodes, [placed(web[0]!, 'a'), placed(web[1]!, 'a'), placed(web[2]!, 'b')]);
    const v = state.view(demandOf(web[3]!));
    expect(scores(spread, v, [0, 1, 2])).toEqual([98, 99, 100]);
    expect(scores(spread, v, [0, 1])).toEqual([99, 100]);
  });

  it('least-allocated and binpack mirror each other, counting the replica itself, averaged over cpu and memory', () => {
    const [r] = replicas('shop/web', 1, 1, 1 * Gi);
    const state = new ClusterState(nodes, [placed(replicas('shop/db', 1, 2, 2 * Gi)[0]!, 'a')]);
    const v = state.view(demandOf(r!));
    expect(scores(binpack, v, [0, 1])).toEqual([75, 25]);
    expect(scores(leastAllocated, v, [0, 1])).toEqual([25, 75]);
  });

  it('topology spread: fewest replicas in the node label value; a node without the label scores 0', () => {
    const p = placement({ topologySpreadKey: 'zone' });
    const web = replicas('shop/web', 3, 0, 0, p);
    const state = new ClusterState(nodes, [placed(web[0]!, 'a'), placed(web[1]!, 'b')]);
    const v = state.view(demandOf(web[2]!));
    expect([...v.domain!.ids]).toEqual([0, 0, 1, -1]);
    expect([...v.domain!.counts]).toEqual([2, 0]);
    expect(scores(topologySpread, v, [0, 1, 2, 3])).toEqual([98, 98, 100, 0]);
    // Relative to the fewest among the nodes scored: zone y full, zone x is the best there is.
    expect(scores(topologySpread, v, [0, 1, 3])).toEqual([100, 100, 0]);
  });

  it('every scorer stays within 0..100', () => {
    const web = replicas('shop/web', 200, 0.01, 1, placement({ topologySpreadKey: 'zone' }));
    const state = new ClusterState(nodes, web.slice(0, 150).map((r) => placed(r, 'a')));
    const v = state.view(demandOf(web[199]!));
    for (const s of [spread, leastAllocated, binpack, topologySpread]) for (const x of scores(s, v, [0, 1, 2, 3])) expect(x).toSatisfy((y: number) => y >= 0 && y <= 100);
  });

  it('weights rank topology first, then replicas on the node, then allocation; strategy picks spread or binpack', () => {
    expect(scorersFor(placement()).map((s) => s.name)).toEqual(['spread', 'least-allocated']);
    expect(scorersFor(placement({ strategy: 'binpack' })).map((s) => s.name)).toEqual(['binpack']);
    const topo = scorersFor(placement({ topologySpreadKey: 'zone' }));
    expect(topo.map((s) => s.name)).toEqual(['topology-spread', 'spread', 'least-allocated']);
    // One step of a higher tier outweighs the whole range of every tier below.
    expect(topo[0]!.weight).toBeGreaterThan(100 * (topo[1]!.weight + topo[2]!.weight));
    expect(topo[1]!.weight).toBeGreaterThan(100 * topo[2]!.weight);
  });
});
