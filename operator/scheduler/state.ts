/**
 * The cluster as the scheduler tracks it during one call: nodes in name order (the index is the tie-break), and per
 * node the allocation and the residents, per (service, node) replica counts, per (service, label key, value) domain
 * counts (label values numbered per key, so a domain lookup is two array reads). Every figure is updated incrementally
 * on place / evict, so one placement costs O(nodes), never O(replicas x nodes). Requests are integers (millicores,
 * bytes): sums are exact whatever the input order.
 */
import type { Demand, Placed, ReplicaView, Resident, SchedNode, SchedReplica } from './types.ts';

/** Cores -> millicores (kube's milli units); non-finite positive capacity stays Infinity. */
function milli(cores: number): number {
  return toUnits(cores * 1000);
}

function toUnits(x: number): number {
  if (Number.isNaN(x) || x <= 0) return 0;
  return Number.isFinite(x) ? Math.round(x) : Infinity;
}

/** A replica's requests in integer units. */
export function demandOf(replica: SchedReplica): Demand {
  return { replica, cpu: milli(replica.cpu), memory: toUnits(replica.memory) };
}

/** Code-unit order, independent of the locale. */
export function byString(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export class ClusterState {
  /** Sorted by name. Names are unique (one Node manifest each); were one repeated, the first given would be kept. */
  readonly nodes: readonly SchedNode[];
  readonly cpuCap: Float64Array;
  readonly memCap: Float64Array;
  readonly cpuUsed: Float64Array;
  readonly memUsed: Float64Array;
  /** 1 / capacity, or 0 for a capacity of 0 or Infinity (which allocation fractions then leave out), and 1 / dims counted. */
  private readonly cpuInv: Float64Array;
  private readonly memInv: Float64Array;
  private readonly dimsInv: Float64Array;
  /** Per node, bumped on every place / evict there (for caches of what runs on a node). */
  readonly version: Uint32Array;
  private readonly index = new Map<string, number>();
  private readonly residents: Resident[][];
  private readonly counts = new Map<string, Int32Array>();
  /** label key -> per node index, the id of the node's value (-1: no such label). */
  private readonly labelIds = new Map<string, Int32Array>();
  /** service -> label key -> replicas per value id; built on first query, then kept up to date. */
  private readonly domains = new Map<string, Map<string, Int32Array>>();

  constructor(nodes: readonly SchedNode[], placed: readonly Placed[]) {
    const sorted = [...nodes].sort((a, b) => byString(a.name, b.name)).filter((n, i, all) => i === 0 || all[i - 1]!.name !== n.name);
    this.nodes = sorted;
    const n = sorted.length;
    this.cpuCap = new Float64Array(n);
    this.memCap = new Float64Array(n);
    this.cpuUsed = new Float64Array(n);
    this.memUsed = new Float64Array(n);
    this.version = new Uint32Array(n);
    this.cpuInv = new Float64Array(n);
    this.memInv = new Float64Array(n);
    this.dimsInv = new Float64Array(n);
    this.residents = sorted.map(() => []);
    sorted.forEach((node, i) => {
      this.index.set(node.name, i);
      this.cpuCap[i] = milli(node.capacity.cpu);
      this.memCap[i] = toUnits(node.capacity.memory);
      const inv = (cap: number) => (cap > 0 && cap !== Infinity ? 1 / cap : 0);
      this.cpuInv[i] = inv(this.cpuCap[i]!);
      this.memInv[i] = inv(this.memCap[i]!);
      const dims = (this.cpuInv[i]! > 0 ? 1 : 0) + (this.memInv[i]! > 0 ? 1 : 0);
      this.dimsInv[i] = dims === 0 ? 0 : 1 / dims;
    });
    // Replicas on nodes that are gone take no capacity anywhere.
    for (const p of placed) {
      const i = this.index.get(p.node);
      if (i !== undefined) this.place(demandOf(p), i, p);
    }
  }

  /** Replicas on node `i`, in the order they were placed. */
  residentsOf(i: number): readonly Resident[] {
    return this.residents[i]!;
  }

  /** Replicas of `service` per node index (live; created empty for a service with none). */
  countsOf(service: string): Int32Array {
    let c = this.counts.get(service);
    if (!c) this.counts.set(service, (c = new Int32Array(this.nodes.length)));
    return c;
  }

  /** Per node index, the id of its value of label `key` (ids in value order), or -1 without the label. */
  domainIds(key: string): Int32Array {
    let ids = this.labelIds.get(key);
    if (ids) return ids;
    const values = [...new Set(this.nodes.map((n) => n.labels[key]).filter((v) => v !== undefined))].sort(byString);
    const id = new Map(values.map((v, j) => [v, j]));
    ids = Int32Array.from(this.nodes, (n) => id.get(n.labels[key]!) ?? -1);
    this.labelIds.set(key, ids);
    return ids;
  }

  /** Replicas of `service` per value id of node label `key` (see domainIds); live. */
  domainsOf(service: string, key: string): Int32Array {
    let byKey = this.domains.get(service);
    if (!byKey) this.domains.set(service, (byKey = new Map()));
    let m = byKey.get(key);
    if (m) return m;
    const ids = this.domainIds(key);
    m = new Int32Array(ids.reduce((a, b) => Math.max(a, b), -1) + 1);
    const counts = this.countsOf(service);
    for (let i = 0; i < counts.length; i++) if (ids[i]! >= 0) m[ids[i]!]! += counts[i]!;
    byKey.set(key, m);
    return m;
  }

  /** The view checkers and scorers get of `demand`. */
  view(demand: Demand): ReplicaView {
    const key = demand.replica.placement.topologySpreadKey;
    const service = demand.replica.service;
    const domain = key === undefined ? undefined : { ids: this.domainIds(key), counts: this.domainsOf(service, key) };
    return { state: this, demand, onNode: this.countsOf(service), domain };
  }

  /** out[k] = fraction (0..1) of node nodes[k] allocated after adding `extra`, averaged over cpu and memory of finite capacity. */
  allocationsAfter(nodes: Int32Array, count: number, extra: Demand, out: Float64Array): void {
    const { cpuUsed, memUsed, cpuInv, memInv, dimsInv } = this;
    const { cpu, memory } = extra;
    for (let k = 0; k < count; k++) {
      const i = nodes[k]!;
      const f = ((cpuUsed[i]! + cpu) * cpuInv[i]! + (memUsed[i]! + memory) * memInv[i]!) * dimsInv[i]!;
      out[k] = f < 1 ? f : 1;
    }
  }

  /** Adds `demand` to node `i`; `as` is the input's own Placed value for a replica already running there. */
  place(demand: Demand, i: number, as?: Placed): Resident {
    const replica: Placed = as ?? { ...demand.replica, node: this.nodes[i]!.name };
    const r: Resident = { replica, cpu: demand.cpu, memory: demand.memory, node: i };
    this.residents[i]!.push(r);
    this.adjust(r, 1);
    return r;
  }

  evict(r: Resident): void {
    const list = this.residents[r.node]!;
    const at = list.indexOf(r);
    if (at < 0) return;
    list.splice(at, 1);
    this.adjust(r, -1);
  }

  private adjust(r: Resident, sign: 1 | -1): void {
    const i = r.node;
    this.version[i]!++;
    this.cpuUsed[i]! += sign * r.cpu;
    this.memUsed[i]! += sign * r.memory;
    this.countsOf(r.replica.service)[i]! += sign;
    const byKey = this.domains.get(r.replica.service);
    if (!byKey) return;
    for (const [key, m] of byKey) {
      const id = this.labelIds.get(key)![i]!;
      if (id >= 0) m[id]! += sign;
    }
  }
}
