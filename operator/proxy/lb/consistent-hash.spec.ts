import { describe, expect, it } from 'vitest';
import { ConsistentHashBalancer } from './consistent-hash.ts';
import { mulberry32 } from './prng.ts';
import type { Endpoint } from './types.ts';

const N = 10;
const KEYS = 100_000;
const nodes = (n: number, weight = 1): Endpoint[] => Array.from({ length: n }, (_, i) => ({ id: `web-${i}`, address: `10.0.0.${i}:8080`, weight }));
const keys = Array.from({ length: KEYS }, (_, i) => `user-${i}`);
const assign = (b: ConsistentHashBalancer): string[] => keys.map((key) => b.pick({ key })!.id);
const tally = (ids: readonly string[]): Map<string, number> => {
  const m = new Map<string, number>();
  for (const id of ids) m.set(id, (m.get(id) ?? 0) + 1);
  return m;
};

describe('consistent hashing (ring, 160 points per weight unit)', () => {
  it('removing 1 of N endpoints moves between 0.5/N and 1.5/N of keys, and none whose endpoint stayed', () => {
    const b = new ConsistentHashBalancer(nodes(N));
    const before = assign(b);
    b.update(nodes(N).filter((e) => e.id !== 'web-3'));
    const after = assign(b);
    const moved = before.filter((id, k) => after[k] !== id).length;
    const strayed = before.filter((id, k) => id !== 'web-3' && after[k] !== id).length;
    expect(strayed).toBe(0);
    expect(moved / KEYS).toBeGreaterThan(0.5 / N);
    expect(moved / KEYS).toBeLessThan(1.5 / N);
    b.update(nodes(N));
    expect(assign(b)).toEqual(before);
  });

  it('spreads keys within max/mean <= 1.3 at 160 points per weight unit', () => {
    const counts = [...tally(assign(new ConsistentHashBalancer(nodes(N)))).values()];
    expect(counts).toHaveLength(N);
    expect(Math.max(...counts) / (KEYS / N)).toBeLessThanOrEqual(1.3);
  });

  it('gives an endpoint of weight 2 about twice the keys (1.6x to 2.4x the mean of the others)', () => {
    const eps = nodes(N);
    eps[0] = { ...eps[0]!, weight: 2 };
    const counts = tally(assign(new ConsistentHashBalancer(eps)));
    const othersMean = (KEYS - counts.get('web-0')!) / (N - 1);
    expect(counts.get('web-0')! / othersMean).toBeGreaterThan(1.6);
    expect(counts.get('web-0')! / othersMean).toBeLessThan(2.4);
  });

  it('keeps the ring points of unchanged endpoints through updates, whatever the list order', () => {
    const b = new ConsistentHashBalancer(nodes(4));
    const points = b.ringPoints('web-1');
    expect(points).toHaveLength(160);
    b.update([...nodes(6)].reverse().filter((e) => e.id !== 'web-2'));
    expect(b.ringPoints('web-1')).toEqual(points);
    expect(b.ringPoints('web-2')).toEqual([]);
    b.update(nodes(4).map((e) => ({ ...e, weight: e.id === 'web-1' ? 2 : 1 })));
    expect(b.ringPoints('web-1').slice(0, 160)).toEqual(points);
    expect(b.ringPoints('web-1')).toHaveLength(320);
  });

  it('maps keys the same way whatever the order of the endpoint list', () => {
    const rand = mulberry32(5);
    const shuffled = nodes(N).map((e) => ({ e, r: rand() })).sort((a, b) => a.r - b.r).map(({ e }) => e);
    const a = new ConsistentHashBalancer(nodes(N));
    const b = new ConsistentHashBalancer(shuffled);
    expect(keys.slice(0, 5000).map((key) => b.pick({ key })!.id)).toEqual(keys.slice(0, 5000).map((key) => a.pick({ key })!.id));
  });

  it('moves only the keys of an excluded endpoint, to the next point on the ring', () => {
    const b = new ConsistentHashBalancer(nodes(N));
    const before = assign(b);
    const exclude = new Set(['web-5']);
    const after = keys.map((key) => b.pick({ key }, exclude)!.id);
    expect(after.filter((id) => id === 'web-5')).toEqual([]);
    expect(after.filter((id, k) => before[k] !== 'web-5' && id !== before[k])).toEqual([]);
  });

  it('falls back to round-robin without a key', () => {
    const b = new ConsistentHashBalancer(nodes(3));
    expect(Array.from({ length: 4 }, () => b.pick()!.id)).toEqual(['web-0', 'web-1', 'web-2', 'web-0']);
    expect(b.pick({}, new Set(['web-1']))!.id).toBe('web-2');
  });
});

describe('consistent hashing with bounded loads (factor 1.25)', () => {
  it('keeps every endpoint at or under ceil(1.25 × mean) + 1 when connections are never released', () => {
    const b = new ConsistentHashBalancer(nodes(N), { boundedLoad: 1.25 });
    const rand = mulberry32(11);
    const total = 20_000;
    for (let i = 0; i < total; i++) b.acquire(b.pick({ key: `k${Math.floor(rand() * 1e9)}` })!.id);
    const loads = nodes(N).map((e) => b.load(e.id));
    expect(loads.reduce((a, l) => a + l, 0)).toBe(total);
    expect(Math.max(...loads)).toBeLessThanOrEqual(Math.ceil(1.25 * (total / N)) + 1);
  });

  it('spreads one hot key over the ring instead of piling it on its owner', () => {
    const b = new ConsistentHashBalancer(nodes(N), { boundedLoad: 1.25 });
    const home = b.pick({ key: 'hot' })!.id;
    for (let i = 0; i < 1000; i++) b.acquire(b.pick({ key: 'hot' })!.id);
    expect(b.load(home)).toBeLessThanOrEqual(Math.ceil(1.25 * 100) + 1);
    expect(nodes(N).every((e) => b.load(e.id) <= 126)).toBe(true);
  });

  it('sends a key home again once its owner has room, and is plain consistent hashing at no load', () => {
    const plain = new ConsistentHashBalancer(nodes(N));
    const b = new ConsistentHashBalancer(nodes(N), { boundedLoad: 1.25 });
    expect(keys.slice(0, 2000).map((key) => b.pick({ key })!.id)).toEqual(keys.slice(0, 2000).map((key) => plain.pick({ key })!.id));
    const home = b.pick({ key: 'k' })!.id;
    for (let i = 0; i < 5; i++) b.acquire(home);
    expect(b.pick({ key: 'k' })!.id).not.toBe(home);
    for (let i = 0; i < 5; i++) b.release(home);
    expect(b.pick({ key: 'k' })!.id).toBe(home);
  });

  it('gives way to the bound rather than fail when every endpoint left is full', () => {
    const b = new ConsistentHashBalancer(nodes(2), { boundedLoad: 1 });
    for (let i = 0; i < 10; i++) b.acquire('web-0');
    expect(b.pick({ key: 'x' }, new Set(['web-1']))!.id).toBe('web-0');
    expect(b.pick({ key: 'x' })!.id).toBe('web-1');
  });

  it('keeps in-flight counts of endpoints that stay through an update, drops the others', () => {
    const b = new ConsistentHashBalancer(nodes(3), { boundedLoad: 1.25 });
    b.acquire('web-0');
    b.acquire('web-1');
    b.update(nodes(3).filter((e) => e.id !== 'web-1'));
    expect([b.load('web-0'), b.load('web-1')]).toEqual([1, 0]);
    b.release('web-1');
    b.release('web-0');
    b.release('web-0');
    expect(b.load('web-0')).toBe(0);
  });
});
