/**
 * Feasibility checkers, in the order the pipeline runs them (the first that rejects a node names its reason):
 * node ready, node schedulable, constraints (node checkers: run once per placement), resources fit, maxPerNode
 * (load checkers: against what runs on the node now, incl. this call's earlier assignments; preemption may relieve them).
 */
import { satisfies } from '../manifests/placement.ts';
import type { Checker, Reject, ReplicaView } from './types.ts';

/** Filters nodes[0..count) in place by `reasonOf` (undefined = accepted). For node checkers, which run once per placement. */
function keep(nodes: Int32Array, count: number, reasonOf: (i: number) => string | undefined, reject: Reject | undefined): number {
  let kept = 0;
  for (let k = 0; k < count; k++) {
    const i = nodes[k]!;
    const reason = reasonOf(i);
    if (reason === undefined) nodes[kept++] = i;
    else reject?.(i, reason);
  }
  return kept;
}

export const nodeReady: Checker = {
  name: 'node-ready',
  kind: 'node',
  filter: (nodes, count, v, reject) => keep(nodes, count, (i) => (v.state.nodes[i]!.ready ? undefined : 'node not ready'), reject),
};

export const nodeSchedulable: Checker = {
  name: 'node-schedulable',
  kind: 'node',
  filter: (nodes, count, v, reject) => keep(nodes, count, (i) => (v.state.nodes[i]!.schedulable ? undefined : 'node unschedulable'), reject),
};

/** Every placement constraint holds; a missing label never equals a value and always differs from it (as in Swarm). */
export const constraints: Checker = {
  name: 'constraints',
  kind: 'node',
  filter(nodes, count, v, reject) {
    const all = v.demand.replica.placement.constraints;
    return keep(nodes, count, (i) => {
      const unmet = all.find((c) => !satisfies(v.state.nodes[i]!, c));
      return unmet && `${unmet.expr} not met`;
    }, reject);
  },
};

function resourceReason(cpu: boolean, memory: boolean): string {
  return cpu && memory ? 'insufficient cpu and memory' : cpu ? 'insufficient cpu' : 'insufficient memory';
}

/** cpu and memory requests fit the capacity minus what is placed on the node. */
export const resourcesFit: Checker = {
  name: 'resources-fit',
  kind: 'load',
  filter(nodes, count, v: ReplicaView, reject) {
    const { cpuUsed, cpuCap, memUsed, memCap } = v.state;
    const { cpu, memory } = v.demand;
    let kept = 0;
    for (let k = 0; k < count; k++) {
      const i = nodes[k]!;
      const cpuShort = cpuUsed[i]! + cpu > cpuCap[i]!;
      const memShort = memUsed[i]! + memory > memCap[i]!;
      if (!cpuShort && !memShort) nodes[kept++] = i;
      else reject?.(i, resourceReason(cpuShort, memShort));
    }
    return kept;
  },
};

/** Fewer than placement.maxPerNode replicas of the service on the node (Swarm's max replicas per node). */
export const maxPerNode: Checker = {
  name: 'max-per-node',
  kind: 'load',
  filter(nodes, count, v, reject) {
    const max = v.demand.replica.placement.maxPerNode;
    if (max === undefined) return count;
    let kept = 0;
    for (let k = 0; k < count; k++) {
      const i = nodes[k]!;
      if (v.onNode[i]! < max) nodes[kept++] = i;
      else reject?.(i, `maxPerNode ${max} reached`);
    }
    return kept;
  },
};

/** Node checkers first (cheap, cacheable), then load checkers (preempt.ts `deficitOn` mirrors the two load checkers). */
export const CHECKERS: readonly Checker[] = [nodeReady, nodeSchedulable, constraints, resourcesFit, maxPerNode];
export const NODE_CHECKERS = CHECKERS.filter((c) => c.kind === 'node');
export const LOAD_CHECKERS = CHECKERS.filter((c) => c.kind === 'load');

/** Runs `checkers` in order over nodes[0..count) in place; returns how many pass them all. */
export function runCheckers(checkers: readonly Checker[], nodes: Int32Array, count: number, view: ReplicaView, reject?: Reject): number {
  let n = count;
  for (let j = 0; j < checkers.length && n > 0; j++) n = checkers[j]!.filter(nodes, n, view, reject);
  return n;
}
