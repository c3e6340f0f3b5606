/**
 * NUL characters anywhere in a document. No field can carry one: the engine passes environment, command, mount paths
 * and options to the kernel as C strings (a NUL fails the container's start, or silently cuts the value), Node.js
 * refuses them in process arguments and HTTP requests, and image references cannot hold them.
 */
import type { ManifestIssue } from '../model/errors.ts';
import { formatPath } from './path.ts';
import type { PathSegment, RawDoc } from './yaml-source.ts';
import { isObj } from './raw.ts';

/** At most this many NUL issues per document: one is enough to reject it, a few show the pattern. */
const MAX_REPORTED = 20;

/** E_SEMANTIC issues at each string (or mapping key) of the raw document that holds a NUL. Iterative: depth costs no stack. */
export function nulIssues(doc: RawDoc): ManifestIssue[] {
  const issues: ManifestIssue[] = [];
  const report = (path: PathSegment[], what: string, target: 'key' | 'value'): void => {
    if (issues.length < MAX_REPORTED) issues.push({ ...doc.loc.at(path, target), code: 'E_SEMANTIC', field: formatPath(path), message: `${what} contains a NUL character (\\0), which the engine cannot pass on` });
  };
  const stack: { value: unknown; path: PathSegment[] }[] = [{ value: doc.value, path: [] }];
  while (stack.length > 0 && issues.length < MAX_REPORTED) {
    const { value, path } = stack.pop() as { value: unknown; path: PathSegment[] };
    if (typeof value === 'string') {
      if (value.includes('\0')) report(path, 'the value', 'value');
    } else if (Array.isArray(value)) {
      for (let i = value.length - 1; i >= 0; i--) stack.push({ value: value[i], path: [...path, i] });
    } else if (isObj(value)) {
      const keys = Object.keys(value);
      for (let i = keys.length - 1; i >= 0; i--) {
        const key = keys[i] as string;
        if (key.includes('\0')) report([...path, key], 'the key', 'key');
        stack.push({ value: value[key], path: [...path, key] });
      }
    }
  }
  return issues;
}
