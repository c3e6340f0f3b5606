/**
 * Feasibility checkers, in the order the pipeline runs them (the first that rejects a node names the reason):
 * node ready, node schedulable, constraints (node checkers: cached per placement), resources fit, maxPerNode
 * (load checkers: against what runs on the node now, incl. this call's earlier assignments; preemption may relieve them).
 */
import { satisfies } from '../manifests/placement.ts';
import type { Checker } from './types.ts';

export const nodeReady: Checker = {
  name: 'node-ready',
  kind: 'node',
  check: (i, v) => (v.state.nodes[i]!.ready ? undefined : 'node not ready'),
};

export const nodeSchedulable: Checker = {
  name: 'node-schedulable',
  kind: 'node',
  check: (i, v) => (v.state.nodes[i]!.schedulable ? undefined : 'node unschedulable'),
};

/** Every placement constraint holds; a missing label never equals a value and always differs from it (as in Swarm). */
export const constraints: Checker = {
  name: 'constraints',
  kind: 'node',
  check(i, v) {
    const node = v.state.nodes[i]!;
    for (const c of v.demand.replica.placement.constraints) if (!satisfies(node, c)) return `${c.expr} not met`;
    return undefined;
  },
};

export const resourcesFit: Checker = {
  name: 'resources-fit',
  kind: 'load',
  check(i, v) {
    const s = v.state;
    const cpu = s.cpuUsed[i]! + v.demand.cpu > s.cpuCap[i]!;
    const memory = s.memUsed[i]! + v.demand.memory > s.memCap[i]!;
    if (cpu && memory) return 'insufficient cpu and memory';
    if (cpu) return 'insufficient cpu';
    return memory ? 'insufficient memory' : undefined;
  },
};

export const maxPerNode: Checker = {
  name: 'max-per-node',
  kind: 'load',
  check(i, v) {
    const max = v.demand.replica.placement.maxPerNode;
    return max === undefined || v.onNode[i]! < max ? undefined : `maxPerNode ${max} reached`;
  },
};

/** Node checkers first (cheap, cacheable), then load checkers (preempt.ts `deficitOn` mirrors the two load checkers). */
export const CHECKERS: readonly Checker[] = [nodeReady, nodeSchedulable, constraints, resourcesFit, maxPerNode];
export const NODE_CHECKERS = CHECKERS.filter((c) => c.kind === 'node');
export const LOAD_CHECKERS = CHECKERS.filter((c) => c.kind === 'load');
