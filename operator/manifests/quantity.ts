/** Quantities as written in manifests: memory sizes, CPU amounts and durations. */
import { BerthError } from '../model/errors.ts';

const MEMORY_UNITS: Record<string, number> = {
  '': 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
};

const MEMORY_RE = /^([0-9]+(?:\.[0-9]+)?)(k|Ki|M|Mi|G|Gi|T|Ti)?$/;
const CPU_RE = /^(?:([0-9]+)m|([0-9]+(?:\.[0-9]+)?))$/;

/** Docker refuses memory limits below 6 MiB. */
export const MIN_MEMORY_BYTES = 6 * 2 ** 20;

/**
 * Parses `64Mi`, `1Gi`, `512M`, `1G`, `100k`, or a plain number of bytes into bytes.
 * Binary suffixes (Ki, Mi, Gi, Ti) are powers of 1024, decimal ones (k, M, G, T) powers of 1000.
 * Throws BerthError E_SCHEMA on anything else.
 */
export function parseMemory(q: string | number): number {
  if (typeof q === 'number') {
    if (!Number.isSafeInteger(q) || q < 0) throw invalid('memory', q);
    return q;
  }
  const m = MEMORY_RE.exec(q.trim());
  if (!m) throw invalid('memory', q);
  const bytes = Math.round(Number(m[1]) * (MEMORY_UNITS[m[2] ?? ''] ?? 1));
  if (!Number.isSafeInteger(bytes)) throw invalid('memory', q);
  return bytes;
}

/** Parses a CPU amount: a number of CPUs (`0.25`, `'2'`) or millicores (`'250m'`). Throws BerthError E_SCHEMA otherwise. */
export function parseCpu(q: string | number): number {
  if (typeof q === 'number') {
    if (!Number.isFinite(q) || q < 0) throw invalid('cpu', q);
    return q;
  }
  const m = CPU_RE.exec(q.trim());
  if (!m) throw invalid('cpu', q);
  return m[1] !== undefined ? Number(m[1]) / 1000 : Number(m[2]);
}

function invalid(what: string, q: unknown): BerthError {
  return new BerthError('E_SCHEMA', `invalid ${what} quantity ${JSON.stringify(q)}`);
}

/**
 * Durations as written in manifests: integer amounts with units h, m, s, ms, each at most once and in that order
 * (`500ms`, `2s`, `1m30s`, `1h`), optionally negative (so a negative value is reported by the checks that forbid it,
 * with a clear message, rather than as a malformed string). Used by the JSON Schema too.
 */
export const DURATION_PATTERN = '^-?(?=[0-9])([0-9]+h)?([0-9]+m)?([0-9]+s)?([0-9]+ms)?$';

/**
 * The longest delay a Node.js timer takes: 2^31-1 ms (about 24.8 days). A longer one fires at once (with a
 * TimeoutOverflowWarning), so a duration that reaches a timer must stay at or below it.
 */
export const TIMER_MAX_MS = 2 ** 31 - 1;

const DURATION_RE = /^(-?)(?=[0-9])(?:([0-9]+)h)?(?:([0-9]+)m)?(?:([0-9]+)s)?(?:([0-9]+)ms)?$/;
const DURATION_UNITS_MS = [3_600_000, 60_000, 1000, 1];

/**
 * Parses a duration into milliseconds: a string such as `500ms`, `2s`, `1m`, `1h`, `1m30s`, or an integer number of
 * seconds (`10` = 10 000 ms). Negative values parse (`-1s` = -1000); callers decide whether they are allowed.
 * Throws BerthError E_SCHEMA on anything else (`soon`, `1.5s`, `2 s`, `30s1m`, a fractional number, an unsafe result).
 */
export function parseDuration(q: string | number): number {
  if (typeof q === 'number') {
    const ms = q * 1000;
    if (!Number.isInteger(q) || !Number.isSafeInteger(ms)) throw invalid('duration', q);
    return ms;
  }
  const m = DURATION_RE.exec(q.trim());
  if (!m) throw invalid('duration', q);
  const ms = DURATION_UNITS_MS.reduce((sum, unit, i) => sum + Number(m[i + 2] ?? 0) * unit, 0);
  if (!Number.isSafeInteger(ms)) throw invalid('duration', q);
  return m[1] === '-' && ms !== 0 ? -ms : ms;
}

/** Formats milliseconds the way manifests write them: 90000 -> `1m30s`, 1500 -> `1s500ms`, 0 -> `0s`, -2000 -> `-2s`. */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  let rest = Math.abs(ms);
  let out = '';
  for (const [unit, name] of [[3_600_000, 'h'], [60_000, 'm'], [1000, 's'], [1, 'ms']] as const) {
    const n = Math.floor(rest / unit);
    rest -= n * unit;
    if (n > 0) out += `${n}${name}`;
  }
  return ms < 0 ? `-${out}` : out;
}

/** Formats bytes the way manifests write them, in the largest binary unit that divides exactly: 68719476736 -> `64Gi`, 1000 -> `1000`. */
export function formatMemory(bytes: number): string {
  for (const unit of ['Ti', 'Gi', 'Mi', 'Ki'] as const) {
    const size = MEMORY_UNITS[unit] ?? 1;
    if (bytes !== 0 && bytes % size === 0) return `${bytes / size}${unit}`;
  }
  return String(bytes);
}
