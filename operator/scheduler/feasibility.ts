/**
 * Feasibility: node checkers run once per distinct placement (they depend on nothing else), load checkers per replica
 * over the nodes left. Also the kube-scheduler-style explanation of a replica that fits nowhere.
 */
import type { PlacementSpec } from '../model/manifest.ts';
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
    const nodes: number[] = [];
    const rejected = new Map<string, number>();
    for (let i = 0; i < this.state.nodes.length; i++) {
      const reason = firstReason(this.checkers, i, view);
      if (reason === undefined) nodes.push(i);
      else rejected.set(reason, (rejected.get(reason) ?? 0) + 1);
    }
    this.cache.set(key, (c = { nodes: Int32Array.from(nodes), rejected }));
    return c;
  }
}

/** The part of a placement node checkers read. */
function placementKey(p: PlacementSpec): string {
  let k = '';
  for (const c of p.constraints) k += `${c.field.kind === 'name' ? '' : `l:${c.field.key}`}\u0000${c.op}\u0000${c.value}\u0001`;
  return k;
}

export function firstReason(checkers: readonly Checker[], i: number, view: ReplicaView): string | undefined {
  for (let j = 0; j < checkers.length; j++) {
    const reason = checkers[j]!.check(i, view);
    if (reason !== undefined) return reason;
  }
  return undefined;
}

/** "0/3 nodes available: 2 insufficient memory, 1 node.labels.zone == a not met" (most frequent reason first). */
export function explain(total: number, candidates: Candidates, loadCheckers: readonly Checker[], view: ReplicaView): string {
  const counts = new Map(candidates.rejected);
  for (const i of candidates.nodes) {
    const reason = firstReason(loadCheckers, i, view);
    if (reason !== undefined) counts.set(reason, (counts.get(reason) ?? 0) + 1);
  }
  if (total === 0) return '0/0 nodes available: no nodes';
  const parts = [...counts].sort((a, b) => b[1] - a[1] || byString(a[0], b[0])).map(([reason, n]) => `${n} ${reason}`);
  return `0/${total} nodes available: ${parts.join(', ')}`;
}
