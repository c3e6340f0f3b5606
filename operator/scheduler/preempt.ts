/**
 * Preemption (kube-scheduler's PostFilter, Nomad's preemption): a replica that fits nowhere may evict replicas of
 * priority <= its own - 10 from one node. Eviction relieves only the load checks (resources, maxPerNode): a node is a
 * candidate only if it passed every node checker. On each candidate the smallest sufficient victim set is found (fewest
 * replicas, then lowest priority sum, then least resources); the node with the smallest set wins (then lowest priority
 * sum, then name). Exact search over k-subsets while that is cheap, a greedy pick with reprieve beyond. Each node's
 * residents stay sorted, and its last answer memoised, until something is placed on or evicted from it.
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

/** A possible victim: its priority, its share of the node (cpu + memory fractions), whether it is of the preemptor's service (set per search). */
interface Pooled {
  r: Resident;
  priority: number;
  w: number;
  same: number;
}

/** The residents of one node in victim order (lowest priority, largest, service, replica), prefix sums, and by size. */
interface Pool {
  version: number;
  /** The last demand searched on this node (service, priority, cpu, memory, maxPerNode) and its answer. */
  memoKey: string | undefined;
  memo: Preemption | undefined;
  items: Pooled[];
  cpuPre: Float64Array;
  memPre: Float64Array;
  byCpu: Pooled[];
  byMem: Pooled[];
}

/** What must be freed on a node: millicores, bytes, replicas of the same service. Mirrors resourcesFit and maxPerNode. */
interface Deficit {
  cpu: number;
  memory: number;
  same: number;
}

export class Preemptor {
  private readonly pools: (Pool | undefined)[] = [];

  constructor(private readonly state: ClusterState) {}

  /** The best node and victims for the view's replica among `candidates` (which passed the node checkers), if any. */
  find(view: ReplicaView, candidates: Int32Array): Preemption | undefined {
    const r = view.demand.replica;
    const key = `${r.service}\u0000${r.placement.priority}\u0000${view.demand.cpu}\u0000${view.demand.memory}\u0000${r.placement.maxPerNode}`;
    let best: Preemption | undefined;
    for (const i of candidates) {
      const pool = this.pool(i);
      // The answer on a node depends only on what runs there and on the demand: kept until the node changes.
      if (pool.memoKey !== key) [pool.memoKey, pool.memo] = [key, this.victimsOn(i, pool, view)];
      const found = pool.memo;
      if (!found) continue;
      const fewer = !best || found.victims.length < best.victims.length;
      if (fewer || (found.victims.length === best!.victims.length && found.prioritySum < best!.prioritySum)) best = found;
    }
    return best;
  }

  /** The smallest sufficient set of victims on node `i`, if any. */
  private victimsOn(i: number, pool: Pool, view: ReplicaView): Preemption | undefined {
    const need = deficitOn(this.state, i, view);
    const limit = view.demand.replica.placement.priority - PRIORITY_GAP;
    const service = view.demand.replica.service;
    let eligible = 0;
    while (eligible < pool.items.length && pool.items[eligible]!.priority <= limit) eligible++;
    const cands = pool.items.slice(0, eligible);
    for (const p of cands) p.same = p.r.replica.service === service ? 1 : 0;
    if (!enough(need, pool.cpuPre[eligible]!, pool.memPre[eligible]!, sum(cands, (p) => p.same))) return undefined;
    for (let k = 0; k <= eligible; k++) {
      // What any k victims can free at most: the k largest of each measure.
      if (!enough(need, topSum(pool.byCpu, limit, k, 'cpu'), topSum(pool.byMem, limit, k, 'memory'), topSum(pool.byCpu, limit, k, 'same'))) continue;
      const picked = binomialAtMost(eligible, k, SUBSET_BUDGET) ? bestSubset(cands, k, need) : greedy(cands, need);
      if (picked) return { node: i, victims: picked.map((p) => p.r), prioritySum: sum(picked, (p) => p.priority) };
    }
    return undefined;
  }

  private pool(i: number): Pool {
    const s = this.state;
    const cached = this.pools[i];
    if (cached && cached.version === s.version[i]) return cached;
    const items = s.residentsOf(i).map((r) => ({ r, priority: r.replica.placement.priority, w: share(s, r), same: 0 }));
    items.sort((a, b) => a.priority - b.priority || b.w - a.w || byString(a.r.replica.service, b.r.replica.service) || a.r.replica.replica - b.r.replica.replica);
    const prefix = (f: (p: Pooled) => number) => {
      const out = new Float64Array(items.length + 1);
      items.forEach((p, j) => (out[j + 1] = out[j]! + f(p)));
      return out;
    };
    const pool: Pool = {
      version: s.version[i]!,
      memoKey: undefined,
      memo: undefined,
      items,
      cpuPre: prefix((p) => p.r.cpu),
      memPre: prefix((p) => p.r.memory),
      byCpu: [...items].sort((a, b) => b.r.cpu - a.r.cpu),
      byMem: [...items].sort((a, b) => b.r.memory - a.r.memory),
    };
    this.pools[i] = pool;
    return pool;
  }
}

function deficitOn(s: ClusterState, i: number, view: ReplicaView): Deficit {
  const max = view.demand.replica.placement.maxPerNode;
  return {
    cpu: s.cpuUsed[i]! + view.demand.cpu - s.cpuCap[i]!,
    memory: s.memUsed[i]! + view.demand.memory - s.memCap[i]!,
    same: max === undefined ? 0 : view.onNode[i]! + 1 - max,
  };
}

/** Share of its node a resident takes (cpu + memory fractions): the "resources" of the tie-break. */
function share(s: ClusterState, r: Resident): number {
  const c = s.cpuCap[r.node]!;
  const m = s.memCap[r.node]!;
  return (c > 0 && c !== Infinity ? r.cpu / c : 0) + (m > 0 && m !== Infinity ? r.memory / m : 0);
}

function enough(need: Deficit, cpu: number, memory: number, same: number): boolean {
  return cpu >= need.cpu && memory >= need.memory && same >= need.same;
}

/** Sum of `field` over the first k of `sorted` with priority <= limit (`same`: at most k, as many as there are). */
function topSum(sorted: readonly Pooled[], limit: number, k: number, field: 'cpu' | 'memory' | 'same'): number {
  let total = 0;
  let taken = 0;
  for (let j = 0; j < sorted.length && taken < k; j++) {
    const p = sorted[j]!;
    if (p.priority > limit) continue;
    if (field === 'same') total += p.same;
    else total += p.r[field];
    if (field !== 'same' || p.same > 0) taken++;
  }
  return total;
}

/** Search state of bestSubset. */
interface Search {
  pool: readonly Pooled[];
  k: number;
  need: Deficit;
  chosen: number[];
  best: number[] | undefined;
  bestPrio: number;
  bestW: number;
}

/** Among the sufficient k-subsets of `pool`, the one of lowest priority sum, then least share, then first in victim order. */
function bestSubset(pool: readonly Pooled[], k: number, need: Deficit): Pooled[] | undefined {
  if (k === 1) {
    // The common case, without the search: the first sufficient victim of lowest priority, then least share.
    let best: Pooled | undefined;
    for (const p of pool) {
      if (!enough(need, p.r.cpu, p.r.memory, p.same)) continue;
      if (!best || p.priority < best.priority || (p.priority === best.priority && p.w < best.w)) best = p;
    }
    return best && [best];
  }
  const search: Search = { pool, k, need, chosen: [], best: undefined, bestPrio: Infinity, bestW: Infinity };
  walk(search, 0, 0, 0, 0, 0, 0);
  return search.best?.map((j) => pool[j]!);
}

function walk(s: Search, from: number, cpu: number, mem: number, same: number, prio: number, w: number): void {
  if (s.chosen.length === s.k) {
    if (!enough(s.need, cpu, mem, same) || prio > s.bestPrio || (prio === s.bestPrio && w >= s.bestW)) return;
    [s.best, s.bestPrio, s.bestW] = [[...s.chosen], prio, w];
    return;
  }
  for (let j = from; j <= s.pool.length - (s.k - s.chosen.length); j++) {
    const p = s.pool[j]!;
    s.chosen.push(j);
    walk(s, j + 1, cpu + p.r.cpu, mem + p.r.memory, same + p.same, prio + p.priority, w + p.w);
    s.chosen.pop();
  }
}

/** Take victims in order while they free something still needed, then reprieve any no longer needed (highest priority first). */
function greedy(pool: Pooled[], need: Deficit): Pooled[] | undefined {
  let cpu = 0, mem = 0, same = 0;
  const taken: Pooled[] = [];
  for (const p of pool) {
    if (enough(need, cpu, mem, same)) break;
    const helps = (cpu < need.cpu && p.r.cpu > 0) || (mem < need.memory && p.r.memory > 0) || (same < need.same && p.same > 0);
    if (!helps) continue;
    taken.push(p);
    [cpu, mem, same] = [cpu + p.r.cpu, mem + p.r.memory, same + p.same];
  }
  if (!enough(need, cpu, mem, same)) return undefined;
  for (let j = taken.length - 1; j >= 0; j--) {
    const p = taken[j]!;
    if (!enough(need, cpu - p.r.cpu, mem - p.r.memory, same - p.same)) continue;
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

/** Whether C(n, k) <= cap, without overflowing. */
function binomialAtMost(n: number, k: number, cap: number): boolean {
  let c = 1;
  for (let j = 1; j <= Math.min(k, n - k); j++) {
    c = (c * (n - j + 1)) / j;
    if (c > cap) return false;
  }
  return true;
}
