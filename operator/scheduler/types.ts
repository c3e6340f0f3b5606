/**
 * Values the scheduler takes and returns, and the two shapes its pipeline is built from: one-method checkers
 * (feasibility, Nomad's FeasibilityChecker / kube-scheduler's Filter) and scorers (ranking, kube-scheduler's Score).
 * Everything here is plain data; nothing in operator/scheduler/ does I/O.
 */
import type { PlacementSpec } from '../model/manifest.ts';
import type { ClusterState } from './state.ts';

/** A node as the scheduler sees it. */
export interface SchedNode {
  name: string;
  labels: Record<string, string>;
  /** Schedulable capacity: cores and bytes. */
  capacity: { cpu: number; memory: number };
  ready: boolean;
  /** false = cordoned: nothing new is placed here, running replicas stay. */
  schedulable: boolean;
}

/** One replica of a service, with its requests (0 = no request) and its service's placement. */
export interface SchedReplica {
  /** `namespace/name`. */
  service: string;
  replica: number;
  /** Cores. */
  cpu: number;
  /** Bytes. */
  memory: number;
  placement: PlacementSpec;
}

/** A replica that already runs (or is assigned) on a node. */
export interface Placed extends SchedReplica {
  node: string;
}

export interface ScheduleInput {
  nodes: SchedNode[];
  placed: Placed[];
  pending: SchedReplica[];
}

export interface Assignment {
  service: string;
  replica: number;
  node: string;
}

export interface Unschedulable {
  service: string;
  replica: number;
  /** Counts per rejecting reason over all nodes, kube-scheduler style: "0/3 nodes available: 2 insufficient memory, 1 node.labels.zone == a not met". */
  reason: string;
}

export interface Eviction {
  victim: Placed;
  by: { service: string; replica: number };
  /** "preempted by ns/svc #r (priority 100 > 50)". */
  reason: string;
}

export interface ScheduleResult {
  assignments: Assignment[];
  unschedulable: Unschedulable[];
  /** Replicas evicted to make room (preemption), each with who evicted it and why. */
  evictions: Eviction[];
}

/** A replica with its requests in integer units (millicores, bytes), so sums are exact and independent of input order. */
export interface Demand {
  replica: SchedReplica;
  /** Millicores. */
  cpu: number;
  /** Bytes. */
  memory: number;
}

/** A replica that runs on a node (index into ClusterState.nodes). */
export interface Resident extends Demand {
  replica: Placed;
  node: number;
}

/** What checkers and scorers see of the replica being placed: its demand plus live per-service counts. */
export interface ReplicaView {
  readonly state: ClusterState;
  readonly demand: Demand;
  /** Replicas of this service per node index; live (updated as the call assigns and evicts). */
  readonly onNode: Int32Array;
  /** Topology domains of placement.topologySpreadKey; undefined without a key. */
  readonly domain: Domains | undefined;
}

/** The domains of one node label: replicas of the service in the domain of node i = counts[ids[i]] (ids[i] = -1: no label). */
export interface Domains {
  /** Per node index, the id of its label value, or -1. */
  readonly ids: Int32Array;
  /** Replicas of the service per value id; live. */
  readonly counts: Int32Array;
}

/** Told the reason for each node a checker rejects (used to explain a replica that fits nowhere). */
export type Reject = (node: number, reason: string) => void;

/**
 * A feasibility check. `node` checkers depend only on the node and the replica's placement, so the pipeline runs them
 * once per distinct placement; `load` checkers depend on what runs on the node, and only they may be relieved by
 * preemption (a constraint never is). Checkers work on a batch of nodes, so the hot loop stays inside one function.
 */
export interface Checker {
  readonly name: string;
  readonly kind: 'node' | 'load';
  /**
   * Keeps in nodes[0..count), in place and in order, the node indices that can take the replica; returns how many
   * remain. Calls `reject` with the reason ("insufficient memory") for each node dropped, when given.
   */
  filter(nodes: Int32Array, count: number, view: ReplicaView, reject?: Reject): number;
}

/** A ranking function; the pipeline sums weight x score over its scorers and takes the highest. */
export interface Scorer {
  readonly name: string;
  readonly weight: number;
  /** Writes to out[k] the score (0..100, higher is better) of node index nodes[k], k < count; every node passed every checker. */
  score(nodes: Int32Array, count: number, view: ReplicaView, out: Float64Array): void;
}
