import { describe, expect, it } from 'vitest';
import { BerthError } from '../model/errors.ts';
import { parseCpu, parseMemory } from './quantity.ts';

describe('parseMemory', () => {
  it.each([
    ['64Mi', 64 * 1024 * 1024],
    ['1Gi', 1024 ** 3],
    ['2Ki', 2048],
    ['1Ti', 1024 ** 4],
    ['512M', 512_000_000],
    ['1G', 1_000_000_000],
    ['100k', 100_000],
    ['1.5Gi', 1.5 * 1024 ** 3],
    ['1048576', 1_048_576],
    [' 64Mi ', 64 * 1024 * 1024],
    [67108864, 67_108_864],
    [0, 0],
  ])('%j -> %d bytes', (q, bytes) => {
    expect(parseMemory(q)).toBe(bytes);
  });

  it.each(['', 'Mi', '64MB', '64mi', '-1', '1e6', '64 Mi', 'lots'])('rejects %j with E_SCHEMA', (q) => {
    expect(() => parseMemory(q)).toThrowError(BerthError);
    try {
      parseMemory(q);
    } catch (err) {
      expect((err as BerthError).code).toBe('E_SCHEMA');
    }
  });

  it('rejects negative, fractional and unsafe numbers', () => {
    for (const n of [-1, 1.5, Number.MAX_SAFE_INTEGER + 2, Number.NaN]) expect(() => parseMemory(n)).toThrowError(BerthError);
  });
});

describe('parseCpu', () => {
  it.each([
    ['250m', 0.25],
    ['1500m', 1.5],
    ['2', 2],
    ['0.5', 0.5],
    [0.25, 0.25],
  ])('%j -> %d CPUs', (q, cpus) => {
    expect(parseCpu(q)).toBe(cpus);
  });

  it('rejects malformed values', () => {
    for (const q of ['m', '1.5m', 'two', '-1']) expect(() => parseCpu(q)).toThrowError(BerthError);
  });
});
