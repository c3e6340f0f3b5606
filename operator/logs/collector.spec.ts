import { describe, expect, it } from 'vitest';
import { ResumeFilter, secondsOf } from './collector.ts';
import type { NewLine } from './store.ts';

const l = (ts: number, text: string): NewLine => ({ ts, stream: 'stdout', text });

describe('ResumeFilter', () => {
  it('drops what the engine resends from the cursor: earlier lines and the first n at its time, then nothing', () => {
    const f = new ResumeFilter({ ts: 100, n: 2 });
    expect(f.filter([l(99, 'old'), l(100, 'a'), l(100, 'b')]).map((x) => x.text)).toEqual([]);
    expect(f.filter([l(100, 'c'), l(100, 'd'), l(101, 'e')]).map((x) => x.text)).toEqual(['c', 'd', 'e']);
    // Past the start of the stream, lines at any time are new.
    expect(f.filter([l(101, 'f'), l(100, 'g')]).map((x) => x.text)).toEqual(['f', 'g']);
  });

  it('passes everything without a cursor, and lines of one microsecond in several chunks', () => {
    const f = new ResumeFilter(undefined);
    expect(f.filter([l(5, 'a'), l(5, 'b')]).length).toBe(2);
    expect(f.filter([l(5, 'c')]).length).toBe(1);
  });

  it('writes the engine\'s since with microseconds', () => {
    expect(secondsOf(1_764_000_000_123_456)).toBe('1764000000.123456');
    expect(secondsOf(5)).toBe('0.000005');
  });
});
