import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { isScheduleError, parseSchedule, type Schedule } from './schedule.ts';

const T = (iso: string) => Date.parse(iso);
const ISO = (t: number) => new Date(t).toISOString();

function sched(expr: string, tz = 'UTC'): Schedule {
  const s = parseSchedule(expr, tz);
  if (isScheduleError(s)) throw new Error(`unexpected parse error: ${s.error}`);
  return s;
}

function errorOf(expr: string, tz = 'UTC'): string {
  const s = parseSchedule(expr, tz);
  if (!isScheduleError(s)) throw new Error(`expected a parse error for "${expr}"`);
  return s.error;
}

/** The first n fire times after `from`, as ISO strings (UTC). */
function fires(expr: string, from: string, n: number, tz = 'UTC'): string[] {
  const s = sched(expr, tz);
  const out: string[] = [];
  let t = T(from);
  for (let i = 0; i < n; i++) {
    t = s.next(t);
    out.push(ISO(t));
  }
  return out;
}

describe('parseSchedule: valid expressions', () => {
  it.each([
    '* * * * *',
    '0 0 * * *',
    '*/15 * * * *',
    '0 9-17/2 * * 1-5',
    '5,10,15 1,2 * * *',
    '0 0 1 JAN,jul *',
    '0 0 * * MON-FRI',
    '0 0 * * sun',
    '0 0 * * 7',
    '0 0 ? * 1',
    '0 0 1 * ?',
    '5/15 * * * *',
    '0 0 29 2 *',
    '0 0 31 1-12 *',
    '  0   2  *  *  *  ',
    '59 23 31 12 6',
    '0 0 L * *'.replace('L', '28'),
  ])('accepts %j', (expr) => {
    expect(isScheduleError(parseSchedule(expr))).toBe(false);
  });

  it.each(['@yearly', '@annually', '@monthly', '@weekly', '@daily', '@midnight', '@hourly', '@DAILY'])('accepts macro %s', (m) => {
    expect(isScheduleError(parseSchedule(m))).toBe(false);
  });

  it('expands macros in the normalized form', () => {
    expect(sched('@yearly').normalized).toBe('0 0 1 1 *');
    expect(sched('@annually').normalized).toBe('0 0 1 1 *');
    expect(sched('@monthly').normalized).toBe('0 0 1 * *');
    expect(sched('@weekly').normalized).toBe('0 0 * * 0');
    expect(sched('@daily').normalized).toBe('0 0 * * *');
    expect(sched('@midnight').normalized).toBe('0 0 * * *');
    expect(sched('@hourly').normalized).toBe('0 * * * *');
    expect(sched('@hourly').expression).toBe('@hourly');
  });

  it('collapses whitespace in expression', () => {
    expect(sched('  0   2  *  *  *  ').expression).toBe('0 2 * * *');
    expect(sched('  0   2  *  *  *  ').normalized).toBe('0 2 * * *');
  });

  it('defaults the zone to UTC and keeps IANA names as given', () => {
    expect(sched('0 0 * * *').timeZone).toBe('UTC');
    expect(sched('0 0 * * *', 'Asia/Kolkata').timeZone).toBe('Asia/Kolkata');
    expect(sched('0 0 * * *', 'Etc/UTC').timeZone).toBe('UTC');
  });
});

describe('parseSchedule: errors name the field', () => {
  it.each([
    ['61 * * * *', 'minute field "61": must be 0-59'],
    ['5,61 * * * *', 'minute field "5,61": "61" must be 0-59'],
    ['* 24 * * *', 'hour field "24": must be 0-23'],
    ['* * 0 * *', 'day-of-month field "0": must be 1-31'],
    ['* * 32 * *', 'day-of-month field "32": must be 1-31'],
    ['* * * 13 *', 'month field "13": must be 1-12'],
    ['* * * 0 *', 'month field "0": must be 1-12'],
    ['* * * * 8', 'day-of-week field "8": must be 0-7 (0 and 7 are Sunday)'],
    ['* * * FOO *', 'month field "FOO": not a number or month name (JAN-DEC)'],
    ['* * * * FUNDAY', 'day-of-week field "FUNDAY": not a number or day name (SUN-SAT)'],
    ['* * * * MON-FUN', 'day-of-week field "MON-FUN": "FUN" is not a number or day name (SUN-SAT)'],
    ['MON * * * *', 'minute field "MON": not a number'],
    ['x * * * *', 'minute field "x": not a number'],
    ['*/0 * * * *', 'minute field "*/0": step 0 must be 1-59'],
    ['*/60 * * * *', 'minute field "*/60": step 60 must be 1-59'],
    ['*/x * * * *', 'minute field "*/x": step "x" is not a number'],
    ['1/2/3 * * * *', 'minute field "1/2/3": "1/2/3" has more than one "/"'],
    ['30-10 * * * *', 'minute field "30-10": range 30-10 starts after it ends'],
    ['1-2-3 * * * *', 'minute field "1-2-3": "1-2-3" is not a range like 1-5'],
    ['-5 * * * *', 'minute field "-5": "-5" is not a range like 1-5'],
    ['1,,2 * * * *', 'minute field "1,,2": empty list item'],
    ['/5 * * * *', 'minute field "/5": missing value before "/"'],
    ['? * * * *', 'minute field "?": "?" is only allowed in day-of-month and day-of-week'],
    ['* * L * *', 'day-of-month field "L": not a number'],
    ['* * * * 5#3', 'day-of-week field "5#3": not a number or day name (SUN-SAT)'],
    ['* * * * SAT-SUN', 'day-of-week field "SAT-SUN": range SAT-SUN starts after it ends'],
  ])('%j -> %s', (expr, message) => {
    expect(errorOf(expr)).toBe(message);
  });

  it('field count', () => {
    expect(errorOf('* * * *')).toBe('expected 5 fields (minute hour day-of-month month day-of-week) or a macro like @daily, got 4: "* * * *"');
    expect(errorOf('0 * * * * *')).toContain('got 6: "0 * * * * *" (seconds are not supported)');
    expect(errorOf('')).toMatch(/^schedule is empty/);
    expect(errorOf('   ')).toMatch(/^schedule is empty/);
  });

  it('macros', () => {
    expect(errorOf('@often')).toBe('unknown macro "@often": expected one of @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly');
    expect(errorOf('@every 1h')).toContain('@every is not supported');
    expect(errorOf('@daily 5')).toMatch(/^unknown macro "@daily 5"/);
  });

  it('rejects a zone in the expression', () => {
    expect(errorOf('TZ=Europe/Berlin 0 0 * * *')).toBe('schedule must not set a time zone ("TZ=Europe/Berlin"): use the timeZone field');
    expect(errorOf('CRON_TZ=UTC 0 0 * * *')).toContain('use the timeZone field');
  });

  it('rejects schedules that never fire', () => {
    expect(errorOf('0 0 30 2 *')).toBe('day-of-month field "30" never matches in month field "2": no selected month has that day');
    expect(errorOf('0 0 31 4,6,9,11 *')).toContain('never matches');
    // ...but not when day-of-week can fire (OR), nor Feb 29 (leap years).
    expect(isScheduleError(parseSchedule('0 0 30 2 1'))).toBe(false);
    expect(isScheduleError(parseSchedule('0 0 29 2 *'))).toBe(false);
    expect(isScheduleError(parseSchedule('0 0 31 2,3 *'))).toBe(false);
  });

  it('time zones', () => {
    expect(errorOf('0 0 * * *', 'Mars/Base')).toBe('unknown time zone "Mars/Base": must be an IANA name like "Europe/Berlin" or "UTC"');
    expect(errorOf('0 0 * * *', '')).toMatch(/^unknown time zone ""/);
    expect(errorOf('0 0 * * *', '+01:00')).toMatch(/^unknown time zone "\+01:00"/);
    expect(errorOf('0 0 * * *', 'Europe/Berlin ')).toMatch(/^unknown time zone/);
  });

  it('reports the offset of the bad field for file:line:col', () => {
    const s = parseSchedule('0  2 * FOO *');
    expect(isScheduleError(s) && s.offset).toBe(7);
    const m = parseSchedule('  @often');
    expect(isScheduleError(m) && m.offset).toBe(2);
  });
});

describe('next() in UTC', () => {
  it('is strictly after `after`', () => {
    const s = sched('0 2 * * *');
    expect(ISO(s.next(T('2026-12-03T02:00:00Z')))).toBe('2026-12-04T02:00:00.000Z');
    expect(ISO(s.next(T('2026-12-03T01:59:59.999Z')))).toBe('2026-12-03T02:00:00.000Z');
    expect(ISO(s.next(T('2026-12-03T02:00:00.001Z')))).toBe('2026-12-04T02:00:00.000Z');
  });

  it('every minute and steps', () => {
    expect(fires('* * * * *', '2026-12-03T10:00:30Z', 3)).toEqual(['2026-12-03T10:01:00.000Z', '2026-12-03T10:02:00.000Z', '2026-12-03T10:03:00.000Z']);
    expect(fires('*/15 * * * *', '2026-12-03T10:50:00Z', 3)).toEqual(['2026-12-03T11:00:00.000Z', '2026-12-03T11:15:00.000Z', '2026-12-03T11:30:00.000Z']);
    expect(fires('5/20 * * * *', '2026-12-03T10:00:00Z', 4)).toEqual(['2026-12-03T10:05:00.000Z', '2026-12-03T10:25:00.000Z', '2026-12-03T10:45:00.000Z', '2026-12-03T11:05:00.000Z']);
    expect(fires('0 9-17/4 * * *', '2026-12-03T10:00:00Z', 4)).toEqual(['2026-12-03T13:00:00.000Z', '2026-12-03T17:00:00.000Z', '2026-12-04T09:00:00.000Z', '2026-12-04T13:00:00.000Z']);
    expect(fires('0 */7 * * *', '2026-12-03T22:00:00Z', 2)).toEqual(['2026-12-04T00:00:00.000Z', '2026-12-04T07:00:00.000Z']);
  });

  it('lists and ranges mixed', () => {
    expect(fires('10,20-22,50 3 * * *', '2026-12-03T03:15:00Z', 6)).toEqual([
      '2026-12-03T03:20:00.000Z', '2026-12-03T03:21:00.000Z', '2026-12-03T03:22:00.000Z', '2026-12-03T03:50:00.000Z',
      '2026-12-04T03:10:00.000Z', '2026-12-04T03:20:00.000Z',
    ]);
  });

  it('month and day names', () => {
    expect(fires('0 0 1 jan,JUL *', '2026-12-03T00:00:00Z', 3)).toEqual(['2027-01-01T00:00:00.000Z', '2027-07-01T00:00:00.000Z', '2028-01-01T00:00:00.000Z']);
    // 2026-12-03 is a Thursday.
    expect(fires('30 8 * * MON-FRI', '2026-12-04T09:00:00Z', 2)).toEqual(['2026-12-07T08:30:00.000Z', '2026-12-08T08:30:00.000Z']);
    expect(fires('0 12 * * sat,Sun', '2026-12-03T00:00:00Z', 3)).toEqual(['2026-12-05T12:00:00.000Z', '2026-12-06T12:00:00.000Z', '2026-12-12T12:00:00.000Z']);
    expect(fires('0 0 * DEC,JAN-FEB 1', '2027-02-28T00:00:00Z', 1)).toEqual(['2027-12-06T00:00:00.000Z']);
    // Wrap-around ranges are an error, as in robfig/cron.
    expect(errorOf('0 0 * DEC-FEB *')).toBe('month field "DEC-FEB": range DEC-FEB starts after it ends');
  });

  it('0 and 7 are both Sunday', () => {
    const a = fires('0 0 * * 0', '2026-12-03T00:00:00Z', 3);
    expect(fires('0 0 * * 7', '2026-12-03T00:00:00Z', 3)).toEqual(a);
    expect(fires('0 0 * * SUN', '2026-12-03T00:00:00Z', 3)).toEqual(a);
    expect(a[0]).toBe('2026-12-06T00:00:00.000Z');
    expect(fires('0 0 * * 7/2', '2026-12-03T00:00:00Z', 1)).toEqual(['2026-12-06T00:00:00.000Z']);
    expect(fires('0 0 * * 5/7', '2026-12-03T00:00:00Z', 2)).toEqual(['2026-12-04T00:00:00.000Z', '2026-12-11T00:00:00.000Z']);
    expect(fires('0 0 * * 5-7', '2026-12-03T00:00:00Z', 4)).toEqual([
      '2026-12-04T00:00:00.000Z', '2026-12-05T00:00:00.000Z', '2026-12-06T00:00:00.000Z', '2026-12-11T00:00:00.000Z',
    ]);
  });

  it('day-of-month OR day-of-week when both are restricted', () => {
    // The 13th or any Friday.
    expect(fires('0 0 13 * 5', '2026-12-01T00:00:00Z', 5)).toEqual([
      '2026-12-04T00:00:00.000Z', '2026-12-11T00:00:00.000Z', '2026-12-13T00:00:00.000Z', '2026-12-18T00:00:00.000Z', '2026-12-25T00:00:00.000Z',
    ]);
    // Only day-of-month restricted: Mondays don't matter with *.
    expect(fires('0 0 13 * *', '2026-12-01T00:00:00Z', 2)).toEqual(['2026-12-13T00:00:00.000Z', '2027-01-13T00:00:00.000Z']);
    // ? counts as unrestricted.
    expect(fires('0 0 ? * 5', '2026-12-01T00:00:00Z', 1)).toEqual(['2026-12-04T00:00:00.000Z']);
    // */2 is restricted (robfig/cron, as Kubernetes): OR with Sunday.
    expect(fires('0 0 */10 * 0', '2026-12-01T00:00:00Z', 4)).toEqual([
      '2026-12-06T00:00:00.000Z', '2026-12-11T00:00:00.000Z', '2026-12-13T00:00:00.000Z', '2026-12-20T00:00:00.000Z',
    ]);
  });

  it('leap years: Feb 29', () => {
    expect(fires('0 0 29 2 *', '2026-12-03T00:00:00Z', 3)).toEqual(['2028-02-29T00:00:00.000Z', '2032-02-29T00:00:00.000Z', '2036-02-29T00:00:00.000Z']);
    // 2100 is not a leap year.
    expect(fires('0 0 29 2 *', '2096-03-01T00:00:00Z', 1)).toEqual(['2104-02-29T00:00:00.000Z']);
    expect(fires('0 0 29 * *', '2027-01-30T00:00:00Z', 2)).toEqual(['2027-03-29T00:00:00.000Z', '2027-04-29T00:00:00.000Z']);
    expect(fires('0 0 29 * *', '2028-01-30T00:00:00Z', 1)).toEqual(['2028-02-29T00:00:00.000Z']);
  });

  it('end of month: the 31st skips short months', () => {
    expect(fires('0 0 31 * *', '2026-12-03T00:00:00Z', 4)).toEqual(['2026-12-31T00:00:00.000Z', '2027-01-31T00:00:00.000Z', '2027-03-31T00:00:00.000Z', '2027-05-31T00:00:00.000Z']);
    expect(fires('59 23 30,31 * *', '2027-02-01T00:00:00Z', 2)).toEqual(['2027-03-30T23:59:00.000Z', '2027-03-31T23:59:00.000Z']);
  });

  it('year boundary and macros', () => {
    expect(fires('@yearly', '2026-12-31T23:59:00Z', 2)).toEqual(['2027-01-01T00:00:00.000Z', '2028-01-01T00:00:00.000Z']);
    expect(fires('@monthly', '2026-12-03T00:00:00Z', 2)).toEqual(['2027-01-01T00:00:00.000Z', '2027-02-01T00:00:00.000Z']);
    expect(fires('@weekly', '2026-12-03T00:00:00Z', 2)).toEqual(['2026-12-06T00:00:00.000Z', '2026-12-13T00:00:00.000Z']);
    expect(fires('@daily', '2026-12-03T00:00:00Z', 1)).toEqual(['2026-12-04T00:00:00.000Z']);
    expect(fires('@midnight', '2026-12-03T00:00:00Z', 1)).toEqual(['2026-12-04T00:00:00.000Z']);
    expect(fires('@hourly', '2026-12-03T23:00:00Z', 1)).toEqual(['2026-12-04T00:00:00.000Z']);
    expect(fires('59 23 31 12 *', '2026-12-31T23:59:00Z', 1)).toEqual(['2027-12-31T23:59:00.000Z']);
  });

  it('before 1970 and far future', () => {
    expect(fires('0 0 1 1 *', '1969-06-01T00:00:00Z', 1)).toEqual(['1970-01-01T00:00:00.000Z']);
    expect(fires('0 0 1 1 *', '2999-06-01T00:00:00Z', 1)).toEqual(['3000-01-01T00:00:00.000Z']);
  });

  it('non-finite input', () => {
    expect(sched('* * * * *').next(NaN)).toBeNaN();
  });
});

describe('next() in time zones', () => {
  it('America/New_York, Europe/Berlin, Asia/Kolkata', () => {
    expect(fires('0 2 * * *', '2026-12-03T00:00:00Z', 2, 'America/New_York')).toEqual(['2026-12-03T07:00:00.000Z', '2026-12-04T07:00:00.000Z']);
    expect(fires('0 2 * * *', '2026-07-03T00:00:00Z', 1, 'America/New_York')).toEqual(['2026-07-03T06:00:00.000Z']);
    expect(fires('0 2 * * *', '2026-12-03T00:00:00Z', 2, 'Europe/Berlin')).toEqual(['2026-12-03T01:00:00.000Z', '2026-12-04T01:00:00.000Z']);
    expect(fires('0 2 * * *', '2026-07-03T00:00:00Z', 1, 'Europe/Berlin')).toEqual(['2026-07-04T00:00:00.000Z']);
    expect(fires('0 2 * * *', '2026-12-03T00:00:00Z', 1, 'Asia/Kolkata')).toEqual(['2026-12-03T20:30:00.000Z']);
    expect(fires('*/15 9-10 * * MON-FRI', '2026-12-04T05:30:00Z', 3, 'Asia/Kolkata')).toEqual([
      '2026-12-07T03:30:00.000Z', '2026-12-07T03:45:00.000Z', '2026-12-07T04:00:00.000Z',
    ]);
  });

  it('the day is the local day', () => {
    // 23:30 on Friday in New York is Saturday in UTC.
    expect(fires('30 23 * * FRI', '2026-12-03T00:00:00Z', 1, 'America/New_York')).toEqual(['2026-12-05T04:30:00.000Z']);
    // Midnight on the 1st in Kolkata is the previous day in UTC.
    expect(fires('@monthly', '2026-12-03T00:00:00Z', 1, 'Asia/Kolkata')).toEqual(['2026-12-31T18:30:00.000Z']);
  });

  describe('DST forward (a skipped wall time does not fire that day)', () => {
    it('America/New_York 2027-03-14 02:00 -> 03:00', () => {
      expect(fires('30 2 * * *', '2027-03-13T00:00:00Z', 3, 'America/New_York')).toEqual([
        '2027-03-13T07:30:00.000Z', '2027-03-15T06:30:00.000Z', '2027-03-16T06:30:00.000Z',
      ]);
      expect(fires('0 * * * *', '2027-03-14T05:30:00Z', 3, 'America/New_York')).toEqual([
        '2027-03-14T06:00:00.000Z', // 01:00 EST
        '2027-03-14T07:00:00.000Z', // 03:00 EDT (02:00 does not exist)
        '2027-03-14T08:00:00.000Z',
      ]);
      expect(fires('59 1 * * *', '2027-03-13T12:00:00Z', 1, 'America/New_York')).toEqual(['2027-03-14T06:59:00.000Z']);
      expect(fires('0 3 * * *', '2027-03-13T12:00:00Z', 1, 'America/New_York')).toEqual(['2027-03-14T07:00:00.000Z']);
    });

    it('Europe/Berlin 2026-03-29 02:00 -> 03:00', () => {
      expect(fires('30 2 * * *', '2026-03-28T00:00:00Z', 2, 'Europe/Berlin')).toEqual(['2026-03-28T01:30:00.000Z', '2026-03-30T00:30:00.000Z']);
      expect(fires('*/20 * * * *', '2026-03-29T00:30:00Z', 3, 'Europe/Berlin')).toEqual([
        '2026-03-29T00:40:00.000Z', // 01:40 CET
        '2026-03-29T01:00:00.000Z', // 03:00 CEST
        '2026-03-29T01:20:00.000Z',
      ]);
    });
  });

  describe('DST back (a repeated wall time fires once)', () => {
    it('America/New_York 2026-11-01 02:00 -> 01:00', () => {
      // 01:30 happens at 05:30Z (EDT) and 06:30Z (EST): fires at the first only.
      expect(fires('30 1 * * *', '2026-10-31T12:00:00Z', 2, 'America/New_York')).toEqual(['2026-11-01T05:30:00.000Z', '2026-11-02T06:30:00.000Z']);
      // Asked during the repeated hour (after the first 01:30), it does not fire again.
      expect(fires('30 1 * * *', '2026-11-01T06:00:00Z', 1, 'America/New_York')).toEqual(['2026-11-02T06:30:00.000Z']);
      expect(fires('0 * * * *', '2026-11-01T04:30:00Z', 3, 'America/New_York')).toEqual([
        '2026-11-01T05:00:00.000Z', // 01:00 EDT
        '2026-11-01T07:00:00.000Z', // 02:00 EST (the second 01:00 is skipped)
        '2026-11-01T08:00:00.000Z',
      ]);
      expect(fires('30 2 * * *', '2026-10-31T12:00:00Z', 2, 'America/New_York')).toEqual(['2026-11-01T07:30:00.000Z', '2026-11-02T07:30:00.000Z']);
    });

    it('Europe/Berlin 2026-10-25 03:00 -> 02:00', () => {
      expect(fires('30 2 * * *', '2026-10-24T12:00:00Z', 2, 'Europe/Berlin')).toEqual(['2026-10-25T00:30:00.000Z', '2026-10-26T01:30:00.000Z']);
      expect(fires('0 * * * *', '2026-10-24T23:30:00Z', 3, 'Europe/Berlin')).toEqual([
        '2026-10-25T00:00:00.000Z', // 02:00 CEST
        '2026-10-25T02:00:00.000Z', // 03:00 CET
        '2026-10-25T03:00:00.000Z',
      ]);
    });

    it('Australia/Lord_Howe half-hour DST', () => {
      // 2027-04-04 02:00 LHDT (+11) -> 01:30 LHST (+10:30); 01:45 is repeated.
      expect(fires('45 1 * * *', '2027-04-03T12:00:00Z', 2, 'Australia/Lord_Howe')).toEqual(['2027-04-03T14:45:00.000Z', '2027-04-04T15:15:00.000Z']);
    });
  });
});

describe('next() agrees with a brute-force wall-clock oracle', () => {
  const ZONES = ['UTC', 'America/New_York', 'Europe/Berlin', 'Asia/Kolkata', 'Australia/Lord_Howe', 'America/Sao_Paulo'];
  const fmts = new Map<string, Intl.DateTimeFormat>();
  function wall(t: number, tz: string): [number, number, number, number, number, number] {
    let f = fmts.get(tz);
    if (!f) {
      f = new Intl.DateTimeFormat('en-US', { timeZone: tz, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', weekday: 'short' });
      fmts.set(tz, f);
    }
    const p: Record<string, string> = {};
    for (const x of f.formatToParts(t)) p[x.type] = x.value;
    return [Number(p.year), Number(p.month), Number(p.day), Number(p.hour) % 24, Number(p.minute), ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'].indexOf(p.weekday!)];
  }
  const expand = (field: string, min: number, max: number): Set<number> => {
    const out = new Set<number>();
    for (const item of field.split(',')) {
      const [r, st] = item.split('/');
      const step = st ? Number(st) : 1;
      let lo = min, hi = max;
      if (r !== '*') {
        const [a, b] = r!.split('-');
        lo = Number(a);
        hi = b !== undefined ? Number(b) : st ? max : lo;
      }
      for (let v = lo; v <= hi; v += step) out.add(v === 7 && max === 7 ? 0 : v);
    }
    return out;
  };
  function oracleNext(expr: string, tz: string, after: number, horizon: number): number | undefined {
    const [mi, h, dom, mo, dow] = expr.split(' ') as [string, string, string, string, string];
    const sets = [expand(mi, 0, 59), expand(h, 0, 23), expand(dom, 1, 31), expand(mo, 1, 12), expand(dow, 0, 7)];
    const domStar = dom === '*', dowStar = dow === '*';
    const key = (w: number[]) => w.slice(0, 5).join(',');
    for (let t = Math.floor(after / 60_000) * 60_000 + 60_000; t <= after + horizon; t += 60_000) {
      const w = wall(t, tz);
      if (!sets[0]!.has(w[4]) || !sets[1]!.has(w[3]) || !sets[3]!.has(w[1])) continue;
      const dm = sets[2]!.has(w[2]), dw = sets[4]!.has(w[5]);
      if (domStar || dowStar ? !(dm && dw) : !(dm || dw)) continue;
      // First occurrence of this wall time only.
      const k = key(w);
      if ([30, 60, 120].some((d) => key(wall(t - d * 60_000, tz)) === k)) continue;
      return t;
    }
    return undefined;
  }

  const minuteF = fc.constantFrom('*', '0', '30', '*/7', '0,15,45', '10-20/5', '59');
  const hourF = fc.constantFrom('*', '0', '1', '2', '3', '1-3', '*/5', '23', '0,12');
  const domF = fc.constantFrom('*', '1', '15', '28-31', '*/10', '29');
  const monthF = fc.constantFrom('*', '3', '10,11', '2-4', '*');
  const dowF = fc.constantFrom('*', '0', '1-5', '6,7', '*/3');
  // Windows around DST transitions and month ends.
  const startF = fc.constantFrom(
    T('2026-03-07T00:00:00Z'), T('2026-03-28T00:00:00Z'), T('2026-10-24T00:00:00Z'), T('2026-10-31T00:00:00Z'),
    T('2027-04-02T00:00:00Z'), T('2026-02-27T00:00:00Z'), T('2026-12-30T00:00:00Z'), T('2026-11-01T00:00:00Z'),
  );

  it('for random expressions, zones and start times (within a 2-day horizon)', () => {
    const horizon = 2 * 86_400_000;
    fc.assert(
      fc.property(minuteF, hourF, domF, monthF, dowF, fc.constantFrom(...ZONES), startF, fc.integer({ min: 0, max: 2 * 86_400 }), (mi, h, dom, mo, dow, tz, start, offS) => {
        const expr = `${mi} ${h} ${dom} ${mo} ${dow}`;
        const s = parseSchedule(expr, tz);
        if (isScheduleError(s)) return true; // e.g. never-matching combinations
        const after = start + offS * 1000;
        const want = oracleNext(expr, tz, after, horizon);
        const got = s.next(after);
        if (want === undefined) return got > after + horizon - 60_000;
        return got === want;
      }),
      { numRuns: 150, seed: 20261203 },
    );
  });
});

describe('describe()', () => {
  it.each([
    ['0 2 * * *', 'Europe/Berlin', 'every day at 02:00 Europe/Berlin (0 2 * * *)'],
    ['* * * * *', 'UTC', 'every minute UTC (* * * * *)'],
    ['15 * * * *', 'UTC', 'every hour at :15 UTC (15 * * * *)'],
    ['30 8 * * 1-5', 'America/New_York', 'every Mon, Tue, Wed, Thu, Fri at 08:30 America/New_York (30 8 * * 1-5)'],
    ['0 0 1 * *', 'UTC', 'every month on day 1 at 00:00 UTC (0 0 1 * *)'],
    ['@yearly', 'UTC', 'every year on January 1 at 00:00 UTC (0 0 1 1 *)'],
    ['*/15 9-17 * * *', 'Asia/Kolkata', '*/15 9-17 * * * Asia/Kolkata'],
  ])('%s in %s', (expr, tz, text) => {
    expect(sched(expr, tz).describe()).toBe(text);
  });
});

describe('performance (smoke, not timed)', () => {
  it('sparse schedules do not loop minute by minute', () => {
    // Feb 29 across a century (2100 is not a leap year): 25 fires, jumping by month and day.
    const s = sched('0 0 29 2 *', 'Europe/Berlin');
    let t = T('2026-01-01T00:00:00Z');
    for (let i = 0; i < 25; i++) t = s.next(t);
    expect(ISO(t)).toBe('2128-02-28T23:00:00.000Z');
  });
});
