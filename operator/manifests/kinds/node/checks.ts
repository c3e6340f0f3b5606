/** Semantic checks of Nodes that the JSON Schema cannot express: endpoints (one Node each), TLS, capacity. */
import type { NodeManifest } from '../../../model/manifest.ts';
import type { PathSegment, RawDoc } from '../../yaml-source.ts';

/** Reports one issue at `path` of `doc` (at its key with target 'key'). */
export type NodeReport = (doc: RawDoc, path: PathSegment[], message: string, target?: 'key' | 'value') => void;

/** A typed Node with the document it came from. */
export interface LocatedNode {
  doc: RawDoc;
  manifest: NodeManifest;
}

const ENDPOINT: PathSegment[] = ['spec', 'endpoint'];

/**
 * Per Node: a tcp:// port from 1 to 65535, tls only on a tcp:// endpoint, declared capacities > 0. Across Nodes: no two
 * share an endpoint (the second is reported, naming the first and where it is). Duplicate names are reported with every
 * other kind's duplicates (Nodes are keyed by name alone).
 */
export function checkNodes(nodes: readonly LocatedNode[], report: NodeReport): void {
  const first = new Map<string, LocatedNode>();
  for (const node of nodes) {
    checkNode(node, report);
    const id = endpointId(node.manifest.spec.endpoint);
    const prev = first.get(id);
    if (!prev) {
      first.set(id, node);
      continue;
    }
    const at = prev.doc.loc.at(ENDPOINT);
    report(node.doc, ENDPOINT, `endpoint ${node.manifest.spec.endpoint} is also used by Node ${prev.manifest.metadata.name} at ${at.file}:${at.line}`);
  }
}

function checkNode({ doc, manifest }: LocatedNode, report: NodeReport): void {
  const { endpoint, tls, capacity } = manifest.spec;
  const tcp = endpoint.startsWith('tcp://');
  if (tcp) {
    const port = Number(/:([0-9]+)$/.exec(endpoint)?.[1]);
    if (!(port >= 1 && port <= 65535)) report(doc, ENDPOINT, `port ${port} is out of range (1-65535)`);
  }
  if (tls && !tcp) report(doc, ['spec', 'tls'], `tls applies to tcp:// endpoints only (this endpoint is ${endpoint})`, 'key');
  if (capacity.cpu !== undefined && capacity.cpu <= 0) report(doc, ['spec', 'capacity', 'cpu'], 'must be > 0');
  if (capacity.memory !== undefined && capacity.memory <= 0) report(doc, ['spec', 'capacity', 'memory'], 'must be > 0');
}

/** The host of a tcp:// endpoint compares case-insensitively (tcp://Node-A:2376 and tcp://node-a:2376 are one engine). */
function endpointId(endpoint: string): string {
  return endpoint.startsWith('tcp://') ? endpoint.toLowerCase() : endpoint;
}
