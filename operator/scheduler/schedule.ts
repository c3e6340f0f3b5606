/**
 * The scheduler: one pure, deterministic pass placing pending replicas on nodes (Nomad's GenericStack, kube-scheduler's
 * framework). Same input, same output — whatever the order of nodes, placed or pending.
 */
import { LOAD_CHECKERS, NODE_CHECKERS } from './checkers.ts';
import { explain, firstReason, NodeFeasibility } from './feasibility.ts';
import { findPreemption } from './preempt.ts';
import { scorersFor } from './scorers.ts';
import { byString, ClusterState, demandOf } from './state.ts';
import type { ReplicaView, ScheduleInput, ScheduleResult, SchedReplica } from './types.ts';

export function schedule(input: ScheduleInput): ScheduleResult {
  const state = new ClusterState(input.nodes, input.placed);
  const nodeFeasibility = new NodeFeasibility(state, NODE_CHECKERS);
  const feasible = new Int32Array(state.nodes.length);
  const result: ScheduleResult = { assignments: [], unschedulable: [], evictions: [] };

  // Queue: priority desc, then service, then replica — higher priorities claim capacity (and preempt) first.
  for (const replica of queueOrder(input.pending)) {
    const view = state.view(demandOf(replica));

    // 1. Node checkers (ready, schedulable, constraints): depend on the node and the placement only, cached per placement.
    const candidates = nodeFeasibility.candidates(view);

    // 2. Load checkers (resources fit, maxPerNode) against what runs there now, including this call's assignments;
    //    the same pass finds the fewest replicas of the service on a feasible node / domain, which scorers are relative to.
    const count = filterLoad(candidates.nodes, view, feasible);

    // 3. Scorers, weighted; nodes are in name order and only a strictly higher score wins, so ties go to the first name.
    let node = bestNode(feasible, count, view);

    // 4. Fits nowhere: preempt lower-priority replicas (>= 10 below) on the one node where the fewest must go.
    //    Victims leave the state now; they are not re-placed in this call (the caller retries them as pending).
    if (node < 0) {
      const pre = findPreemption(view, candidates.nodes);
      if (pre) {
        for (const victim of pre.victims) {
          state.evict(victim);
          const v = victim.replica;
          result.evictions.push({ victim: v, by: { service: replica.service, replica: replica.replica }, reason: `preempted by ${replica.service} #${replica.replica} (priority ${replica.placement.priority} > ${v.placement.priority})` });
        }
        node = pre.node;
      }
    }

    // 5. Commit the placement (later replicas see it), or explain, per reason over all nodes, why nothing fits.
    if (node >= 0) {
      state.place(view.demand, node);
      result.assignments.push({ service: replica.service, replica: replica.replica, node: state.nodes[node]!.name });
    } else {
      result.unschedulable.push({ service: replica.service, replica: replica.replica, reason: explain(state.nodes.length, candidates, LOAD_CHECKERS, view) });
    }
  }
  return result;
}

function queueOrder(pending: readonly SchedReplica[]): SchedReplica[] {
  return [...pending].sort((a, b) => b.placement.priority - a.placement.priority || byString(a.service, b.service) || a.replica - b.replica);
}

/** Writes the candidates passing every load checker into `out`, returns how many; sets view.minOnNode / minInDomain. */
function filterLoad(candidates: Int32Array, view: ReplicaView, out: Int32Array): number {
  const key = view.demand.replica.placement.topologySpreadKey;
  const { nodes } = view.state;
  const { onNode, inDomain } = view;
  let n = 0;
  let minOnNode = Infinity;
  let minInDomain = Infinity;
  for (let k = 0; k < candidates.length; k++) {
    const i = candidates[k]!;
    if (firstReason(LOAD_CHECKERS, i, view) !== undefined) continue;
    out[n++] = i;
    if (onNode[i]! < minOnNode) minOnNode = onNode[i]!;
    if (key === undefined) continue;
    const value = nodes[i]!.labels[key];
    const c = value === undefined ? Infinity : (inDomain!.get(value) ?? 0);
    if (c < minInDomain) minInDomain = c;
  }
  view.minOnNode = minOnNode === Infinity ? 0 : minOnNode;
  view.minInDomain = minInDomain === Infinity ? 0 : minInDomain;
  return n;
}

/** Index of the feasible node with the highest weighted score (first in name order on ties); -1 when none. */
function bestNode(feasible: Int32Array, count: number, view: ReplicaView): number {
  const scorers = scorersFor(view.demand.replica.placement);
  let best = -1;
  let bestScore = -Infinity;
  for (let k = 0; k < count; k++) {
    const i = feasible[k]!;
    let score = 0;
    for (let j = 0; j < scorers.length; j++) score += scorers[j]!.weight * scorers[j]!.score(i, view);
    if (score > bestScore) [best, bestScore] = [i, score];
  }
  return best;
}
