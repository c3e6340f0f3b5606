/**
 * The scheduler: one pure, deterministic pass placing pending replicas on nodes (Nomad's GenericStack, kube-scheduler's
 * framework). Same input, same output — whatever the order of nodes, placed or pending.
 */
import { LOAD_CHECKERS, NODE_CHECKERS, runCheckers } from './checkers.ts';
import { explain, NodeFeasibility } from './feasibility.ts';
import { Preemptor } from './preempt.ts';
import { scorersFor } from './scorers.ts';
import { byString, ClusterState, demandOf } from './state.ts';
import type { ReplicaView, ScheduleInput, ScheduleResult, SchedReplica } from './types.ts';

/**
 * Places `pending` on `nodes` around what is `placed`: assignments, replicas that fit nowhere (with kube-scheduler-style
 * reasons) and replicas evicted to make room for higher priorities. Pure: reads only its argument, which it leaves as is.
 */
export function schedule(input: ScheduleInput): ScheduleResult {
  const state = new ClusterState(input.nodes, input.placed);
  const nodeFeasibility = new NodeFeasibility(state, NODE_CHECKERS);
  const preemptor = new Preemptor(state);
  const n = state.nodes.length;
  const scratch: Scratch = { nodes: new Int32Array(n), scores: new Float64Array(n), totals: new Float64Array(n) };
  const result: ScheduleResult = { assignments: [], unschedulable: [], evictions: [] };

  // Queue: priority desc, then service, then replica — higher priorities claim capacity (and preempt) first.
  for (const replica of queueOrder(input.pending)) {
    const view = state.view(demandOf(replica));

    // 1. Node checkers (ready, schedulable, constraints): depend on the node and the placement only, cached per placement.
    const candidates = nodeFeasibility.candidates(view);

    // 2. Load checkers (resources fit, maxPerNode) against what runs there now, including this call's assignments.
    scratch.nodes.set(candidates.nodes);
    const count = runCheckers(LOAD_CHECKERS, scratch.nodes, candidates.nodes.length, view);

    // 3. Scorers, weighted; nodes stay in name order and only a strictly higher score wins, so ties go to the first name.
    let node = bestNode(scratch.nodes, count, view, scratch);

    // 4. Fits nowhere: preempt lower-priority replicas (>= 10 below) on the one node where the fewest must go.
    //    Victims leave the state now; they are not re-placed in this call (the caller retries them as pending).
    if (node < 0) {
      const pre = preemptor.find(view, candidates.nodes);
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

/** Buffers reused for every replica of the call (one slot per node). */
interface Scratch {
  nodes: Int32Array;
  scores: Float64Array;
  totals: Float64Array;
}

function queueOrder(pending: readonly SchedReplica[]): SchedReplica[] {
  return [...pending].sort((a, b) => b.placement.priority - a.placement.priority || byString(a.service, b.service) || a.replica - b.replica);
}

/** Index of the node in nodes[0..count) with the highest weighted score (first in name order on ties); -1 when none. */
function bestNode(nodes: Int32Array, count: number, view: ReplicaView, scratch: Scratch): number {
  const { totals, scores } = scratch;
  totals.fill(0, 0, count);
  for (const scorer of scorersFor(view.demand.replica.placement)) {
    scorer.score(nodes, count, view, scores);
    for (let k = 0; k < count; k++) totals[k]! += scorer.weight * scores[k]!;
  }
  let best = -1;
  let bestScore = -Infinity;
  for (let k = 0; k < count; k++) {
    if (totals[k]! <= bestScore) continue;
    best = nodes[k]!;
    bestScore = totals[k]!;
  }
  return best;
}
