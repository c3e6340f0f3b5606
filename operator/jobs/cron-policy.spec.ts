import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { decideCron, formatDuration, lastSkippedOf, mostRecentFire, runId, scheduledAtOf, type CronPolicy, type CronState } from './cron-policy.ts';
import { isScheduleError, parseSchedule, type Schedule } from './schedule.ts';

const T = (iso: string) => Date.parse(iso);
const MIN = 60_000;
const HOUR = 60 * MIN;

function sched(expr: string, tz = 'UTC'): Schedule {
  const s = parseSchedule(expr, tz);
  if (isScheduleError(s)) throw new Error(s.error);
  return s;
}

function policy(over: Partial<CronPolicy> & { expr?: string; tz?: string } = {}): CronPolicy {
  const { expr = '0 * * * *', tz = 'UTC', ...rest } = over;
  return { schedule: sched(expr, tz), concurrencyPolicy: 'Allow', suspend: false, createdAt: T('2026-12-01T00:00:00Z'), ...rest };
}

const idle: CronState = { active: [] };

describe('runId / scheduledAtOf', () => {
  it('formats UTC to the minute, label-safe', () => {
    expect(runId(T('2026-12-03T02:00:00Z'))).toBe('20261203T0200Z');
    expect(runId(T('2026-12-03T02:00:59.999Z'))).toBe('20261203T0200Z');
    expect(runId(T('0999-01-01T00:00:00Z'))).toBe('09990101T0000Z');
    expect(runId(T('2026-12-03T02:00:00Z'))).toMatch(/^[A-Za-z0-9]([A-Za-z0-9_.-]*[A-Za-z0-9])?$/);
  });

  it('round-trips', () => {
    for (const iso of ['2026-12-03T02:00:00Z', '2028-02-29T23:59:00Z', '1970-01-01T00:00:00Z', '2100-12-31T00:01:00Z']) {
      expect(scheduledAtOf(runId(T(iso)))).toBe(T(iso));
    }
  });

  it('sorts lexically in time order', () => {
    const times = [T('2026-12-03T02:00:00Z'), T('2026-12-03T01:59:00Z'), T('2027-01-01T00:00:00Z'), T('2026-11-30T23:00:00Z')];
    const ids = times.map(runId);
    expect([...ids].sort()).toEqual([...times].sort((a, b) => a - b).map(runId));
  });

  it('rejects anything that is not a runId', () => {
    for (const bad of ['', '20261203T0200', '20261203T0200z', '20261303T0200Z', '20260230T0200Z', '20261203T2400Z', '20261203T0260Z', 'x20261203T0200Z', '20261203T0200Zx', '1764727200']) {
      expect(scheduledAtOf(bad)).toBeUndefined();
    }
  });

  it('property: scheduledAtOf(runId(t)) is t floored to the minute', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: T('9999-12-31T23:59:00Z') }), (t) => scheduledAtOf(runId(t)) === Math.floor(t / MIN) * MIN),
    );
  });
});

describe('decideCron', () => {
  it('on time: starts the run for the scheduled time', () => {
    const now = T('2026-12-03T02:00:00.200Z');
    const d = decideCron(policy(), { lastScheduled: T('2026-12-03T01:00:00Z'), active: [] }, now);
    expect(d).toEqual({ start: { scheduledAt: T('2026-12-03T02:00:00Z'), replaceActive: [] }, next: T('2026-12-03T03:00:00Z') });
  });

  it('exactly at the scheduled instant', () => {
    const now = T('2026-12-03T02:00:00Z');
    const d = decideCron(policy(), { lastScheduled: T('2026-12-03T01:00:00Z'), active: [] }, now);
    expect(d.start?.scheduledAt).toBe(now);
    expect(d.next).toBe(T('2026-12-03T03:00:00Z'));
  });

  it('nothing due: only next', () => {
    const d = decideCron(policy(), { lastScheduled: T('2026-12-03T02:00:00Z'), active: [] }, T('2026-12-03T02:30:00Z'));
    expect(d).toEqual({ next: T('2026-12-03T03:00:00Z') });
  });

  it('exactly-once: the run already started (lastScheduled from its runId) is not started again', () => {
    const existing = [runId(T('2026-12-03T01:00:00Z')), runId(T('2026-12-03T02:00:00Z'))];
    const lastScheduled = Math.max(...existing.map((r) => scheduledAtOf(r)!));
    const d = decideCron(policy(), { lastScheduled, active: [] }, T('2026-12-03T02:00:05Z'));
    expect(d.start).toBeUndefined();
    expect(d.skipped).toBeUndefined();
  });

  it('exactly-once: an active run for the scheduled time counts even without lastScheduled', () => {
    const at = T('2026-12-03T02:00:00Z');
    const d = decideCron(policy({ concurrencyPolicy: 'Allow' }), { active: [{ run: runId(at), scheduledAt: at }] }, at + 5000);
    expect(d.start).toBeUndefined();
  });

  it('operator restart loop: deciding, recording the label, deciding again starts nothing', () => {
    const p = policy({ expr: '*/5 * * * *' });
    let state: CronState = { lastScheduled: T('2026-12-03T01:55:00Z'), active: [] };
    const now = T('2026-12-03T02:00:01Z');
    const d1 = decideCron(p, state, now);
    expect(d1.start?.scheduledAt).toBe(T('2026-12-03T02:00:00Z'));
    const id = runId(d1.start!.scheduledAt);
    state = { lastScheduled: scheduledAtOf(id), active: [{ run: id, scheduledAt: scheduledAtOf(id)! }] };
    expect(decideCron(p, state, now + 1000).start).toBeUndefined();
  });

  it('missed one while down: one catch-up run', () => {
    const d = decideCron(policy(), { lastScheduled: T('2026-12-03T01:00:00Z'), active: [] }, T('2026-12-03T02:20:00Z'));
    expect(d.start?.scheduledAt).toBe(T('2026-12-03T02:00:00Z'));
    expect(d.missed).toBeUndefined();
    expect(d.warning).toBeUndefined();
  });

  it('missed several while down: only the most recent starts', () => {
    const d = decideCron(policy(), { lastScheduled: T('2026-12-03T01:00:00Z'), active: [] }, T('2026-12-03T07:20:00Z'));
    expect(d.start?.scheduledAt).toBe(T('2026-12-03T07:00:00Z'));
    expect(d.missed).toBe(5); // 02:00..06:00 dropped
    expect(d.warning).toBeUndefined();
    expect(d.next).toBe(T('2026-12-03T08:00:00Z'));
  });

  it('exactly 100 missed: no warning; 101: warning', () => {
    const last = T('2026-12-01T00:00:00Z');
    const p = policy({ createdAt: T('2026-11-01T00:00:00Z') });
    const at100 = decideCron(p, { lastScheduled: last, active: [] }, last + 100 * HOUR + 10 * MIN);
    expect(at100.warning).toBeUndefined();
    expect(at100.missed).toBe(99);
    expect(at100.start?.scheduledAt).toBe(last + 100 * HOUR);
    const at101 = decideCron(p, { lastScheduled: last, active: [] }, last + 101 * HOUR + 10 * MIN);
    expect(at101.warning).toMatch(/^more than 100 missed start times since 2026-12-01T00:00:00.000Z: only the most recent \(2026-12-05T05:00:00.000Z\) is considered, the others are not replayed/);
    expect(at101.start?.scheduledAt).toBe(last + 101 * HOUR);
  });

  it('many missed (years): warns, starts only the latest, and stays cheap', () => {
    const p = policy({ expr: '*/1 * * * *', createdAt: T('2020-01-01T00:00:00Z') });
    const now = T('2026-12-03T02:03:30Z');
    const d = decideCron(p, { active: [] }, now);
    expect(d.warning).toContain('more than 100 missed start times since 2020-01-01T00:00:00.000Z');
    expect(d.start?.scheduledAt).toBe(T('2026-12-03T02:03:00Z'));
    expect(d.missed).toBe(100);
  });

  it('many missed with an irregular schedule finds the true latest', () => {
    // Weekday mornings, down for a year, now on a Sunday afternoon: the latest is Friday 09:30.
    const p = policy({ expr: '30 9 * * 1-5', tz: 'America/New_York', createdAt: T('2025-11-01T00:00:00Z') });
    const now = T('2026-12-06T20:00:00Z'); // Sunday 15:00 EST
    const d = decideCron(p, { active: [] }, now);
    expect(d.warning).toBeDefined();
    expect(d.start?.scheduledAt).toBe(T('2026-12-04T14:30:00Z'));
    expect(d.next).toBe(T('2026-12-07T14:30:00Z'));
  });

  it('startingDeadline: a run missed by more than it is skipped with a reason', () => {
    const p = policy({ startingDeadlineMs: 10 * MIN });
    const d = decideCron(p, { lastScheduled: T('2026-12-03T01:00:00Z'), active: [] }, T('2026-12-03T02:25:00Z'));
    expect(d.start).toBeUndefined();
    expect(d.skipped).toEqual({
      scheduledAt: T('2026-12-03T02:00:00Z'),
      reason: 'missed scheduled time 2026-12-03T02:00:00.000Z by 25m, more than startingDeadline 10m',
    });
    expect(d.next).toBe(T('2026-12-03T03:00:00Z'));
  });

  it('startingDeadline: within it, the late run starts', () => {
    const p = policy({ startingDeadlineMs: 10 * MIN });
    const d = decideCron(p, { lastScheduled: T('2026-12-03T01:00:00Z'), active: [] }, T('2026-12-03T02:09:59Z'));
    expect(d.start?.scheduledAt).toBe(T('2026-12-03T02:00:00Z'));
    // Exactly at the deadline still counts as within.
    expect(decideCron(p, { lastScheduled: T('2026-12-03T01:00:00Z'), active: [] }, T('2026-12-03T02:10:00Z')).start).toBeDefined();
  });

  it('startingDeadline 0: only an on-time run starts', () => {
    const p = policy({ startingDeadlineMs: 0 });
    expect(decideCron(p, { lastScheduled: T('2026-12-03T01:00:00Z'), active: [] }, T('2026-12-03T02:00:00Z')).start).toBeDefined();
    expect(decideCron(p, { lastScheduled: T('2026-12-03T01:00:00Z'), active: [] }, T('2026-12-03T02:00:00.001Z')).skipped).toBeDefined();
  });

  it('startingDeadline with many missed: warns and skips', () => {
    const p = policy({ startingDeadlineMs: 5 * MIN, createdAt: T('2026-01-01T00:00:00Z') });
    const d = decideCron(p, idle, T('2026-12-03T02:30:00Z'));
    expect(d.warning).toContain('more than 100 missed start times');
    expect(d.skipped?.scheduledAt).toBe(T('2026-12-03T02:00:00Z'));
    expect(d.start).toBeUndefined();
  });

  describe('concurrency policy with an active run', () => {
    const state: CronState = { lastScheduled: T('2026-12-03T01:00:00Z'), active: [{ run: '20261203T0100Z', scheduledAt: T('2026-12-03T01:00:00Z') }] };
    const now = T('2026-12-03T02:00:01Z');

    it('Allow: starts alongside', () => {
      expect(decideCron(policy({ concurrencyPolicy: 'Allow' }), state, now).start).toEqual({ scheduledAt: T('2026-12-03T02:00:00Z'), replaceActive: [] });
    });

    it('Forbid: skips this scheduled time with a reason', () => {
      const d = decideCron(policy({ concurrencyPolicy: 'Forbid' }), state, now);
      expect(d.start).toBeUndefined();
      expect(d.skipped).toEqual({ scheduledAt: T('2026-12-03T02:00:00Z'), reason: 'run 20261203T0100Z still active and concurrencyPolicy is Forbid' });
      expect(d.next).toBe(T('2026-12-03T03:00:00Z'));
    });

    it('Forbid: without an active run it starts', () => {
      expect(decideCron(policy({ concurrencyPolicy: 'Forbid' }), { lastScheduled: T('2026-12-03T01:00:00Z'), active: [] }, now).start).toBeDefined();
    });

    it('Replace: starts and lists the active runs to stop first', () => {
      const two: CronState = { ...state, active: [...state.active, { run: '20261203T0000Z', scheduledAt: T('2026-12-03T00:00:00Z') }] };
      expect(decideCron(policy({ concurrencyPolicy: 'Replace' }), two, now).start).toEqual({
        scheduledAt: T('2026-12-03T02:00:00Z'),
        replaceActive: ['20261203T0100Z', '20261203T0000Z'],
      });
    });

    it('Replace with nothing active: nothing to stop', () => {
      expect(decideCron(policy({ concurrencyPolicy: 'Replace' }), { lastScheduled: T('2026-12-03T01:00:00Z'), active: [] }, now).start?.replaceActive).toEqual([]);
    });
  });

  it('suspend: never starts, next still reported', () => {
    const d = decideCron(policy({ suspend: true }), { lastScheduled: T('2026-12-03T01:00:00Z'), active: [] }, T('2026-12-03T02:00:01Z'));
    expect(d).toEqual({ next: T('2026-12-03T03:00:00Z') });
    // After resume, the most recent missed time runs (Kubernetes), unless startingDeadline says otherwise.
    expect(decideCron(policy(), { lastScheduled: T('2026-12-03T01:00:00Z'), active: [] }, T('2026-12-03T05:30:00Z')).start?.scheduledAt).toBe(T('2026-12-03T05:00:00Z'));
  });

  it('createdAt bound: no runs for times before berth saw the CronJob', () => {
    const p = policy({ createdAt: T('2026-12-03T02:30:00Z') });
    expect(decideCron(p, idle, T('2026-12-03T02:45:00Z'))).toEqual({ next: T('2026-12-03T03:00:00Z') });
    expect(decideCron(p, idle, T('2026-12-03T03:00:10Z')).start?.scheduledAt).toBe(T('2026-12-03T03:00:00Z'));
    // A time equal to createdAt is not a run either (the window is open at its start).
    const q = policy({ createdAt: T('2026-12-03T02:00:00Z') });
    expect(decideCron(q, idle, T('2026-12-03T02:00:00Z')).start).toBeUndefined();
    // lastScheduled older than createdAt (runs from a previous incarnation): createdAt wins.
    expect(decideCron(p, { lastScheduled: T('2026-12-01T00:00:00Z'), active: [] }, T('2026-12-03T02:45:00Z')).start).toBeUndefined();
  });

  it('time zone and DST: a daily 02:30 Berlin job on the spring-forward day does not run', () => {
    const p = policy({ expr: '30 2 * * *', tz: 'Europe/Berlin', createdAt: T('2026-03-01T00:00:00Z') });
    const d = decideCron(p, { lastScheduled: T('2026-03-28T01:30:00Z'), active: [] }, T('2026-03-29T12:00:00Z'));
    expect(d).toEqual({ next: T('2026-03-30T00:30:00Z') });
  });

  it('never fires into the future and next is after now', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('0 * * * *', '*/7 * * * *', '30 9 * * 1-5', '0 0 29 2 *', '15 2 * * *'),
        fc.constantFrom('UTC', 'America/New_York', 'Europe/Berlin', 'Asia/Kolkata'),
        fc.integer({ min: T('2026-01-01T00:00:00Z'), max: T('2027-01-01T00:00:00Z') }),
        fc.integer({ min: 0, max: 400 * 24 * 60 }),
        fc.constantFrom<CronPolicy['concurrencyPolicy']>('Allow', 'Forbid', 'Replace'),
        (expr, tz, createdAt, minutes, cp) => {
          const p = policy({ expr, tz, createdAt, concurrencyPolicy: cp });
          const now = createdAt + minutes * MIN;
          const d = decideCron(p, idle, now);
          if (!(d.next > now)) return false;
          const at = d.start?.scheduledAt ?? d.skipped?.scheduledAt;
          if (at === undefined) return p.schedule.next(createdAt) > now;
          // The decided time is a fire time in the window and the latest one.
          return at > createdAt && at <= now && p.schedule.next(at) > now && mostRecentFire(p.schedule, createdAt, now) === at;
        },
      ),
      { numRuns: 200, seed: 7 },
    );
  });
});

describe('mostRecentFire', () => {
  it('finds the latest fire in (from, now]', () => {
    const s = sched('0 9,17 * * *');
    expect(mostRecentFire(s, T('2026-01-01T00:00:00Z'), T('2026-12-03T12:00:00Z'))).toBe(T('2026-12-03T09:00:00Z'));
    expect(mostRecentFire(s, T('2026-12-03T09:00:00Z'), T('2026-12-03T12:00:00Z'))).toBeUndefined();
    expect(mostRecentFire(s, T('2026-12-03T08:00:00Z'), T('2026-12-03T09:00:00Z'))).toBe(T('2026-12-03T09:00:00Z'));
  });
});

describe('formatDuration', () => {
  it.each([
    [0, '0s'],
    [1500, '2s'],
    [25 * MIN, '25m'],
    [HOUR + 30 * 1000, '1h30s'],
    [26 * HOUR + 5 * MIN, '1d2h5m'],
  ])('%d ms -> %s', (ms, text) => expect(formatDuration(ms)).toBe(text));
});

describe('lastSkippedOf', () => {
  const before = { scheduledAt: '2026-12-03T10:05:00.000Z', reason: 'missed scheduled time 2026-12-03T10:05:00.000Z by 30s, more than startingDeadline 10s' };
  const none = () => false;

  it("reports this decision's skip, over the one reported before", () => {
    const skipped = { scheduledAt: T('2026-12-03T10:06:00Z'), reason: 'run x still active and concurrencyPolicy is Forbid' };
    expect(lastSkippedOf(skipped, before, none)).toEqual({ scheduledAt: '2026-12-03T10:06:00.000Z', reason: skipped.reason });
    expect(lastSkippedOf(skipped, undefined, none)).toEqual({ scheduledAt: '2026-12-03T10:06:00.000Z', reason: skipped.reason });
  });

  it('keeps the skip reported before on later passes that skip nothing (a time past startingDeadline is decided once)', () => {
    // The pass after a deadline skip records the time in lastScheduled: its decision skips nothing, the skip stays reported.
    expect(lastSkippedOf(undefined, before, none)).toEqual(before);
    expect(lastSkippedOf(undefined, undefined, none)).toBeUndefined();
  });

  it('drops it once that time has a run (a Forbid skip started late, after the active run ended)', () => {
    expect(lastSkippedOf(undefined, before, (t) => t === T('2026-12-03T10:05:00Z'))).toBeUndefined();
    expect(lastSkippedOf(undefined, before, (t) => t === T('2026-12-03T10:06:00Z'))).toEqual(before);
  });
});
