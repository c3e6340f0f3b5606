/**
 * Bounds on what one revision may make the loader do. Every bound is checked before the work it bounds (sizes before
 * reading on, nesting and node counts while tokenizing, before a document is composed), so a hostile revision is
 * rejected in memory and time proportional to the limits, not to its size.
 */
import type { ManifestIssue } from '../model/errors.ts';

export interface ManifestLimits {
  /** Bytes of one manifest file (--max-file-size). */
  maxFileSize: number;
  /** Bytes of all manifest files of a revision together (--max-revision-size). */
  maxRevisionSize: number;
  /** Nesting of collections in one document. */
  maxDepth: number;
  /** YAML nodes (scalars, aliases, collections) in one file. */
  maxNodes: number;
  /** Source characters of one scalar (quotes, escapes and block indentation included). */
  maxScalarLength: number;
  /** Alias expansions in one document (yaml's maxAliasCount: bounds "billion laughs"). */
  maxAliases: number;
}

/**
 * - 1 MiB per file, 16 MiB per revision: a Service manifest is ~0.5 KiB, so a file holds ~2,000 of them and a
 *   revision ~34,000 — far beyond any real repository, and still validated within the worker's heap (256-384 MB for
 *   16 MiB, in ~20 s of one core: bench/validate-limits.ts).
 * - depth 64: a manifest nests 6-8 levels (spec.health.readiness.http...); anything deeper is not a manifest, and the
 *   yaml composer, toJS and ajv recurse once per level.
 * - 256k nodes per file: a realistic 1 MiB file of Services has ~145k; only floods of tiny values (`a: 1` lines,
 *   `[1,1,1,...]`) reach 256k within 1 MiB. A composed document costs ~250 bytes a node, so one file's documents stay
 *   under ~70 MB whatever --max-file-size allows.
 * - 128 KiB per scalar: Linux refuses a single environment variable or argument longer than MAX_ARG_STRLEN (128 KiB),
 *   so a longer env value or command word could never reach a container anyway.
 * - 100 aliases per document: manifests rarely use aliases at all; 100 keeps merge-key style reuse possible.
 */
export const DEFAULT_LIMITS: Readonly<ManifestLimits> = {
  maxFileSize: 1024 ** 2,
  maxRevisionSize: 16 * 1024 ** 2,
  maxDepth: 64,
  maxNodes: 256 * 1024,
  maxScalarLength: 128 * 1024,
  maxAliases: 100,
};

/** The defaults with the limits `overrides` sets on top (other fields of it are ignored). */
export function resolveLimits(overrides: Partial<ManifestLimits> = {}): ManifestLimits {
  const limits = { ...DEFAULT_LIMITS };
  for (const k of Object.keys(limits) as (keyof ManifestLimits)[]) limits[k] = overrides[k] ?? limits[k];
  return limits;
}

/** An E_TOO_LARGE issue (terminal: the revision is rejected whole). */
export function tooLarge(file: string, line: number, col: number, message: string): ManifestIssue {
  return { file, line, col, code: 'E_TOO_LARGE', field: '', message };
}

/** 1048576 -> `1Mi`, 1536 -> `1.5Ki`, 100 -> `100 bytes`: sizes in messages, in the flags' own units. */
export function formatSize(bytes: number): string {
  for (const [unit, size] of [['Gi', 1024 ** 3], ['Mi', 1024 ** 2], ['Ki', 1024]] as const) {
    if (bytes >= size) return `${Number((bytes / size).toFixed(1))}${unit}`;
  }
  return `${bytes} bytes`;
}
