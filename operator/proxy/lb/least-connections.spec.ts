import { describe, expect, it } from 'vitest';
import { LeastConnectionsBalancer } from './least-connections.ts';
import { mulberry32, randomInt } from './prng.ts';
import type { Endpoint } from './types.ts';

const weighted = (weights: number[]): Endpoint[] => weights.map((weight, i) => ({ id: `e${i}`, address: `10.0.0.${i}:80`, weight }));
const open = (b: LeastConnectionsBalancer, id: string, n: number): void => {
  for (let i = 0; i < n; i++) b.acquire(id);
};

describe('least-connections', () => {
  it('is round-robin while nothing is in flight', () => {
    const b = new LeastConnectionsBalancer(weighted([1, 1, 1]));
    expect(Array.from({ length: 5 }, () => b.pick()!.id)).toEqual(['e0', 'e1', 'e2', 'e0', 'e1']);
  });

  it('picks the endpoint with the fewest connections in flight, ties in round-robin order', () => {
    const b = new LeastConnectionsBalancer(weighted([1, 1, 1, 1]));
    open(b, 'e0', 3);
    open(b, 'e1', 1);
    open(b, 'e2', 2);
    open(b, 'e3', 1);
    expect(b.pick()!.id).toBe('e1');
    expect(b.pick()!.id).toBe('e3');
    b.acquire('e1');
    expect(b.pick()!.id).toBe('e3');
  });

  it('compares in-flight per unit of weight', () => {
    const b = new LeastConnectionsBalancer(weighted([3, 1]));
    open(b, 'e0', 2);
    open(b, 'e1', 1);
    expect(b.pick()!.id).toBe('e0');
    open(b, 'e0', 1);
    expect(b.pick()!.id).toBe('e1'); // 3/3 ties 1/1: round-robin order, e1 comes after e0
    open(b, 'e1', 1);
    expect(b.pick()!.id).toBe('e0');
  });

  it('always picks a minimum of in-flight/weight under random opens and closes', () => {
    const rand = mulberry32(3);
    const weights = Array.from({ length: 9 }, () => randomInt(rand, 1, 4));
    const b = new LeastConnectionsBalancer(weighted(weights));
    const live: string[] = [];
    for (let step = 0; step < 5000; step++) {
      if (live.length > 0 && rand() < 0.45) {
        b.release(live.splice(randomInt(rand, 0, live.length - 1), 1)[0]!);
        continue;
      }
      const picked = b.pick()!;
      const min = Math.min(...weights.map((w, i) => b.load(`e${i}`) / w));
      expect(b.load(picked.id) / picked.weight).toBe(min);
      b.acquire(picked.id);
      live.push(picked.id);
    }
  });

  it('never counts below zero, ignores unknown ids and keeps counts through an update', () => {
    const b = new LeastConnectionsBalancer(weighted([1, 1]));
    b.release('e0');
    b.acquire('nope');
    expect(b.load('e0')).toBe(0);
    open(b, 'e0', 2);
    b.update([...weighted([1, 1, 1])].reverse());
    expect(b.load('e0')).toBe(2);
    expect(b.pick(undefined, new Set(['e2', 'e1']))!.id).toBe('e0');
  });
});
