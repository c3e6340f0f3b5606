import { describe, expect, it } from 'vitest';
import { RoundRobinBalancer } from './round-robin.ts';
import type { Endpoint } from './types.ts';

const eps = (...ids: string[]): Endpoint[] => ids.map((id) => ({ id, address: `${id}:80`, weight: 1 }));
const picks = (b: RoundRobinBalancer, n: number, exclude?: ReadonlySet<string>): string[] =>
  Array.from({ length: n }, () => b.pick(undefined, exclude)?.id ?? '-');

describe('round-robin', () => {
  it('goes through the endpoints in list order, ignoring weights', () => {
    const b = new RoundRobinBalancer([...eps('a', 'b'), { id: 'c', address: 'c:80', weight: 9 }]);
    expect(picks(b, 7)).toEqual(['a', 'b', 'c', 'a', 'b', 'c', 'a']);
  });

  it('is fair: over n picks each of k endpoints gets floor(n/k) or ceil(n/k)', () => {
    const b = new RoundRobinBalancer(eps('a', 'b', 'c', 'd', 'e', 'f', 'g'));
    const counts = new Map<string, number>();
    for (const id of picks(b, 1000)) counts.set(id, (counts.get(id) ?? 0) + 1);
    expect([...counts.values()].sort()).toEqual([142, 143, 143, 143, 143, 143, 143]);
  });

  it('skips excluded endpoints without losing its place', () => {
    const b = new RoundRobinBalancer(eps('a', 'b', 'c'));
    expect(picks(b, 4, new Set(['b']))).toEqual(['a', 'c', 'a', 'c']);
    expect(picks(b, 3)).toEqual(['a', 'b', 'c']);
  });

  it('continues with the endpoint that was due after an update', () => {
    const b = new RoundRobinBalancer(eps('a', 'b', 'c'));
    expect(picks(b, 1)).toEqual(['a']);
    b.update(eps('x', 'c', 'b'));
    expect(picks(b, 3)).toEqual(['b', 'x', 'c']);
    b.update(eps('y'));
    expect(picks(b, 2)).toEqual(['y', 'y']);
  });
});
