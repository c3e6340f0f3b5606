/** How many containers a namespace may put on its one Docker network (`berth.<instance>.<namespace>`). */
import type { ServiceManifest } from '../model/manifest.ts';
import { resourceKey } from '../model/keys.ts';
import type { PathSegment, RawDoc } from './yaml-source.ts';

/** Reports one issue at `path` of `doc` (at its key with target 'key'). */
export type NamespaceReport = (doc: RawDoc, path: PathSegment[], message: string, target?: 'key' | 'value') => void;

/**
 * The most containers one namespace may have on its bridge network at once. A Linux bridge holds at most 1024 ports
 * (BR_MAX_PORTS: port numbers have 10 bits), and each container is one veth port: the next endpoint fails with EXFULL
 * ("exchange full"), after which dockerd 20.10 keeps stale endpoints and cannot remove the network until it restarts.
 * The count below includes the start-first surge of rolling updates; 900 keeps about 120 ports for what runs beyond
 * that: replacements of crashed or unhealthy replicas started before the old container is gone, containers being
 * removed whose endpoints the engine detaches late, and a revision change arriving in the middle of an update. The
 * bound is per namespace, whatever the Nodes: placement may put every replica on one engine.
 */
export const NAMESPACE_CONTAINERS_MAX = 900;

/** A typed service with the document it came from. */
export interface LocatedService {
  doc: RawDoc;
  m: ServiceManifest;
}

/** Containers a service may have during a rolling update: its replicas plus, for start-first, up to parallelism new ones. */
export function peakContainers(m: ServiceManifest): number {
  const { replicas, update } = m.spec;
  return replicas + (update.order === 'start-first' ? Math.min(update.parallelism, replicas) : 0);
}

/**
 * Adds up peakContainers over each namespace's services in key order and reports, once per namespace, the service
 * whose replicas take the total past NAMESPACE_CONTAINERS_MAX, naming the namespace's total.
 */
export function checkNamespaceSizes(services: readonly LocatedService[], report: NamespaceReport): void {
  const byNamespace = new Map<string, LocatedService[]>();
  for (const s of services) {
    const list = byNamespace.get(s.m.metadata.namespace) ?? [];
    list.push(s);
    byNamespace.set(s.m.metadata.namespace, list);
  }
  for (const [namespace, list] of byNamespace) {
    const sorted = [...list].sort((a, b) => compare(key(a), key(b)));
    const total = sorted.reduce((sum, s) => sum + peakContainers(s.m), 0);
    if (total <= NAMESPACE_CONTAINERS_MAX) continue;
    let sum = 0;
    const crossing = sorted.find((s) => (sum += peakContainers(s.m)) > NAMESPACE_CONTAINERS_MAX) as LocatedService;
    const message = `namespace "${namespace}" would have up to ${total} containers on its network (replicas plus the start-first update surge of each service; this service brings it past ${NAMESPACE_CONTAINERS_MAX}), more than the ${NAMESPACE_CONTAINERS_MAX} a Docker bridge network safely holds: move services to another namespace or lower replicas`;
    report(crossing.doc, ['spec', 'replicas'], message);
  }
}

function key(s: LocatedService): string {
  return resourceKey(s.m.metadata.namespace, s.m.metadata.name);
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
