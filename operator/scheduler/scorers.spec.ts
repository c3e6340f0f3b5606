import { describe, expect, it } from 'vitest';
import { binpack, leastAllocated, scorersFor, spread, topologySpread } from './scorers.ts';
import { Gi, node, placed, placement, replicas } from './scheduler-fixtures.ts';
import { ClusterState, demandOf } from './state.ts';

const nodes = [node('a', { zone: 'x' }, 4, 4 * Gi), node('b', { zone: 'x' }, 4, 4 * Gi), node('c', { zone: 'y' }, 4, 4 * Gi), node('d')];

describe('scorers', () => {
  it('spread: fewest replicas of the service on the node, relative to the fewest', () => {
    const web = replicas('shop/web', 4, 0, 0);
    const state = new ClusterState(nodes, [placed(web[0]!, 'a'), placed(web[1]!, 'a'), placed(web[2]!, 'b')]);
    const v = state.view(demandOf(web[3]!));
    v.minOnNode = 0;
    expect([0, 1, 2].map((i) => spread.score(i, v))).toEqual([98, 99, 100]);
    v.minOnNode = 1;
    expect(spread.score(1, v)).toBe(100);
  });

  it('least-allocated and binpack mirror each other, counting the replica itself, averaged over cpu and memory', () => {
    const [r] = replicas('shop/web', 1, 1, 1 * Gi);
    const state = new ClusterState(nodes, [placed(replicas('shop/db', 1, 2, 2 * Gi)[0]!, 'a')]);
    const v = state.view(demandOf(r!));
    expect(binpack.score(0, v)).toBe(75);
    expect(leastAllocated.score(0, v)).toBe(25);
    expect(binpack.score(1, v)).toBe(25);
    expect(leastAllocated.score(1, v)).toBe(75);
  });

  it('topology spread: fewest replicas in the node label value; a node without the label scores 0', () => {
    const p = placement({ topologySpreadKey: 'zone' });
    const web = replicas('shop/web', 3, 0, 0, p);
    const state = new ClusterState(nodes, [placed(web[0]!, 'a'), placed(web[1]!, 'b')]);
    const v = state.view(demandOf(web[2]!));
    expect(v.inDomain).toEqual(new Map([['x', 2]]));
    v.minInDomain = 0;
    expect([0, 1, 2, 3].map((i) => topologySpread.score(i, v))).toEqual([98, 98, 100, 0]);
  });

  it('every scorer stays within 0..100', () => {
    const web = replicas('shop/web', 200, 0.01, 1, placement({ topologySpreadKey: 'zone' }));
    const state = new ClusterState(nodes, web.slice(0, 150).map((r) => placed(r, 'a')));
    const v = state.view(demandOf(web[199]!));
    for (const s of [spread, leastAllocated, binpack, topologySpread]) for (let i = 0; i < nodes.length; i++) expect(s.score(i, v)).toSatisfy((x: number) => x >= 0 && x <= 100);
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
