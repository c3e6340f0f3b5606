import { describe, expect, it } from 'vitest';
import type { CommitInfo } from '../source/source.ts';
import { entryCount, formatMs, historyOf, renderHistoryText, type StatusVersion } from './history.ts';

const ready = (status: 'True' | 'False', reason: string, message = '') => ({ type: 'Ready' as const, status, reason, message, lastTransitionTime: 't' });
const stalled = (status: 'True' | 'False', reason = 'None') => ({ type: 'Stalled' as const, status, reason, message: '', lastTransitionTime: 't' });

function v(at: string, applied: string | null, latest: string | null, r: ReturnType<typeof ready>, opts: { stalled?: boolean; error?: string } = {}): StatusVersion {
  return {
    at: `2026-01-01T00:${at}.000Z`,
    doc: {
      revision: { applied, latest },
      conditions: [r, stalled(opts.stalled ? 'True' : 'False', opts.stalled ? 'ValidationFailed' : 'None')],
      lastError: opts.error ? { code: 'E_SCHEMA', message: opts.error, revision: latest } : null,
    },
  };
}

function commit(sha: string, at: string, subject = `commit ${sha}`): CommitInfo {
  return { sha, subject, author: { name: 'Ann', email: 'ann@example.test' }, committedAt: `2026-01-01T00:${at}.000Z`, parents: [] };
}

const A = 'a'.repeat(40);
const B = 'b'.repeat(40);
const C = 'c'.repeat(40);

describe('historyOf', () => {
  it('groups status versions into applied revisions, newest first, with the result of their last version and the time to Ready', () => {
    const versions = [
      v('00:05', A, A, ready('False', 'Progressing')),
      v('00:09', A, A, ready('True', 'Converged')),
      v('01:00', A, B, ready('True', 'Converged')), // B fetched, not applied yet: still A's run, A's result unchanged
      v('01:02', B, B, ready('False', 'Progressing')),
      v('01:30', B, B, ready('True', 'Converged')),
      v('02:00', B, B, ready('False', 'RolledBack', 'update rolled back')),
    ];
    const commits = new Map([[A, commit(A, '00:00')], [B, commit(B, '00:58')]]);
    const h = historyOf([...versions].reverse(), commits, 20);
    expect(h.map((e) => [e.revision, e.result, e.ready, e.current, e.durationMs])).toEqual([
      [B, 'RolledBack', false, true, 32_000],
      [A, 'Converged', true, false, 9_000],
    ]);
    expect(h[0]).toMatchObject({ since: '2026-01-01T00:01:02.000Z', readyAt: '2026-01-01T00:01:30.000Z', message: 'update rolled back', commit: { subject: `commit ${B}`, author: 'Ann' } });
  });

  it('shows a rejected revision as not applied, with its errors on one line, and the one before it as still current', () => {
    const versions = [
      v('00:05', A, A, ready('True', 'Converged')),
      v('00:20', A, B, ready('False', 'Stalled'), { stalled: true, error: '1 error(s) in manifests:\napp.yaml:5:13: spec.replicas: must be integer' }),
    ];
    const h = historyOf(versions, new Map([[A, commit(A, '00:00')]]), 20);
    expect(h[0]).toMatchObject({ revision: B, applied: false, result: 'ValidationFailed', ready: false, durationMs: null, commit: null, current: false, message: '1 error(s) in manifests: app.yaml:5:13: spec.replicas: must be integer' });
    expect(h[1]).toMatchObject({ revision: A, applied: true, current: true, durationMs: 5_000 });
  });

  it('a revision applied again is a new entry timed from when the entry before it began; no duration is negative; limit keeps the newest', () => {
    const versions = [
      v('00:05', A, A, ready('True', 'Converged')),
      v('01:00', B, B, ready('True', 'Converged')),
      v('03:00', A, A, ready('False', 'Progressing')),
      v('03:10', A, A, ready('True', 'Converged')),
      v('04:00', C, C, ready('True', 'Converged')),
    ];
    const commits = new Map([[A, commit(A, '00:00')], [B, commit(B, '02:00')], [C, commit(C, '05:00')]]);
    const h = historyOf(versions, commits, 20);
    expect(h.map((e) => [e.revision, e.durationMs])).toEqual([[C, 0], [A, 130_000], [B, 0], [A, 5_000]]);
    expect(historyOf(versions, commits, 2).map((e) => e.revision)).toEqual([C, A]);
    expect(entryCount([...versions].reverse())).toBe(4);
    expect(entryCount([])).toBe(0);
  });

  it('ignores versions before anything was applied or rejected', () => {
    expect(historyOf([v('00:01', null, A, ready('False', 'NoRevision'))], new Map(), 20)).toEqual([]);
  });
});

describe('renderHistoryText', () => {
  it('prints a table with the current revision starred, or says there is none', () => {
    const h = historyOf([v('00:05', A, A, ready('True', 'Converged'))], new Map([[A, commit(A, '00:00', 'first')]]), 20);
    const lines = renderHistoryText(h).split('\n');
    expect(lines[0]).toMatch(/^REVISION\s+COMMITTED\s+DURATION\s+RESULT\s+AUTHOR\s+SUBJECT$/);
    expect(lines[1]).toBe('aaaaaaa*  2026-01-01T00:00:00Z  5s        Converged  Ann     first');
    expect(renderHistoryText([])).toBe('no applied revision in the status branch yet');
    expect([formatMs(850), formatMs(12_400), formatMs(184_000), formatMs(7_500_000)]).toEqual(['850ms', '12s', '3m04s', '2h05m']);
  });
});
