/**
 * Semantic checks of a Service's spec.placement against the Nodes the revision declares: a placement that no declared
 * Node can ever satisfy rejects the revision here, with the constraint or field to blame, instead of leaving replicas
 * pending forever. Only what the manifests alone decide is checked: capacity taken by other services, a node down or
 * cordoned (spec.unschedulable: every declared Node counts here, so cordoning one never rejects a revision) are
 * scheduling-time matters.
 */
import type { NodeManifest, ServiceManifest } from '../model/manifest.ts';
import type { PathSegment, RawDoc } from './yaml-source.ts';
import { satisfies, satisfiesAll } from './placement.ts';
import { formatMemory } from './quantity.ts';

/** Reports one issue at `path` of `doc` (at its key with target 'key'). */
export type PlacementReport = (doc: RawDoc, path: PathSegment[], message: string, target?: 'key' | 'value') => void;

const PLACEMENT: PathSegment[] = ['spec', 'placement'];

type Resource = 'cpu' | 'memory';

/**
 * Checks one typed Service against the declared Nodes (sorted by name). With no Node declared there is nothing to
 * check here: the operator's engine is then the implicit node `local` with no labels, and a constraint it does not
 * meet leaves the replicas unplaced at scheduling time (reported there), not a manifest error.
 */
export function checkPlacement(doc: RawDoc, m: ServiceManifest, nodes: readonly NodeManifest[], report: PlacementReport): void {
  if (nodes.length === 0) return;
  const targets = nodes.map((n) => ({ name: n.metadata.name, labels: n.spec.labels, capacity: n.spec.capacity }));
  const names = `nodes: ${targets.map((t) => t.name).join(', ')}`;
  const { constraints, maxPerNode } = m.spec.placement;
  let each = true;
  constraints.forEach((c, i) => {
    if (targets.some((t) => satisfies(t, c))) return;
    each = false;
    report(doc, [...PLACEMENT, 'constraints', i], `no Node satisfies ${c.expr} (${names})`);
  });
  const eligible = targets.filter((t) => satisfiesAll(t, constraints));
  if (eligible.length === 0) {
    if (each) report(doc, [...PLACEMENT, 'constraints'], `no Node satisfies all these constraints together (${names})`);
    return;
  }
  const among = constraints.length > 0 ? 'every Node the constraints allow' : 'every Node';
  const fitting = eligible.filter((t) => fits(m, t.capacity, 'cpu') && fits(m, t.capacity, 'memory'));
  for (const resource of ['cpu', 'memory'] as const) {
    const request = m.spec.resources[resource];
    const capacities = eligible.map((t) => t.capacity[resource]);
    // Only when each of those Nodes declares it: an absent capacity is whatever the engine reports, unknown here.
    if (request === undefined || !capacities.every((c): c is number => c !== undefined && c < request)) continue;
    const largest = eligible.reduce((a, b) => ((b.capacity[resource] ?? 0) > (a.capacity[resource] ?? 0) ? b : a));
    const amount = (n: number): string => (resource === 'cpu' ? `${n}` : formatMemory(n));
    const message = `${resource} ${amount(request)} per replica exceeds the capacity of ${among} (largest: ${largest.name} with ${amount(largest.capacity[resource] ?? 0)})`;
    report(doc, ['spec', 'resources', resource], message);
  }
  if (maxPerNode === undefined || fitting.length === 0 || maxPerNode * fitting.length >= m.spec.replicas) return;
  const list = fitting.map((t) => t.name).join(', ');
  const plural = fitting.length === 1 ? 'Node' : 'Nodes';
  const most = maxPerNode * fitting.length;
  const message = `maxPerNode ${maxPerNode} on ${fitting.length} eligible ${plural} (${list}) places at most ${most} replica${most === 1 ? '' : 's'}, fewer than replicas: ${m.spec.replicas}`;
  report(doc, [...PLACEMENT, 'maxPerNode'], message);
}

/** True when one replica's request fits the node's declared capacity (an undeclared capacity or request always fits). */
function fits(m: ServiceManifest, capacity: NodeManifest['spec']['capacity'], resource: Resource): boolean {
  const request = m.spec.resources[resource];
  const cap = capacity[resource];
  return request === undefined || cap === undefined || request <= cap;
}
