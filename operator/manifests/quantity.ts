/** Resource quantities: memory sizes and CPU amounts as written in manifests. */
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
