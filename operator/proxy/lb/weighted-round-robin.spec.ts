import { describe, expect, it } from 'vitest';
import { mulberry32, randomInt } from './prng.ts';
import type { Endpoint } from './types.ts';
import { WeightedRoundRobinBalancer } from './weighted-round-robin.ts';

const weighted = (weights: number[]): Endpoint[] => weights.map((weight, i) => ({ id: `e${i}`, address: `10.0.0.${i}:80`, weight }));
const picks = (b: WeightedRoundRobinBalancer, n: number, exclude?: ReadonlySet<string>): string[] =>
  Array.from({ length: n }, () => b.pick(undefined, exclude)?.id ?? '-');

/** Random weight sets: 2..8 endpoints of weight 1..10, from a fixed seed. */
function weightSets(seed: number, count: number): number[][] {
  const rand = mulberry32(seed);
  return Array.from({ length: count }, () => Array.from({ length: randomInt(rand, 2, 8) }, () => randomInt(rand, 1, 10)));
}

describe('smooth weighted round-robin (nginx)', () => {
  it('gives a a b a c a a for weights 5, 1, 1, cycle after cycle', () => {
    const b = new WeightedRoundRobinBalancer([
      { id: 'a', address: 'a:80', weight: 5 }, { id: 'b', address: 'b:80', weight: 1 }, { id: 'c', address: 'c:80', weight: 1 },
    ]);
    const cycle = ['a', 'a', 'b', 'a', 'c', 'a', 'a'];
    expect(picks(b, 14)).toEqual([...cycle, ...cycle]);
  });

  it('breaks ties by list order, so equal weights are plain round-robin', () => {
    expect(picks(new WeightedRoundRobinBalancer(weighted([2, 2, 2])), 6)).toEqual(['e0', 'e1', 'e2', 'e0', 'e1', 'e2']);
  });

  it('picks each endpoint exactly `weight` times per cycle of sum(weights) picks', () => {
    for (const weights of weightSets(42, 25)) {
      const b = new WeightedRoundRobinBalancer(weighted(weights));
      const total = weights.reduce((a, w) => a + w, 0);
      for (let cycle = 0; cycle < 3; cycle++) {
        const counts = weights.map(() => 0);
        for (const id of picks(b, total)) counts[Number(id.slice(1))]! += 1;
        expect(counts).toEqual(weights);
      }
    }
  });

  it('is smooth: in the first n picks, n·w/W - (k-1) < picks(w) <= ceil(n·w/W)', () => {
    for (const weights of weightSets(7, 25)) {
      const b = new WeightedRoundRobinBalancer(weighted(weights));
      const total = weights.reduce((a, w) => a + w, 0);
      const k = weights.length;
      const counts = weights.map(() => 0);
      for (let n = 1; n <= 3 * total; n++) {
        counts[Number(b.pick()!.id.slice(1))]! += 1;
        weights.forEach((w, i) => {
          expect(counts[i]!).toBeLessThanOrEqual(Math.ceil((n * w) / total));
          expect(counts[i]! * total).toBeGreaterThan(n * w - (k - 1) * total);
        });
      }
    }
  });

  it('leaves excluded endpoints out of the round and keeps exact proportions among the rest', () => {
    const b = new WeightedRoundRobinBalancer(weighted([5, 3, 2]));
    const counts = new Map<string, number>();
    for (const id of picks(b, 10 * 5, new Set(['e0']))) counts.set(id, (counts.get(id) ?? 0) + 1);
    expect(Object.fromEntries(counts)).toEqual({ e1: 30, e2: 20 });
  });

  it('keeps the current weights of endpoints that stay through an update', () => {
    const a = new WeightedRoundRobinBalancer(weighted([5, 1, 1]));
    const b = new WeightedRoundRobinBalancer(weighted([5, 1, 1]));
    picks(a, 3);
    picks(b, 3);
    b.update(weighted([5, 1, 1]));
    expect(picks(b, 11)).toEqual(picks(a, 11));
  });

  it('counts a weight below 1 or not an integer as a positive integer', () => {
    const b = new WeightedRoundRobinBalancer(weighted([0, 2.7, Number.NaN]));
    const counts = new Map<string, number>();
    for (const id of picks(b, 4)) counts.set(id, (counts.get(id) ?? 0) + 1);
    expect(Object.fromEntries(counts)).toEqual({ e0: 1, e1: 2, e2: 1 });
  });
});
