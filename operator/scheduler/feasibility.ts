/**
 * Feasibility: node checkers run once per distinct placement (they depend on nothing else), load checkers per replica
 * over the nodes left. Also the kube-scheduler-style explanation of a replica that fits nowhere.
 */
import type { PlacementSpec } from '../model/manifest.ts';
import { runCheckers } from './checkers.ts';
import type { ClusterState } from './state.ts';
import { byString } from './state.ts';
import type { Checker, ReplicaView } from './types.ts';

/** Nodes that pass every node checker for one placement, and how many each rejecting reason turned away. */
export interface Candidates {
  /** Node indices in name order. */
  nodes: Int32Array;
  rejected: Map<string, number>;
}

export class NodeFeasibility {
  private readonly cache = new Map<string, Candidates>();

  constructor(private readonly state: ClusterState, private readonly checkers: readonly Checker[]) {}

  /** Nodes passing the node checkers for the view's placement (computed once per distinct set of constraints). */
  candidates(view: ReplicaView): Candidates {
    const key = placementKey(view.demand.replica.placement);
    let c = this.cache.get(key);
    if (c) return c;
    const all = Int32Array.from({ length: this.state.nodes.length }, (_, i) => i);
    const rejected = new Map<string, number>();
    const n = runCheckers(this.checkers, all, all.length, view, (_, reason) => rejected.set(reason, (rejected.get(reason) ?? 0) + 1));
    this.cache.set(key, (c = { nodes: all.slice(0, n), rejected }));
    return c;
  }
}

/** The part of a placement node checkers read. */
function placementKey(p: PlacementSpec): string {
  let k = '';
  for (const c of p.constraints) k += `${c.field.kind === 'name' ? '' : `l:${c.field.key}`}\u0000${c.op}\u0000${c.value}\u0001`;
  return k;
}

/** "0/3 nodes available: 2 insufficient memory, 1 node.labels.zone == a not met" (most frequent reason first). */
export function explain(total: number, candidates: Candidates, loadCheckers: readonly Checker[], view: ReplicaView): string {
  if (total === 0) return '0/0 nodes available: no nodes';
  const counts = new Map(candidates.rejected);
  const nodes = candidates.nodes.slice();
  runCheckers(loadCheckers, nodes, nodes.length, view, (_, reason) => counts.set(reason, (counts.get(reason) ?? 0) + 1));
  const parts = [...counts].sort((a, b) => b[1] - a[1] || byString(a[0], b[0])).map(([reason, n]) => `${n} ${reason}`);
  return `0/${total} nodes available: ${parts.join(', ')}`;
}
