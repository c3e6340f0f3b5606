import { describe, expect, it } from 'vitest';
import { desiredCronJob, desiredJob, desiredService } from '../../test/doubles/jobs-fixtures.ts';
import { diff } from '../diff/diff.ts';
import { renderJson, renderText } from '../diff/render.ts';
import type { JobSpec } from '../model/manifest.ts';
import type { DesiredCronJob, DesiredJob, DesiredService, DesiredState, ObservedState } from '../model/state.ts';
import type { CronJobStatus } from './cron-plan.ts';
import type { JobStatus } from './plan.ts';
import { nextFires, previewJobs, previewText, zonedIso, type PreviewInput } from './preview.ts';

/** The fake clock: Thursday 2026-12-03 13:30 UTC. */
const NOW = Date.parse('2026-12-03T13:30:00.000Z');
const OLD = '1111222233334444';
const NEW = 'aaaabbbbccccdddd';

const job = (name: string, spec: Partial<JobSpec> = {}, specHash = NEW): DesiredJob => desiredJob(name, spec, specHash);
const cron = desiredCronJob;
const svc = desiredService;

const EMPTY: ObservedState = { containers: [], volumes: [], networks: [], images: { 'img:1': 'sha256:i', 'busybox:1': 'sha256:b' } };

function jobRecord(run: string, phase: JobStatus['phase'], extra: Partial<JobStatus> = {}): JobStatus {
  return { desired: 1, ready: phase === 'Succeeded' ? 1 : 0, health: 'Healthy', replicas: [], phase, run, failed: 0, attempts: [], ...extra };
}

function cronRecord(schedule: string): CronJobStatus {
  return { desired: 1, ready: 1, health: 'Healthy', replicas: [], schedule, since: '2026-12-03T12:00:00.000Z', active: [], runs: [] };
}

/** The real planner's plan of `desired` on an empty engine at NOW, and its preview. */
function preview(d: { jobs?: DesiredJob[]; cronJobs?: DesiredCronJob[]; services?: DesiredService[] }, extra: Partial<PreviewInput> = {}, observed = EMPTY) {
  const desired: DesiredState = { revision: 'r'.repeat(40), services: d.services ?? [], volumes: [], networks: [], routes: [], nodes: [], jobs: d.jobs ?? [], cronJobs: d.cronJobs ?? [] };
  const cronRecords = extra.records?.cronJobs;
  const plan = diff(desired, observed, { instance: 't', now: NOW, ...(extra.records?.jobs ? { jobRecords: extra.records.jobs } : {}), ...(cronRecords ? { cronRecords } : {}) });
  const p = previewJobs({ plan, desired, now: NOW, ...extra })!;
  return { plan, p, text: previewText(p) };
}

describe('Jobs at merge', () => {
  it('a Job without a run of its spec would run, and the Services naming it in dependsOn roll out after it', () => {
    const { p, text } = preview({ jobs: [job('migrate', { completions: 3, parallelism: 2 })], services: [svc('web', ['migrate']), svc('other')] });
    expect(p.jobs).toEqual([expect.objectContaining({ key: 'shop/migrate', state: 'run', run: NEW, starts: 2, holds: ['shop/web'] })]);
    expect(text).toEqual([
      'Jobs at merge:',
      `  + shop/migrate: would run: 3 completions, parallelism 2 (run ${NEW})`,
      '      service shop/web rolls out after job shop/migrate succeeds',
    ]);
  });

  it('a changed spec would run again, naming the old and the new run', () => {
    const { p, text } = preview({ jobs: [job('migrate')] }, { records: { jobs: { 'shop/migrate': jobRecord(OLD, 'Succeeded') } } });
    expect(p.jobs[0]).toMatchObject({ state: 'rerun', previousRun: OLD });
    expect(text[1]).toBe(`  ~ shop/migrate: would run again: spec changed (run ${OLD} -> ${NEW}): 1 completion, parallelism 1`);
  });

  it('without a status record, the applied revision tells the old run', () => {
    const { p } = preview({ jobs: [job('migrate')] }, { base: { jobs: [job('migrate', {}, OLD + 'ffff')] } });
    expect(p.jobs[0]).toMatchObject({ state: 'rerun', previousRun: OLD });
  });

  it('a Job that succeeded or failed at this spec is unchanged and holds nothing; one under way says so', () => {
    const records = {
      'shop/done': jobRecord(NEW, 'Succeeded'),
      'shop/broken': jobRecord(NEW, 'Failed', { reason: 'BackoffLimitExceeded' }),
      'shop/busy': jobRecord(NEW, 'Running', { desired: 2, ready: 1 }),
    };
    const { p, text } = preview({ jobs: [job('done'), job('broken'), job('busy', { completions: 2 })], services: [svc('web', ['done'])] }, { records: { jobs: records } });
    expect(p.jobs.map((j) => [j.key, j.state, j.holds])).toEqual([['shop/busy', 'resume', []], ['shop/broken', 'failed', []], ['shop/done', 'succeeded', []]]);
    expect(text).toEqual([
      'Jobs at merge:',
      `  > shop/busy: run ${NEW} under way: 1 container(s) to start (1/2 completions done)`,
      `  ! shop/broken: unchanged: run ${NEW} failed (BackoffLimitExceeded), not run again until its spec changes`,
      `  = shop/done: unchanged: run ${NEW} succeeded (1/1 completions), not run again`,
    ]);
  });

  it('a revision without Jobs or CronJobs has no preview, and the text plan is as before', () => {
    const desired: DesiredState = { revision: 'r'.repeat(40), services: [svc('web')], volumes: [], networks: [], routes: [], nodes: [] };
    const plan = diff(desired, EMPTY, { instance: 't', now: NOW });
    expect(previewJobs({ plan, desired, now: NOW })).toBeUndefined();
    expect(renderText(plan, undefined)).toBe(renderText(plan));
  });
});

describe('CronJobs: next fire times', () => {
  it('lists the next 3 times after the injected clock, in UTC', () => {
    const { p, text } = preview({ cronJobs: [cron('nightly')] }, { records: { cronJobs: { 'shop/nightly': cronRecord('0 3 * * *') } } });
    expect(p.now).toBe('2026-12-03T13:30:00Z');
    expect(p.cronJobs[0]).toMatchObject({ schedule: '0 3 * * *', timeZone: 'UTC', suspend: false, human: 'every day at 03:00', starting: [] });
    expect(p.cronJobs[0]!.next.map((f) => f.utc)).toEqual(['2026-12-04T03:00:00Z', '2026-12-05T03:00:00Z', '2026-12-06T03:00:00Z']);
    expect(text).toEqual([
      'CronJobs (next times after 2026-12-03T13:30:00Z):',
      '  shop/nightly: schedule "0 3 * * *" (every day at 03:00), time zone UTC, suspend false, concurrencyPolicy Allow',
      '      next: 2026-12-04T03:00:00Z, 2026-12-05T03:00:00Z, 2026-12-06T03:00:00Z',
    ]);
  });

  it('shows the zone offset and UTC, the same parser as the operator (a macro, weekdays)', () => {
    const { p, text } = preview({ cronJobs: [cron('report', { schedule: '0 3 * * 1-5', timeZone: 'Europe/Berlin', concurrencyPolicy: 'Forbid' })] });
    expect(p.cronJobs[0]!.added).toBe(true);
    // Thursday 3 Dec 2026 13:30 UTC: Friday, then Monday and Tuesday (the weekend skipped), 03:00 CET = 02:00 UTC.
    expect(text[2]).toBe('      next: 2026-12-04T03:00:00+01:00 (2026-12-04T02:00:00Z), 2026-12-07T03:00:00+01:00 (2026-12-07T02:00:00Z), 2026-12-08T03:00:00+01:00 (2026-12-08T02:00:00Z)');
    expect(text[1]).toContain('time zone Europe/Berlin, suspend false, concurrencyPolicy Forbid (new)');
    expect(nextFires('@hourly', 'Asia/Kolkata', NOW)).toEqual({
      human: 'every hour at :00',
      next: [
        { at: '2026-12-03T20:00:00+05:30', utc: '2026-12-03T14:30:00Z' },
        { at: '2026-12-03T21:00:00+05:30', utc: '2026-12-03T15:30:00Z' },
        { at: '2026-12-03T22:00:00+05:30', utc: '2026-12-03T16:30:00Z' },
      ],
    });
  });

  it('DST spring forward: a wall time that does not exist does not fire that day, and the offset changes', () => {
    const r = nextFires('30 2 * * *', 'Europe/Berlin', Date.parse('2026-03-27T12:00:00Z'));
    expect('next' in r && r.next).toEqual([
      { at: '2026-03-28T02:30:00+01:00', utc: '2026-03-28T01:30:00Z' },
      // 29 March 02:00 CET jumps to 03:00 CEST: no 02:30 that day.
      { at: '2026-03-30T02:30:00+02:00', utc: '2026-03-30T00:30:00Z' },
      { at: '2026-03-31T02:30:00+02:00', utc: '2026-03-31T00:30:00Z' },
    ]);
  });

  it('DST fall back: a repeated wall time fires once, at its first occurrence; negative and half-hour offsets', () => {
    const r = nextFires('30 1 * * *', 'America/New_York', Date.parse('2026-10-31T12:00:00Z'));
    expect('next' in r && r.next).toEqual([
      { at: '2026-11-01T01:30:00-04:00', utc: '2026-11-01T05:30:00Z' },
      { at: '2026-11-02T01:30:00-05:00', utc: '2026-11-02T06:30:00Z' },
      { at: '2026-11-03T01:30:00-05:00', utc: '2026-11-03T06:30:00Z' },
    ]);
    expect(zonedIso(Date.parse('2026-12-03T13:30:00Z'), 'America/St_Johns')).toBe('2026-12-03T10:00:00-03:30');
    expect(zonedIso(Date.parse('2026-12-03T13:30:00Z'), 'Europe/London')).toBe('2026-12-03T13:30:00+00:00');
  });

  it('a changed schedule shows the old one and its next times (from the applied revision, zone included)', () => {
    const base = { cronJobs: [cron('nightly', { schedule: '0 2 * * *', timeZone: 'UTC' })] };
    const { p, text } = preview({ cronJobs: [cron('nightly', { schedule: '0 3 * * *', timeZone: 'Europe/Berlin' })] }, { base });
    expect(p.cronJobs[0]!.changed).toMatchObject({ schedule: '0 2 * * *', timeZone: 'UTC' });
    expect(text.slice(2)).toEqual([
      '      next: 2026-12-04T03:00:00+01:00 (2026-12-04T02:00:00Z), 2026-12-05T03:00:00+01:00 (2026-12-05T02:00:00Z), 2026-12-06T03:00:00+01:00 (2026-12-06T02:00:00Z)',
      '      schedule changed: was "0 2 * * *", time zone UTC',
      '      next before: 2026-12-04T02:00:00Z, 2026-12-05T02:00:00Z, 2026-12-06T02:00:00Z',
    ]);
    // Without the applied revision, the status record's expression (the zone taken as unchanged).
    const recorded = preview({ cronJobs: [cron('nightly')] }, { records: { cronJobs: { 'shop/nightly': cronRecord('*/30 * * * *') } } });
    expect(recorded.p.cronJobs[0]!.changed).toMatchObject({ schedule: '*/30 * * * *', timeZone: 'UTC', next: [{ utc: '2026-12-03T14:00:00Z' }, { utc: '2026-12-03T14:30:00Z' }, { utc: '2026-12-03T15:00:00Z' }] });
    // Whitespace alone is no change.
    expect(preview({ cronJobs: [cron('nightly')] }, { records: { cronJobs: { 'shop/nightly': cronRecord(' 0  3 * * * ') } } }).p.cronJobs[0]!.changed).toBeUndefined();
  });

  it('suspended, a time already due that starts at merge, and an unreadable schedule', () => {
    const due = cron('tick', { schedule: '*/15 * * * *' });
    // Seen since noon, last run at 13:15: the 13:30 time is due now.
    const records = { cronJobs: { 'shop/tick': { ...cronRecord('*/15 * * * *'), since: '2026-12-03T12:00:00.000Z', lastScheduled: '2026-12-03T13:15:00.000Z' }, 'shop/paused': cronRecord('0 3 * * *') } };
    const bad = cron('bad', { schedule: '0 0 30 2 *' });
    const { p, text } = preview({ cronJobs: [cron('paused', { suspend: true }), due, bad] }, { records });
    expect(p.cronJobs.map((c) => c.key)).toEqual(['shop/bad', 'shop/tick', 'shop/paused']);
    expect(p.cronJobs[0]!.error).toContain('never matches');
    expect(p.cronJobs[1]!.starting).toEqual(['20261203T1330Z']);
    expect(text).toContain('      invalid schedule: day-of-month field "30" never matches in month field "2": no selected month has that day');
    expect(text).toContain('      starts at merge: run 20261203T1330Z');
    expect(text).toContain('      suspended: no run starts until suspend is false');
    expect(text).toContain('  shop/paused: schedule "0 3 * * *" (every day at 03:00), time zone UTC, suspend true, concurrencyPolicy Allow');
  });

  it('caps the listing: "... and N more"; JSON has every one', () => {
    const crons = Array.from({ length: 25 }, (_, i) => cron(`c${String(i).padStart(2, '0')}`));
    const jobs = Array.from({ length: 22 }, (_, i) => job(`j${String(i).padStart(2, '0')}`));
    const { plan, p, text } = preview({ cronJobs: crons, jobs });
    expect(text.filter((l) => /^ {2}[+~>=!] shop\/j/.test(l))).toHaveLength(20);
    expect(text.filter((l) => /^ {2}shop\/c/.test(l))).toHaveLength(20);
    expect(text.filter((l) => l.startsWith('  ... and '))).toEqual(['  ... and 2 more', '  ... and 5 more']);
    expect(previewText(p, 3).filter((l) => l.startsWith('  ... and '))).toEqual(['  ... and 19 more', '  ... and 22 more']);
    const json = JSON.parse(renderJson(plan, p)) as { jobs: unknown[]; cronJobs: { next: unknown[] }[]; previewAt: string };
    expect(json.jobs).toHaveLength(22);
    expect(json.cronJobs).toHaveLength(25);
    expect(json.cronJobs[0]!.next).toHaveLength(3);
    expect(json.previewAt).toBe('2026-12-03T13:30:00Z');
    expect(renderText(plan, p).split('\n').slice(-2)).toEqual([text[text.length - 2], text[text.length - 1]]);
  });
});
