/** Small builders for scheduler specs and the benchmark: nodes, replicas, constraints. */
import { parseConstraint } from '../../operator/manifests/placement.ts';
import type { PlacementConstraint, PlacementSpec } from '../../operator/model/manifest.ts';
import type { Placed, SchedNode, SchedReplica } from '../../operator/scheduler/types.ts';

export const Mi = 1024 * 1024;
export const Gi = 1024 * Mi;

export function node(name: string, labels: Record<string, string> = {}, cpu = 4, memory = 8 * Gi, more: Partial<SchedNode> = {}): SchedNode {
  return { name, labels, capacity: { cpu, memory }, ready: true, schedulable: true, ...more };
}

/** `node.labels.K == V`, `node.name != X`, parsed as the manifest loader does. */
export function constraint(expr: string): PlacementConstraint {
  const c = parseConstraint(expr);
  if (!c) throw new Error(`bad constraint ${expr}`);
  return c;
}

export function placement(p: Partial<Omit<PlacementSpec, 'constraints'>> & { constraints?: string[] } = {}): PlacementSpec {
  const { constraints = [], ...rest } = p;
  return { strategy: 'spread', priority: 0, ...rest, constraints: constraints.map(constraint) };
}

/** Replicas 0..count-1 of `service`. */
export function replicas(service: string, count: number, cpu: number, memory: number, p: PlacementSpec = placement()): SchedReplica[] {
  return Array.from({ length: count }, (_, replica) => ({ service, replica, cpu, memory, placement: p }));
}

export function placed(r: SchedReplica, nodeName: string): Placed {
  return { ...r, node: nodeName };
}
