import { describe, expect, it } from 'vitest';
import { connectionBudget, FALLBACK_NOFILE, parseNoFileLimit, readNoFileLimit, reservedDescriptors } from './fd-budget.ts';

const LIMITS = `Limit                     Soft Limit           Hard Limit           Units
Max cpu time              unlimited            unlimited            seconds
Max open files            20000                40000                files
Max locked memory         8388608              8388608              bytes
`;

describe('descriptor budget', () => {
  it('reads the soft RLIMIT_NOFILE from /proc/<pid>/limits', () => {
    expect(parseNoFileLimit(LIMITS)).toBe(20_000);
    expect(parseNoFileLimit(LIMITS.replace('20000 ', 'unlimited '))).toBe(Infinity);
    expect(parseNoFileLimit('nothing here')).toBeUndefined();
    expect(readNoFileLimit(() => { throw new Error('ENOENT'); })).toBe(FALLBACK_NOFILE);
    expect(readNoFileLimit()).toBeGreaterThan(0); // this process's, on Linux
  });

  it('keeps max(256, 25 %) descriptors and gives the listeners half of the rest (two per proxied connection)', () => {
    expect(reservedDescriptors(1024)).toBe(256);
    expect(reservedDescriptors(20_000)).toBe(5_000);
    expect(connectionBudget(1024)).toBe(384);
    expect(connectionBudget(20_000)).toBe(7_500);
    expect(connectionBudget(1_048_576)).toBe(16_384);
    expect(connectionBudget(Infinity)).toBe(16_384);
    expect(connectionBudget(200)).toBe(1);
  });
});
