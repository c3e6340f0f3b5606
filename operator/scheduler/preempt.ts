/**
 * Preemption (kube-scheduler's PostFilter, Nomad's preemption): a replica that fits nowhere may evict replicas of
 * priority <= its own - 10 from one node. Eviction relieves only the load checks (resources, maxPerNode): a node is a
 * candidate only if it passed every node checker. On each candidate the smallest sufficient victim set is found (fewest
 * replicas, then lowest priority sum, then least resources); the node with the smallest set wins (then lowest priority
 * sum, then name). Exact search over k-subsets while that is cheap, a greedy pick with reprieve beyond.
 */
import { byString, type ClusterState } from './state.ts';
import type { ReplicaView, Resident } from './types.ts';

/** A victim must be at least this much lower in priority than the replica that evicts it (Nomad's rule). */
export const PRIORITY_GAP = 10;
/** Most k-subsets examined on one node before falling back to the greedy choice. */
const SUBSET_BUDGET = 5000;

export interface Preemption {
  node: number;
  victims: Resident[];
  prioritySum: number;
}

/** What must be freed on a node: millicores, bytes, replicas of the same service. */
interface Deficit {
  cpu: number;
  memory: number;
  same: number;
}

/** The best node and victims for the view's replica among `candidates` (which passed the node checkers), if any. */
export function findPreemption(view: ReplicaView, candidates: Int32Array): Preemption | undefined {
  let best: Preemption | undefined;
  for (const i of candidates) {
    const found = victimsOn(i, view, best);
    if (!found) continue;
    const better = !best || found.victims.length < best.victims.length || (found.victims.length === best.victims.length && found.prioritySum < best.prioritySum);
    if (better) best = found;
  }
  return best;
}

function deficitOn(i: number, view: ReplicaView): Deficit {
  const s = view.state;
  const max = view.demand.replica.placement.maxPerNode;
  return {
    cpu: s.cpuUsed[i]! + view.demand.cpu - s.cpuCap[i]!,
    memory: s.memUsed[i]! + view.demand.memory - s.memCap[i]!,
    same: max === undefined ? 0 : view.onNode[i]! + 1 - max,
  };
}

/** Share of node `i` a resident takes (cpu + memory fractions), the "resources" of the tie-break. */
function weight(s: ClusterState, r: Resident): number {
  const c = s.cpuCap[r.node]!;
  const m = s.memCap[r.node]!;
  return (c > 0 && c !== Infinity ? r.cpu / c : 0) + (m > 0 && m !== Infinity ? r.memory / m : 0);
}

/** The smallest sufficient set of victims on node `i`, if there is one that could beat `best`. */
function victimsOn(i: number, view: ReplicaView, best: Preemption | undefined): Preemption | undefined {
  const maxK = best ? best.victims.length : Infinity;
  const need = deficitOn(i, view);
  const limit = view.demand.replica.placement.priority - PRIORITY_GAP;
  const service = view.demand.replica.service;
  // Canonical order: lowest priority, then largest, then service and replica — so ties resolve the same for any input order.
  const pool = view.state.residentsOf(i).filter((r) => r.replica.placement.priority <= limit).map((r) => ({ r, w: weight(view.state, r), same: r.replica.service === service ? 1 : 0 }));
  pool.sort((a, b) => a.r.replica.placement.priority - b.r.replica.placement.priority || b.w - a.w || byString(a.r.replica.service, b.r.replica.service) || a.r.replica.replica - b.r.replica.replica);
  const enough = (cpu: number, memory: number, same: number) => cpu >= need.cpu && memory >= need.memory && same >= need.same;
  if (!enough(sum(pool, (v) => v.r.cpu), sum(pool, (v) => v.r.memory), sum(pool, (v) => v.same))) return undefined;
  // Upper bounds of what any k victims can free: the k largest of each measure.
  const topCpu = prefix(pool.map((v) => v.r.cpu));
  const topMem = prefix(pool.map((v) => v.r.memory));
  const topSame = prefix(pool.map((v) => v.same));
  for (let k = 0; k <= Math.min(pool.length, maxK); k++) {
    if (!enough(topCpu[k]!, topMem[k]!, topSame[k]!)) continue;
    // As many victims as the best so far: only a lower priority sum can win, and the k lowest priorities bound it from below.
    if (k === maxK && sum(pool.slice(0, k), (v) => v.r.replica.placement.priority) >= best!.prioritySum) return undefined;
    const picked = binomialAtMost(pool.length, k, SUBSET_BUDGET) ? bestSubset(pool, k, enough) : greedy(pool, enough);
    if (picked && picked.length <= maxK) return { node: i, victims: picked.map((p) => p.r), prioritySum: sum(picked, (p) => p.r.replica.placement.priority) };
    if (picked) return undefined;
  }
  return undefined;
}

interface Pooled {
  r: Resident;
  w: number;
  same: number;
}

type Enough = (cpu: number, memory: number, same: number) => boolean;

/** Among the sufficient k-subsets of `pool`, the one of lowest priority sum, then least weight, then first in canonical order. */
function bestSubset(pool: Pooled[], k: number, enough: Enough): Pooled[] | undefined {
  let best: number[] | undefined;
  let bestPrio = Infinity;
  let bestW = Infinity;
  const chosen: number[] = [];
  const walk = (from: number, cpu: number, mem: number, same: number, prio: number, w: number): void => {
    if (chosen.length === k) {
      if (enough(cpu, mem, same) && (prio < bestPrio || (prio === bestPrio && w < bestW))) [best, bestPrio, bestW] = [[...chosen], prio, w];
      return;
    }
    for (let j = from; j <= pool.length - (k - chosen.length); j++) {
      const p = pool[j]!;
      chosen.push(j);
      walk(j + 1, cpu + p.r.cpu, mem + p.r.memory, same + p.same, prio + p.r.replica.placement.priority, w + p.w);
      chosen.pop();
    }
  };
  walk(0, 0, 0, 0, 0, 0);
  return best?.map((j) => pool[j]!);
}

/** Take victims in canonical order while they free something still needed, then reprieve any no longer needed (highest priority first). */
function greedy(pool: Pooled[], enough: Enough): Pooled[] | undefined {
  let cpu = 0, mem = 0, same = 0;
  const taken: Pooled[] = [];
  for (const p of pool) {
    if (enough(cpu, mem, same)) break;
    const helps = (!enough(cpu, Infinity, Infinity) && p.r.cpu > 0) || (!enough(Infinity, mem, Infinity) && p.r.memory > 0) || (!enough(Infinity, Infinity, same) && p.same > 0);
    if (!helps) continue;
    taken.push(p);
    [cpu, mem, same] = [cpu + p.r.cpu, mem + p.r.memory, same + p.same];
  }
  if (!enough(cpu, mem, same)) return undefined;
  for (let j = taken.length - 1; j >= 0; j--) {
    const p = taken[j]!;
    if (!enough(cpu - p.r.cpu, mem - p.r.memory, same - p.same)) continue;
    [cpu, mem, same] = [cpu - p.r.cpu, mem - p.r.memory, same - p.same];
    taken.splice(j, 1);
  }
  return taken;
}

function sum<T>(xs: readonly T[], f: (x: T) => number): number {
  let s = 0;
  for (const x of xs) s += f(x);
  return s;
}

/** out[k] = sum of the k largest values. */
function prefix(values: number[]): number[] {
  const sorted = values.sort((a, b) => b - a);
  const out = [0];
  for (const v of sorted) out.push(out[out.length - 1]! + v);
  return out;
}

/** Whether C(n, k) <= cap, without overflowing. */
function binomialAtMost(n: number, k: number, cap: number): boolean {
  let c = 1;
  for (let j = 1; j <= Math.min(k, n - k); j++) {
    c = (c * (n - j + 1)) / j;
    if (c > cap) return false;
  }
  return true;
}
