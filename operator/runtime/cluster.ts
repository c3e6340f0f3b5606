/** The pool's nodes as a pass sees them: scheduler nodes, which engines are silent, which are lost, and the status lines. */
import type { SchedNode } from '../scheduler/types.ts';
import type { NodeStatus } from '../model/cluster.ts';
import type { MultiRuntime } from './multi.ts';
import type { NodePool } from './node-pool.ts';

/** The nodes of the cluster at one moment, as a pass plans with them. */
export interface ClusterView {
  nodes: SchedNode[];
  /** Nodes whose engine does not answer now (containers frozen). */
  unreachable: ReadonlySet<string>;
  /** NotReady past the grace: their replicas are rescheduled. A subset of unreachable. */
  lost: ReadonlySet<string>;
  /** For the status: every node with its state. */
  states: NodeStatus[];
}

export function clusterView(pool: NodePool, runtime: MultiRuntime): ClusterView {
  const nodes = pool.nodes();
  const stale = runtime.stale();
  return {
    nodes: nodes.map((n) => ({
      name: n.name,
      labels: { ...n.spec.labels },
      // Capacity unknown until the engine answered once: nothing is ruled out for size before then.
      capacity: n.capacity ?? { cpu: Number.POSITIVE_INFINITY, memory: Number.POSITIVE_INFINITY },
      ready: n.state === 'Ready',
      schedulable: !n.spec.unschedulable,
    })),
    unreachable: new Set(nodes.filter((n) => n.state !== 'Ready' || stale.has(n.name)).map((n) => n.name)),
    lost: new Set(nodes.filter((n) => n.state === 'NotReady').map((n) => n.name)),
    states: [
      ...nodes.map((n) => ({
        name: n.name, state: n.state, endpoint: n.spec.endpoint, ...(n.error ? { error: n.error } : {}),
        ...(n.capacity ? { capacity: { ...n.capacity } } : {}), ...(Object.keys(n.spec.labels).length ? { labels: { ...n.spec.labels } } : {}),
        ...(n.spec.unschedulable ? { cordoned: true } : {}),
        ...(n.engine ? { engine: n.engine } : {}), ...(n.limits?.length ? { limits: [...n.limits] } : {}),
      })),
      ...pool.failures().map((f) => ({ name: f.name, state: 'NotReady' as const, endpoint: f.endpoint, error: f.error })),
    ].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)),
  };
}
