/** Helpers for raw documents: plain JS data as parsed from YAML, before it becomes typed manifests. */
import type { PathSegment } from './yaml-source.ts';

/** A plain YAML mapping as JS data. */
export type Obj = Record<string, unknown>;

/** True for a plain (non-array) object. */
export function isObj(v: unknown): v is Obj {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** The raw value at `path` inside `data`, or undefined when any step is missing. */
export function rawAt(data: unknown, path: readonly PathSegment[]): unknown {
  let cur: unknown = data;
  for (const seg of path) {
    if (Array.isArray(cur) && typeof seg === 'number') cur = cur[seg];
    else if (isObj(cur)) cur = cur[String(seg)];
    else return undefined;
  }
  return cur;
}

/** Thrown while defaulting a schema-valid document when one field still cannot be converted (e.g. a duration overflows). */
export class FieldError extends Error {
  readonly path: readonly PathSegment[];
  constructor(path: readonly PathSegment[], message: string) {
    super(message);
    this.name = 'FieldError';
    this.path = path;
  }
}

/** Runs `convert`, turning any error it throws into a FieldError located at `path`. */
export function convertAt<T>(path: readonly PathSegment[], convert: () => T): T {
  try {
    return convert();
  } catch (err) {
    throw new FieldError(path, err instanceof Error ? err.message : String(err));
  }
}
