/**
 * A DocLocator for a berth document converted from a compose file: berth paths are mapped into the compose document
 * by a table of path prefixes (the longest registered prefix wins; the rest of the path is appended), and located by
 * the compose document's own locator. `['spec', 'replicas']` -> `['services', 'web', 'deploy', 'replicas']`.
 */
import type { DocLocator, PathSegment } from '../manifests/yaml-source.ts';

/** Berth path prefixes -> compose paths, for one converted document. */
export class PathMap {
  private readonly table = new Map<string, readonly PathSegment[]>();

  /** Berth paths starting with `from` are located at `to` (followed by the rest of the path). */
  add(from: readonly PathSegment[], to: readonly PathSegment[]): void {
    this.table.set(key(from), to);
  }

  /** The compose path for berth path `path`, falling back to `base` (plus the whole path) when no prefix is registered. */
  resolve(path: readonly PathSegment[], base: readonly PathSegment[]): PathSegment[] {
    for (let n = path.length; n >= 0; n--) {
      const to = this.table.get(key(path.slice(0, n)));
      if (to) return [...to, ...path.slice(n)];
    }
    return [...base];
  }
}

const key = (path: readonly PathSegment[]): string => path.map((s) => (typeof s === 'number' ? `#${s}` : `.${s}`)).join('\0');

/** Locates berth paths of a converted document in the compose document of `inner`; unmapped ones at `base`. */
export function mappedLocator(inner: DocLocator, map: PathMap, base: readonly PathSegment[]): DocLocator {
  return {
    start: inner.at(base, 'key'),
    at: (path, target) => inner.at(map.resolve(path, base), target),
    plainText: (path) => inner.plainText(map.resolve(path, base)),
  };
}
