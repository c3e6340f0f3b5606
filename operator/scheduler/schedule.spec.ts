import { describe, expect, it } from 'vitest';
import { Gi, Mi, node, placed, placement, replicas } from '../../test/doubles/scheduler-fixtures.ts';
import { schedule } from './schedule.ts';
import type { ScheduleResult, SchedNode } from './types.ts';

const three = [node('n1'), node('n2'), node('n3')];

function perNode(res: ScheduleResult): Record<string, number> {
  const out: Record<string, number> = {};
  for (const a of res.assignments) out[a.node] = (out[a.node] ?? 0) + 1;
  return out;
}

/** Deterministic Fisher-Yates with a small LCG. */
function shuffled<T>(xs: readonly T[], seed: number): T[] {
  const out = [...xs];
  let s = seed;
  for (let i = out.length - 1; i > 0; i--) {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

describe('schedule', () => {
  it('spreads 9 replicas evenly across 3 nodes, ties broken by node name', () => {
    const res = schedule({ nodes: three, placed: [], pending: replicas('shop/web', 9, 0.1, 64 * Mi) });
    expect(perNode(res)).toEqual({ n1: 3, n2: 3, n3: 3 });
    expect(res.assignments.slice(0, 3).map((a) => a.node)).toEqual(['n1', 'n2', 'n3']);
    expect(res.unschedulable).toEqual([]);
  });

  it('spread prefers the node with fewest replicas of the service, then the least allocated', () => {
    const busy = replicas('shop/db', 1, 3, 1 * Gi).map((r) => placed(r, 'n1'));
    const res = schedule({ nodes: three, placed: busy, pending: replicas('shop/web', 2, 0.5, 64 * Mi) });
    expect(res.assignments.map((a) => a.node)).toEqual(['n2', 'n3']);
  });

  it('binpack fills one node before the next', () => {
    const res = schedule({ nodes: three, placed: [], pending: replicas('shop/batch', 6, 1, 1 * Gi, placement({ strategy: 'binpack' })) });
    expect(res.assignments.map((a) => a.node)).toEqual(['n1', 'n1', 'n1', 'n1', 'n2', 'n2']);
  });

  it('binpack picks the most allocated node that still fits', () => {
    const running = [placed(replicas('shop/db', 1, 3, 1 * Gi)[0]!, 'n2')];
    const res = schedule({ nodes: three, placed: running, pending: replicas('shop/batch', 2, 1, 1 * Gi, placement({ strategy: 'binpack' })) });
    expect(res.assignments.map((a) => a.node)).toEqual(['n2', 'n1']);
  });

  it('honours constraints and explains, per reason over all nodes, why nothing fits', () => {
    const nodes = [node('n1', { zone: 'a' }, 4, 1 * Gi), node('n2', { zone: 'a' }, 4, 1 * Gi), node('n3', { zone: 'b' }, 4, 8 * Gi)];
    const p = placement({ constraints: ['node.labels.zone == a'] });
    const ok = schedule({ nodes, placed: [], pending: replicas('shop/web', 2, 0.1, 512 * Mi, p) });
    expect(ok.assignments.map((a) => a.node)).toEqual(['n1', 'n2']);
    const res = schedule({ nodes, placed: [], pending: replicas('shop/web', 1, 0.1, 2 * Gi, p) });
    expect(res.assignments).toEqual([]);
    expect(res.unschedulable).toEqual([{ service: 'shop/web', replica: 0, reason: '0/3 nodes available: 2 insufficient memory, 1 node.labels.zone == a not met' }]);
  });

  it('explains not-ready and cordoned nodes, and an empty cluster', () => {
    const nodes: SchedNode[] = [node('n1', {}, 4, Gi, { ready: false }), node('n2', {}, 4, Gi, { schedulable: false }), node('n3', {}, 0.5, Gi)];
    const res = schedule({ nodes, placed: [], pending: replicas('shop/web', 1, 1, Mi) });
    expect(res.unschedulable[0]!.reason).toBe('0/3 nodes available: 1 insufficient cpu, 1 node not ready, 1 node unschedulable');
    expect(schedule({ nodes: [], placed: [], pending: replicas('shop/web', 1, 1, Mi) }).unschedulable[0]!.reason).toBe('0/0 nodes available: no nodes');
  });

  it('counts assignments made earlier in the same call against capacity', () => {
    const res = schedule({ nodes: [node('n1', {}, 2, 4 * Gi)], placed: [], pending: replicas('shop/web', 3, 1, Gi) });
    expect(res.assignments.length).toBe(2);
    expect(res.unschedulable).toEqual([{ service: 'shop/web', replica: 2, reason: '0/1 nodes available: 1 insufficient cpu' }]);
  });

  it('maxPerNode caps replicas of the service per node', () => {
    const p = placement({ strategy: 'binpack', maxPerNode: 2 });
    const running = [placed(replicas('shop/web', 1, 0.1, Mi, p)[0]!, 'n1')];
    const pending = replicas('shop/web', 7, 0.1, Mi, p).slice(1);
    const res = schedule({ nodes: three, placed: running, pending });
    expect(perNode(res)).toEqual({ n1: 1, n2: 2, n3: 2 });
    expect(res.unschedulable[0]!.reason).toBe('0/3 nodes available: 3 maxPerNode 2 reached');
  });

  it('topology spread balances zones before nodes', () => {
    // Zone a has three nodes, zone b one: per-node spread alone would put 3 of 4 replicas in zone a.
    const nodes = [node('a1', { zone: 'a' }), node('a2', { zone: 'a' }), node('a3', { zone: 'a' }), node('b1', { zone: 'b' })];
    const p = placement({ topologySpreadKey: 'zone' });
    const res = schedule({ nodes, placed: [], pending: replicas('shop/web', 4, 0.1, Mi, p) });
    expect(perNode(res)).toEqual({ a1: 1, a2: 1, b1: 2 });
    const plain = schedule({ nodes, placed: [], pending: replicas('shop/web', 4, 0.1, Mi) });
    expect(perNode(plain)).toEqual({ a1: 1, a2: 1, a3: 1, b1: 1 });
  });

  it('topology spread counts replicas already placed and skips a full zone', () => {
    const nodes = [node('a1', { zone: 'a' }), node('b1', { zone: 'b' }, 4, 8 * Gi), node('c1', { zone: 'c' }, 0.1, Gi)];
    const p = placement({ topologySpreadKey: 'zone' });
    const web = replicas('shop/web', 4, 0.5, Mi, p);
    const res = schedule({ nodes, placed: [placed(web[0]!, 'a1')], pending: web.slice(1) });
    expect(res.assignments.map((a) => a.node)).toEqual(['b1', 'a1', 'b1']);
  });

  it('places higher priorities first, then by service and replica', () => {
    const low = replicas('a/low', 2, 1, Gi);
    const high = replicas('z/high', 2, 1, Gi, placement({ priority: 5 }));
    const res = schedule({ nodes: [node('n1', {}, 3, 8 * Gi)], placed: [], pending: [...low, ...high] });
    expect(res.assignments.map((a) => `${a.service}#${a.replica}`)).toEqual(['z/high#0', 'z/high#1', 'a/low#0']);
    expect(res.unschedulable.map((u) => `${u.service}#${u.replica}`)).toEqual(['a/low#1']);
  });

  it('is deterministic: shuffled nodes, placed and pending give the same result', () => {
    const nodes = Array.from({ length: 12 }, (_, i) => node(`n${String(i).padStart(2, '0')}`, { zone: 'abc'[i % 3]! }, 2 + (i % 3), (2 + (i % 2)) * Gi));
    const pending = [
      ...replicas('shop/web', 10, 0.3, 256 * Mi, placement({ topologySpreadKey: 'zone' })),
      ...replicas('shop/batch', 10, 0.7, 512 * Mi, placement({ strategy: 'binpack', priority: 3 })),
      ...replicas('shop/api', 10, 0.1, 100 * Mi, placement({ constraints: ['node.labels.zone != b'], maxPerNode: 1 })),
      ...replicas('shop/vip', 4, 1.5, Gi, placement({ priority: 50 })),
    ];
    const running = replicas('shop/old', 12, 0.3, 333 * Mi).map((r, i) => placed(r, `n${String(i).padStart(2, '0')}`));
    const base = schedule({ nodes, placed: running, pending });
    expect(base.assignments.length).toBeGreaterThan(20);
    for (const seed of [1, 2, 3]) {
      expect(schedule({ nodes: shuffled(nodes, seed), placed: shuffled(running, seed + 10), pending: shuffled(pending, seed + 20) })).toEqual(base);
    }
  });

  it('is deterministic under preemption too', () => {
    const nodes = Array.from({ length: 6 }, (_, i) => node(`n${i}`, { zone: 'ab'[i % 2]! }, 2, 2 * Gi));
    const running = [
      ...replicas('a/filler', 12, 0.5, 256 * Mi, placement({ priority: 0 })),
      ...replicas('b/filler', 12, 0.5, 256 * Mi, placement({ priority: 5 })),
    ].map((r, i) => placed(r, `n${i % 6}`));
    const pending = [...replicas('shop/vip', 5, 1, 512 * Mi, placement({ priority: 20, topologySpreadKey: 'zone' })), ...replicas('shop/mid', 3, 0.5, Mi, placement({ priority: 12 }))];
    const base = schedule({ nodes, placed: running, pending });
    expect(base.evictions.length).toBeGreaterThan(5);
    for (const seed of [4, 5, 6]) {
      expect(schedule({ nodes: shuffled(nodes, seed), placed: shuffled(running, seed + 10), pending: shuffled(pending, seed + 20) })).toEqual(base);
    }
  });

  it('does not touch its input', () => {
    const input = { nodes: three, placed: [placed(replicas('x/a', 1, 1, Gi)[0]!, 'n1')], pending: replicas('shop/web', 3, 1, Gi) };
    const copy = structuredClone(input);
    schedule(input);
    expect(input).toEqual(copy);
  });
});
