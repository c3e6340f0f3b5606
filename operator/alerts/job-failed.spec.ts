import { describe, expect, it } from 'vitest';
import { jobFailedAlert, reconcilerAlert } from './events.ts';

describe('job-failed alerts', () => {
  const failure = { job: 'ns/migrate', kind: 'Job' as const, run: 'abc123', reason: 'BackoffLimitExceeded' as const, failed: 2, exitCode: 3, node: 'n1', container: 'c', output: ['line 1', 'line 2'] };

  it('one alert per run: its key names the run; the fields carry reason, exit code, node and the output', () => {
    const a = jobFailedAlert(failure);
    expect(a).toMatchObject({
      kind: 'job-failed', severity: 'critical', key: 'job-failed:Job:ns/migrate@abc123', title: 'Job failed: ns/migrate',
      fields: { job: 'ns/migrate', kind: 'Job', run: 'abc123', reason: 'BackoffLimitExceeded', exitCode: '3', node: 'n1', failed: '2', output: 'line 1\nline 2' },
    });
    expect(a.text).toBe('job ns/migrate run abc123 failed: BackoffLimitExceeded (2 failed attempt(s); last attempt exited with code 3 on node n1)\n```\nline 1\nline 2\n```');
    expect(reconcilerAlert({ kind: 'job-failed', failure })).toEqual(a);
  });

  it('a CronJob run without output or node', () => {
    const a = jobFailedAlert({ job: 'ns/nightly', kind: 'CronJob', run: '20260101T0300Z', reason: 'DeadlineExceeded', failed: 1, scheduledAt: '2026-01-01T03:00:00.000Z' });
    expect(a.key).toBe('job-failed:CronJob:ns/nightly@20260101T0300Z');
    expect(a.text).toBe('cronjob ns/nightly run 20260101T0300Z failed: DeadlineExceeded (1 failed attempt(s))');
    expect(a.fields).toEqual({ job: 'ns/nightly', kind: 'CronJob', run: '20260101T0300Z', reason: 'DeadlineExceeded', failed: '1', node: 'default', scheduledAt: '2026-01-01T03:00:00.000Z' });
  });
});
