import { describe, expect, it } from 'vitest';
import type { ListenerInfo } from '../proxy/proxies.ts';
import { mergeListeners, sumNumbers } from './workers.ts';

const listener = (address: string, total: number, extra: Partial<ListenerInfo> = {}): ListenerInfo => ({
  address, kind: 'service', owners: ['ns/web'], protocol: 'tcp', backends: { 'ns/web': 2 }, stats: { active: 1, total, failedConnects: 0 }, ...extra,
});

describe('merging the workers of a proxy process', () => {
  it('sums the stats of one address and keeps backends and owners as one worker sees them', () => {
    const merged = mergeListeners([[listener('127.0.0.1:2', 5), listener('127.0.0.1:1', 1)], [listener('127.0.0.1:1', 2, { error: 'EADDRINUSE' })]]);
    expect(merged.map((l) => l.address)).toEqual(['127.0.0.1:1', '127.0.0.1:2']);
    expect(merged[0]).toMatchObject({ backends: { 'ns/web': 2 }, stats: { active: 2, total: 3, failedConnects: 0 }, error: 'EADDRINUSE' });
    expect(merged[1]!.stats).toEqual({ active: 1, total: 5, failedConnects: 0 });
  });

  it('sums numbers at any depth and keeps the rest from the first', () => {
    expect(sumNumbers({ name: 'a', open: 1, refused: { full: 2 } }, { name: 'b', open: 3, refused: { full: 1, perClient: 4 } } as never))
      .toEqual({ name: 'a', open: 4, refused: { full: 3, perClient: 4 } });
  });
});
