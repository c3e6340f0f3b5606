/**
 * Cron schedules for `kind: CronJob`: parsing and next-fire-time computation, pure (no I/O, no clock).
 *
 * Syntax is the Kubernetes one (robfig/cron `ParseStandard` without `@every`/`TZ=`): five fields
 * `minute hour day-of-month month day-of-week` with `*`, `?` (day fields only), values, ranges `a-b`, steps
 * `x/n` (`*`, a range, or a single value `a/n` meaning `a-max/n`), comma lists, month names JAN-DEC and day
 * names SUN-SAT (case-insensitive), 0 and 7 both Sunday; and the macros @yearly @annually @monthly @weekly
 * @daily @midnight @hourly.
 *
 * Semantics:
 * - Day-of-month / day-of-week: when both are restricted a day matches if EITHER matches (standard cron); a field
 *   counts as unrestricted when it contains a bare `*`/`?` (or `* /1`), as in robfig/cron: `* /2` is restricted.
 * - Evaluated on the wall clock of the schedule's IANA time zone. A wall-clock time that does not exist (skipped
 *   by a spring-forward) does not fire that day; a wall-clock time that occurs twice (fall-back) fires once, at
 *   its first occurrence. So `30 2 * * *` in Europe/Berlin does not run on the last Sunday of March, and
 *   `0 * * * *` fires at 02:00 CEST but not again at 02:00 CET.
 * - Schedules that can never fire (`0 0 30 2 *`) are rejected at parse time.
 *
 * node-cron (a dependency) was not used: its public API has no `next(after)` (only `getNextRun()` from the real
 * clock), its matcher is not exported, and it ANDs day-of-month with day-of-week.
 */

export interface Schedule {
  /** The expression as written, whitespace collapsed. */
  readonly expression: string;
  /** Five-field form (macros expanded). */
  readonly normalized: string;
  /** IANA zone name as given (UTC aliases folded to "UTC"). */
  readonly timeZone: string;
  /** The first fire time strictly after `after` (epoch ms); Infinity if none within ~10 years (cannot happen for
   * a schedule accepted by parseSchedule). */
  next(after: number): number;
  /** Human-readable form for status, e.g. `every day at 02:00 Europe/Berlin (0 2 * * *)`. */
  describe(): string;
}

export interface ScheduleError {
  error: string;
  /** Character offset in the expression of the offending field, when one is to blame. */
  offset?: number;
}

const MACROS: Record<string, string> = {
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
  '@monthly': '0 0 1 * *',
  '@weekly': '0 0 * * 0',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@hourly': '0 * * * *',
};

const MONTH_NAMES = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
const DAY_NAMES = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];
const MONTH_LONG = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];
const DAY_LONG = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MAX_DAYS = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

interface FieldSpec {
  name: string;
  min: number;
  max: number;
  names?: string[];
  /** Index of names[0] (month names start at 1). */
  nameBase?: number;
  question?: boolean;
}

const FIELDS: FieldSpec[] = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day-of-month', min: 1, max: 31, question: true },
  { name: 'month', min: 1, max: 12, names: MONTH_NAMES, nameBase: 1 },
  // 7 is accepted as Sunday and folded onto 0.
  { name: 'day-of-week', min: 0, max: 7, names: DAY_NAMES, nameBase: 0, question: true },
];

interface ParsedField {
  set: boolean[];
  /** Contains a bare `*` / `?` (unrestricted for the dom/dow OR rule). */
  star: boolean;
}

class FieldError extends Error {}

function parseValue(spec: FieldSpec, field: string, token: string): number {
  if (/^\d+$/.test(token)) {
    const v = Number(token);
    if (v < spec.min || v > spec.max) throw new FieldError(rangeMsg(spec, field, token));
    return v;
  }
  if (spec.names) {
    const i = spec.names.indexOf(token.toUpperCase());
    if (i >= 0) return i + (spec.nameBase ?? 0);
  }
  const what = spec.names === MONTH_NAMES ? 'a number or month name (JAN-DEC)' : spec.names === DAY_NAMES ? 'a number or day name (SUN-SAT)' : 'a number';
  throw new FieldError(token === field ? `${spec.name} field "${field}": not ${what}` : `${spec.name} field "${field}": "${token}" is not ${what}`);
}

function rangeMsg(spec: FieldSpec, field: string, token: string): string {
  const bounds = spec.name === 'day-of-week' ? '0-7 (0 and 7 are Sunday)' : `${spec.min}-${spec.max}`;
  return token === field ? `${spec.name} field "${field}": must be ${bounds}` : `${spec.name} field "${field}": "${token}" must be ${bounds}`;
}

function parseField(spec: FieldSpec, field: string): ParsedField {
  const set = new Array<boolean>(spec.max + 1).fill(false);
  let star = false;
  for (const item of field.split(',')) {
    if (item === '') throw new FieldError(`${spec.name} field "${field}": empty list item`);
    const slash = item.split('/');
    if (slash.length > 2) throw new FieldError(`${spec.name} field "${field}": "${item}" has more than one "/"`);
    const [rangePart = '', stepPart] = slash;
    let step = 1;
    if (stepPart !== undefined) {
      if (!/^\d+$/.test(stepPart)) throw new FieldError(`${spec.name} field "${field}": step "${stepPart}" is not a number`);
      step = Number(stepPart);
      const span = spec.max - spec.min;
      if (step < 1 || step > span) throw new FieldError(`${spec.name} field "${field}": step ${stepPart} must be 1-${span}`);
    }
    let lo: number;
    let hi: number;
    if (rangePart === '*' || rangePart === '?') {
      if (rangePart === '?' && !spec.question) throw new FieldError(`${spec.name} field "${field}": "?" is only allowed in day-of-month and day-of-week`);
      lo = spec.min;
      hi = spec.name === 'day-of-week' ? 6 : spec.max;
      if (step === 1) star = true;
    } else if (rangePart.includes('-')) {
      const parts = rangePart.split('-');
      if (parts.length !== 2 || parts[0] === '' || parts[1] === '') throw new FieldError(`${spec.name} field "${field}": "${rangePart}" is not a range like 1-5`);
      lo = parseValue(spec, field, parts[0]!);
      hi = parseValue(spec, field, parts[1]!);
      if (lo > hi) throw new FieldError(`${spec.name} field "${field}": range ${rangePart} starts after it ends`);
    } else {
      if (rangePart === '') throw new FieldError(`${spec.name} field "${field}": missing value before "/"`);
      lo = parseValue(spec, field, rangePart);
      // `a/n` is `a-max/n`; for day-of-week max is Saturday (6), so `7/n` is just Sunday.
      hi = stepPart !== undefined ? (spec.name === 'day-of-week' ? Math.max(lo, 6) : spec.max) : lo;
    }
    for (let v = lo; v <= hi; v += step) set[v] = true;
  }
  if (spec.name === 'day-of-week' && set[7]) {
    set[0] = true;
    set.length = 7;
  } else if (spec.name === 'day-of-week') {
    set.length = 7;
  }
  return { set, star };
}

/** nextAllowed[v] = smallest allowed value >= v, or -1. */
function nextTable(set: boolean[]): Int8Array {
  const t = new Int8Array(set.length + 1).fill(-1);
  for (let v = set.length - 1; v >= 0; v--) t[v] = set[v] ? v : t[v + 1]!;
  return t;
}

// ---------------------------------------------------------------------------------------------------------------
// Time zones

const MINUTE = 60_000;
const HOUR = 3_600_000;
const BUCKET = 15 * MINUTE;

interface Zone {
  /** UTC offset (ms, local = utc + offset) at instant t. */
  offsetAt(t: number): number;
  /** The earliest instant whose wall clock reads `wall` (wall-clock ms as if UTC), or NaN if it does not exist. */
  toInstant(wall: number): number;
}

const UTC_ZONE: Zone = { offsetAt: () => 0, toInstant: (w) => w };

class IntlZone implements Zone {
  private readonly fmt: Intl.DateTimeFormat;
  private cache = new Map<number, number>();

  constructor(tz: string) {
    this.fmt = new Intl.DateTimeFormat('en-US', {
      timeZone: tz,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
      era: 'short',
    });
  }

  private raw(t: number): number {
    const secs = Math.floor(t / 1000) * 1000;
    let y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0, bc = false;
    for (const p of this.fmt.formatToParts(secs)) {
      switch (p.type) {
        case 'year': y = Number(p.value); break;
        case 'month': mo = Number(p.value); break;
        case 'day': d = Number(p.value); break;
        case 'hour': h = Number(p.value) % 24; break;
        case 'minute': mi = Number(p.value); break;
        case 'second': s = Number(p.value); break;
        case 'era': bc = p.value.startsWith('B'); break;
        default: break;
      }
    }
    const local = new Date(0);
    local.setUTCFullYear(bc ? 1 - y : y, mo - 1, d);
    local.setUTCHours(h, mi, s, 0);
    return local.getTime() - secs;
  }

  offsetAt(t: number): number {
    // Offsets are cached per 15-minute bucket when both ends of the bucket agree (no two transitions are ever
    // this close, so the offset is then constant over the bucket); otherwise computed exactly.
    const b = Math.floor(t / BUCKET);
    const hit = this.cache.get(b);
    if (hit !== undefined) return hit;
    const start = b * BUCKET;
    const o1 = this.raw(start);
    const o2 = this.raw(start + BUCKET - 1000);
    if (o1 !== o2) return this.raw(t);
    if (this.cache.size > 100_000) this.cache.clear();
    this.cache.set(b, o1);
    return o1;
  }

  toInstant(wall: number): number {
    const t0 = wall - this.offsetAt(wall);
    const oA = this.offsetAt(t0 - 6 * HOUR);
    const oB = this.offsetAt(t0 + 6 * HOUR);
    // A larger offset gives an earlier instant: try it first so a repeated wall time maps to its first occurrence.
    const first = Math.max(oA, oB);
    if (this.offsetAt(wall - first) === first) return wall - first;
    const second = Math.min(oA, oB);
    if (second !== first && this.offsetAt(wall - second) === second) return wall - second;
    return NaN;
  }
}

const zones = new Map<string, Zone>();

function zoneFor(tz: string): Zone {
  let z = zones.get(tz);
  if (!z) {
    z = tz === 'UTC' ? UTC_ZONE : new IntlZone(tz);
    zones.set(tz, z);
  }
  return z;
}

/** The zone name as given (ICU would canonicalize Asia/Kolkata to Asia/Calcutta), or undefined when Intl does
 * not know it. UTC spellings are folded to "UTC" for the arithmetic fast path. */
function resolveTimeZone(tz: string): string | undefined {
  if (!/^[A-Za-z][A-Za-z0-9_+\-/]*$/.test(tz)) return undefined;
  try {
    const resolved = new Intl.DateTimeFormat('en-US', { timeZone: tz }).resolvedOptions().timeZone;
    return resolved === 'UTC' || /^(Etc\/)?(UTC|GMT|Zulu|UCT|Universal)$/i.test(tz) ? 'UTC' : tz;
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------------------------------

const SEARCH_LIMIT = 10 * 366 * 24 * HOUR;

class CronSchedule implements Schedule {
  private readonly minuteNext: Int8Array;
  private readonly hourNext: Int8Array;
  private readonly monthNext: Int8Array;
  private readonly firstMonth: number;
  private readonly dom: boolean[];
  private readonly dow: boolean[];
  private readonly dayAnd: boolean;
  private readonly zone: Zone;

  constructor(
    readonly expression: string,
    readonly normalized: string,
    readonly timeZone: string,
    private readonly fields: ParsedField[],
  ) {
    const [mi, h, dom, mo, dow] = fields as [ParsedField, ParsedField, ParsedField, ParsedField, ParsedField];
    this.minuteNext = nextTable(mi.set);
    this.hourNext = nextTable(h.set);
    this.monthNext = nextTable(mo.set);
    this.firstMonth = this.monthNext[1]!;
    this.dom = dom.set;
    this.dow = dow.set;
    this.dayAnd = dom.star || dow.star;
    this.zone = zoneFor(timeZone);
  }

  next(after: number): number {
    if (!Number.isFinite(after)) return NaN;
    const zone = this.zone;
    let w = Math.floor((after + zone.offsetAt(after)) / MINUTE) * MINUTE + MINUTE;
    const limit = w + SEARCH_LIMIT;
    const d = new Date(0);
    while (w <= limit) {
      d.setTime(w);
      const y = d.getUTCFullYear();
      const mo = d.getUTCMonth() + 1;
      const day = d.getUTCDate();
      const nm = this.monthNext[mo]!;
      if (nm !== mo) {
        w = nm > 0 ? Date.UTC(y, nm - 1, 1) : Date.UTC(y + 1, this.firstMonth - 1, 1);
        continue;
      }
      const domOk = this.dom[day]!;
      const dowOk = this.dow[d.getUTCDay()]!;
      if (this.dayAnd ? !(domOk && dowOk) : !(domOk || dowOk)) {
        w = Date.UTC(y, mo - 1, day + 1);
        continue;
      }
      const h = d.getUTCHours();
      const nh = this.hourNext[h]!;
      if (nh !== h) {
        w = nh >= 0 ? Date.UTC(y, mo - 1, day, nh) : Date.UTC(y, mo - 1, day + 1);
        continue;
      }
      const mi = d.getUTCMinutes();
      const nmi = this.minuteNext[mi]!;
      if (nmi !== mi) {
        w = nmi >= 0 ? Date.UTC(y, mo - 1, day, h, nmi) : Date.UTC(y, mo - 1, day, h + 1);
        continue;
      }
      const t = zone.toInstant(w);
      // NaN (wall time skipped by DST) or an earlier occurrence of a repeated wall time: move on.
      if (t > after) return t;
      w += MINUTE;
    }
    return Infinity;
  }

  describe(): string {
    const human = this.human();
    return human ? `${human} ${this.timeZone} (${this.normalized})` : `${this.normalized} ${this.timeZone}`;
  }

  private human(): string | undefined {
    const [mi, h, dom, mo, dow] = this.fields as [ParsedField, ParsedField, ParsedField, ParsedField, ParsedField];
    const single = (f: ParsedField): number | undefined => {
      const vals = f.set.flatMap((v, i) => (v ? [i] : []));
      return vals.length === 1 ? vals[0] : undefined;
    };
    const pad = (n: number) => String(n).padStart(2, '0');
    const m = single(mi);
    const hr = single(h);
    if (mi.star && h.star && dom.star && mo.star && dow.star) return 'every minute';
    if (m === undefined) return undefined;
    if (h.star && dom.star && mo.star && dow.star) return `every hour at :${pad(m)}`;
    if (hr === undefined) return undefined;
    const at = `at ${pad(hr)}:${pad(m)}`;
    if (dom.star && mo.star && dow.star) return `every day ${at}`;
    if (dom.star && mo.star) return `every ${this.dow.flatMap((v, i) => (v ? [DAY_LONG[i]] : [])).join(', ')} ${at}`;
    const d = single(dom);
    if (d !== undefined && dow.star && mo.star) return `every month on day ${d} ${at}`;
    const month = single(mo);
    if (d !== undefined && dow.star && month !== undefined) return `every year on ${MONTH_LONG[month - 1]} ${d} ${at}`;
    return undefined;
  }
}

/** Parse a Kubernetes-style cron schedule evaluated in `timeZone` (IANA, default UTC). */
export function parseSchedule(expr: string, timeZone = 'UTC'): Schedule | ScheduleError {
  const tz = resolveTimeZone(timeZone);
  if (tz === undefined) return { error: `unknown time zone "${timeZone}": must be an IANA name like "Europe/Berlin" or "UTC"` };

  const trimmed = expr.trim();
  if (trimmed === '') return { error: 'schedule is empty: expected 5 fields (minute hour day-of-month month day-of-week) or a macro like @daily' };
  if (/^(CRON_)?TZ=/i.test(trimmed)) return { error: `schedule must not set a time zone ("${trimmed.split(/\s+/)[0]}"): use the timeZone field`, offset: expr.indexOf(trimmed) };

  // Fields with their offsets in the original string.
  const tokens: { text: string; offset: number }[] = [];
  for (const m of expr.matchAll(/\S+/g)) tokens.push({ text: m[0], offset: m.index });

  let fieldsText: string[];
  let offsets: (number | undefined)[];
  if (trimmed.startsWith('@')) {
    const macro = MACROS[trimmed.toLowerCase()];
    if (macro === undefined) {
      const hint = /^@every\b/i.test(trimmed) ? ' (@every is not supported; write a 5-field expression)' : '';
      return { error: `unknown macro "${trimmed}": expected one of ${Object.keys(MACROS).join(', ')}${hint}`, offset: tokens[0]?.offset };
    }
    fieldsText = macro.split(' ');
    offsets = fieldsText.map(() => tokens[0]?.offset);
  } else {
    if (tokens.length !== 5) {
      const extra = tokens.length === 6 ? ' (seconds are not supported)' : '';
      return {
        error: `expected 5 fields (minute hour day-of-month month day-of-week) or a macro like @daily, got ${tokens.length}: "${trimmed.replace(/\s+/g, ' ')}"${extra}`,
        offset: tokens[0]?.offset,
      };
    }
    fieldsText = tokens.map((t) => t.text);
    offsets = tokens.map((t) => t.offset);
  }

  const parsed: ParsedField[] = [];
  for (let i = 0; i < 5; i++) {
    try {
      parsed.push(parseField(FIELDS[i]!, fieldsText[i]!));
    } catch (e) {
      if (e instanceof FieldError) return { error: e.message, offset: offsets[i] };
      throw e;
    }
  }

  // Reject schedules that can never fire: day-of-month restricted (and ANDed or the only day rule) to days that
  // no selected month has.
  const [, , dom, mo, dow] = parsed as [ParsedField, ParsedField, ParsedField, ParsedField, ParsedField];
  const domOnly = !dom.star && dow.star;
  if (domOnly) {
    let possible = false;
    for (let m = 1; m <= 12 && !possible; m++) {
      if (!mo.set[m]) continue;
      for (let d = 1; d <= MAX_DAYS[m - 1]!; d++) if (dom.set[d]) possible = true;
    }
    if (!possible) {
      return {
        error: `day-of-month field "${fieldsText[2]}" never matches in month field "${fieldsText[3]}": no selected month has that day`,
        offset: offsets[2],
      };
    }
  }

  const normalized = fieldsText.join(' ');
  return new CronSchedule(trimmed.replace(/\s+/g, ' '), normalized, tz, parsed);
}

export function isScheduleError(s: Schedule | ScheduleError): s is ScheduleError {
  return 'error' in s;
}
