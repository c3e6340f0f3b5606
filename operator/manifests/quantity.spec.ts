import { describe, expect, it } from 'vitest';
import { BerthError } from '../model/errors.ts';
import { DURATION_PATTERN, formatDuration, formatMemory, parseCpu, parseDuration, parseMemory } from './quantity.ts';

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

describe('parseDuration', () => {
  it.each([
    ['500ms', 500],
    ['2s', 2000],
    ['1m', 60_000],
    ['1h', 3_600_000],
    ['1m30s', 90_000],
    ['1h2m3s4ms', 3_723_004],
    ['0s', 0],
    ['0ms', 0],
    ['90s', 90_000],
    [' 2s ', 2000],
    ['-1s', -1000],
    ['-0s', 0],
    [10, 10_000],
    [0, 0],
    [-3, -3000],
  ])('%j -> %d ms', (q, ms) => {
    expect(parseDuration(q)).toBe(ms);
  });

  it.each(['', 'soon', 's', 'ms', '-', '10', '1.5s', '2 s', '30s1m', '1s1s', '5S', '1d', 'm30s', '+1s', '99999999999999999999h'])('rejects %j with E_SCHEMA', (q) => {
    expect(() => parseDuration(q)).toThrowError(BerthError);
    try {
      parseDuration(q);
    } catch (err) {
      expect((err as BerthError).code).toBe('E_SCHEMA');
    }
  });

  it('rejects fractional, non-finite and unsafe numbers of seconds', () => {
    for (const n of [1.5, Number.NaN, Number.POSITIVE_INFINITY, Number.MAX_SAFE_INTEGER]) expect(() => parseDuration(n)).toThrowError(BerthError);
  });

  it('agrees with the schema pattern on which strings are durations', () => {
    const re = new RegExp(DURATION_PATTERN, 'u');
    for (const q of ['500ms', '1m30s', '-1s', '0s']) expect(re.test(q)).toBe(true);
    for (const q of ['soon', '10', '1.5s', '30s1m', '-', '']) expect(re.test(q)).toBe(false);
  });
});

describe('formatDuration', () => {
  it.each([
    [0, '0s'],
    [500, '500ms'],
    [1500, '1s500ms'],
    [90_000, '1m30s'],
    [3_600_000, '1h'],
    [-2000, '-2s'],
  ])('%d ms -> %s', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
    expect(parseDuration(text)).toBe(ms);
  });
});

describe('formatMemory', () => {
  it.each([
    [64 * 2 ** 30, '64Gi'],
    [2 ** 40, '1Ti'],
    [1536 * 2 ** 20, '1536Mi'],
    [2048, '2Ki'],
    [1000, '1000'],
    [0, '0'],
  ])('%d bytes -> %s', (bytes, text) => {
    expect(formatMemory(bytes)).toBe(text);
    expect(parseMemory(text)).toBe(bytes);
  });
});
