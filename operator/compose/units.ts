/** Compose's value formats -> berth's: durations (Go syntax, `1m30s`, `1.5s`, `100ms`) and byte sizes (`512m`, `1gb`). */
import { formatDuration } from '../manifests/quantity.ts';

const GO_DURATION = /^([0-9]+(?:\.[0-9]+)?)(ms|us|µs|ns|h|m|s)/;
const UNIT_MS: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1, us: 0.001, µs: 0.001, ns: 0.000001 };

/** A compose duration as a berth duration string (`1.5s` -> `1s500ms`, sub-millisecond rest rounded up), or undefined. */
export function composeDuration(v: unknown): string | undefined {
  if (typeof v === 'number') return Number.isInteger(v) && v >= 0 ? formatDuration(v * 1000) : undefined;
  if (typeof v !== 'string') return undefined;
  let rest = v.trim();
  if (rest === '0') return '0s';
  if (rest === '') return undefined;
  let ms = 0;
  while (rest !== '') {
    const m = GO_DURATION.exec(rest);
    if (!m) return undefined;
    ms += Number(m[1]) * (UNIT_MS[m[2] as string] ?? 0);
    rest = rest.slice(m[0].length);
  }
  return Number.isFinite(ms) && ms <= Number.MAX_SAFE_INTEGER ? formatDuration(Math.ceil(ms)) : undefined;
}

const BYTES = /^([0-9]+(?:\.[0-9]+)?)\s*([kmgt]?)(b?)$/i;
const UNIT_BYTES: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

/** A compose byte size (binary units, as docker's RAMInBytes: `512m` = 512 MiB, `1gb`, `100k`, bytes) in bytes, or undefined. */
export function composeBytes(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isSafeInteger(v) && v >= 0 ? v : undefined;
  if (typeof v !== 'string') return undefined;
  const m = BYTES.exec(v.trim());
  if (!m) return undefined;
  const bytes = Math.floor(Number(m[1]) * (UNIT_BYTES[(m[2] as string).toLowerCase()] ?? 1));
  return Number.isSafeInteger(bytes) ? bytes : undefined;
}

/** An integer written as a number or a string (interpolated values are strings, compose casts them), or undefined. */
export function composeInt(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isInteger(v) ? v : undefined;
  if (typeof v === 'string' && /^-?[0-9]+$/.test(v.trim())) return Number(v.trim());
  return undefined;
}

/** A boolean written as one or as a string (`"true"`, `"false"`, as compose casts), or undefined. */
export function composeBool(v: unknown): boolean | undefined {
  if (typeof v === 'boolean') return v;
  if (typeof v === 'string' && /^(true|false)$/i.test(v.trim())) return v.trim().toLowerCase() === 'true';
  return undefined;
}
