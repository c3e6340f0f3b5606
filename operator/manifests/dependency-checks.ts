/**
 * The dependsOn graph of a revision's Services: cycles and chain depth, found in one depth-first walk with an explicit
 * stack (the recursive walk overflowed the call stack at ~3,000 chained services).
 */
import type { ServiceManifest } from '../model/manifest.ts';
import { resourceKey } from '../model/keys.ts';
import type { PathSegment, RawDoc } from './yaml-source.ts';

/**
 * Services start level by level: a service is started only once every service it depends on is (apply waits for each
 * dependency's creates, starts and health-gated updates). So a chain of n services is n container starts in a row,
 * each ~0.2 s on the engine alone and more with readiness: 32 levels is already several seconds to tens of seconds
 * before the last one starts, while real applications are 3-6 levels deep. A deeper chain is a generated or mistaken
 * graph, and is refused.
 */
export const MAX_DEPENDENCY_DEPTH = 32;

/** A typed Service and its document. */
export interface DependencyNode {
  doc: RawDoc;
  m: ServiceManifest;
}

type Report = (doc: RawDoc, path: PathSegment[], message: string) => void;

interface Frame {
  key: string;
  node: DependencyNode;
  /** Index of the next dependsOn entry to look at. */
  next: number;
  /** Services in the longest chain from this one found so far (1 = depends on nothing). */
  depth: number;
}

/**
 * Reports each dependsOn cycle once, at the edge that closes it (depth-first in key order), and each edge that makes a
 * chain longer than `maxDepth` services, at the dependsOn entry of the first service past the limit. Edges to a
 * missing service or to itself are reported elsewhere and skipped here.
 */
export function checkDependencies(services: ReadonlyMap<string, DependencyNode>, report: Report, maxDepth = MAX_DEPENDENCY_DEPTH): void {
  const state = new Map<string, 'active' | 'done'>();
  const depth = new Map<string, number>();
  /** The dependency through which each finished service has its longest chain. */
  const via = new Map<string, string>();
  const frames: Frame[] = [];
  const enter = (key: string, node: DependencyNode): void => {
    state.set(key, 'active');
    frames.push({ key, node, next: 0, depth: 1 });
  };
  const edge = (f: Frame, i: number, dep: string): void => {
    const d = depth.get(dep) ?? 1;
    if (d === maxDepth) report(f.node.doc, ['spec', 'dependsOn', i], tooDeep(f.key, dep, via, maxDepth));
    if (d + 1 > f.depth) {
      f.depth = d + 1;
      via.set(f.key, dep);
    }
  };
  for (const root of [...services.keys()].sort()) {
    const rootNode = services.get(root);
    if (state.has(root) || !rootNode) continue;
    enter(root, rootNode);
    while (frames.length > 0) {
      const f = frames[frames.length - 1] as Frame;
      const deps = f.node.m.spec.dependsOn;
      if (f.next < deps.length) {
        const i = f.next++;
        const next = resourceKey(f.node.m.metadata.namespace, deps[i] as string);
        const node = services.get(next);
        if (next === f.key || !node) continue;
        const st = state.get(next);
        if (st === 'active') {
          const active = frames.map((x) => x.key);
          const cycle = [...active.slice(active.indexOf(next)), next];
          report(f.node.doc, ['spec', 'dependsOn', i], `dependency cycle: ${cycle.join(' -> ')}`);
        } else if (st === undefined) enter(next, node);
        else edge(f, i, next);
        continue;
      }
      frames.pop();
      state.set(f.key, 'done');
      depth.set(f.key, f.depth);
      const parent = frames[frames.length - 1];
      if (parent) edge(parent, parent.next - 1, f.key);
    }
  }
}

/** `dependsOn chain of 33 services ...: default/a -> default/b -> ... -> default/z`, following the longest chain from `dep`. */
function tooDeep(from: string, dep: string, via: ReadonlyMap<string, string>, maxDepth: number): string {
  let last = dep;
  for (let next = via.get(last); next !== undefined; next = via.get(last)) last = next;
  return `dependsOn chain of ${maxDepth + 1} services is deeper than the ${maxDepth} levels allowed (services start one level after another): ${from} -> ${dep} -> ... -> ${last}`;
}
