import { describe, expect, it } from 'vitest';
import { BerthError } from '../../model/errors.ts';
import { createBalancer } from './create-balancer.ts';
import { mulberry32 } from './prng.ts';
import { ALGORITHMS, type Endpoint } from './types.ts';

const nodes = (n: number): Endpoint[] => Array.from({ length: n }, (_, i) => ({ id: `r${i}`, address: `10.0.0.${i}:80`, weight: 1 + (i % 3) }));

describe.each(ALGORITHMS)('%s (through createBalancer)', (algorithm) => {
  const variants = algorithm === 'consistent-hash' ? [{}, { boundedLoad: 1.25 }] : [{}];

  it('returns undefined with no endpoints, with or without a key', () => {
    const b = createBalancer(algorithm, []);
    expect(b.pick()).toBeUndefined();
    expect(b.pick({ key: 'k' })).toBeUndefined();
    b.update(nodes(2));
    b.update([]);
    expect(b.pick({ key: 'k' })).toBeUndefined();
  });

  it('never returns an excluded endpoint and returns one whenever any is left', () => {
    for (const opts of variants) {
      const rand = mulberry32(99);
      const b = createBalancer(algorithm, nodes(8), opts);
      for (let i = 0; i < 2000; i++) {
        const exclude = new Set(nodes(8).filter(() => rand() < 0.6).map((e) => e.id));
        const ctx = rand() < 0.5 ? { key: `k${i}` } : undefined;
        const picked = b.pick(ctx, exclude);
        if (exclude.size === 8) expect(picked).toBeUndefined();
        else expect(picked && !exclude.has(picked.id)).toBe(true);
        if (picked && rand() < 0.7) b.acquire(picked.id);
      }
    }
  });

  it('returns the only endpoint left when all others are excluded', () => {
    const b = createBalancer(algorithm, nodes(5));
    const exclude = new Set(['r0', 'r1', 'r2', 'r4']);
    for (let i = 0; i < 10; i++) expect(b.pick({ key: `k${i}` }, exclude)?.id).toBe('r3');
    expect(b.pick(undefined, exclude)?.id).toBe('r3');
  });

  it('ignores a duplicate id (the first one wins)', () => {
    const b = createBalancer(algorithm, [{ id: 'a', address: 'a:1', weight: 1 }, { id: 'a', address: 'a:2', weight: 1 }]);
    for (let i = 0; i < 4; i++) expect(b.pick({ key: `k${i}` })?.address).toBe('a:1');
  });
});

describe('createBalancer options', () => {
  it('rejects bad options with E_CONFIG', () => {
    const bad = [{ vnodesPerWeight: 0 }, { vnodesPerWeight: 1.5 }, { vnodesPerWeight: 20_000 }, { boundedLoad: 0.9 }, { boundedLoad: Number.NaN }];
    for (const opts of bad) {
      expect(() => createBalancer('consistent-hash', nodes(2), opts)).toThrow(expect.objectContaining({ code: 'E_CONFIG' }));
    }
    expect(() => createBalancer('random' as never, nodes(2))).toThrow(BerthError);
  });
});
