import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { BerthError } from '../model/errors.ts';
import type { GitSource } from '../source/source.ts';
import { FetchMetrics, timedSource } from './source.ts';

describe('git fetch metrics', () => {
  it('times head() and resolve(), counts failures by code, and passes every other call through', async () => {
    const registry = new Registry();
    const fetches = new FetchMetrics(registry);
    let fail = false;
    const calls: string[] = [];
    const git = {
      description: 'repo', head: async () => { if (fail) throw new BerthError('E_GIT', 'unreachable'); return 'sha'; },
      resolve: async (ref: string) => ref, listBranches: async () => { calls.push('listBranches'); return []; },
    } as unknown as GitSource;
    const timed = timedSource(git, (s, err) => fetches.record(s, err));
    expect(await timed.head()).toBe('sha');
    expect(await timed.resolve('main')).toBe('main');
    fail = true;
    await expect(timed.head()).rejects.toMatchObject({ code: 'E_GIT' });
    await timed.listBranches();
    expect(timed.description).toBe('repo');
    expect(calls).toEqual(['listBranches']);
    const text = await registry.metrics();
    expect(text).toContain('berth_source_fetch_duration_seconds_count 3\n');
    expect(text).toContain('berth_source_fetch_errors_total{code="E_GIT"} 1\n');
  });
});
