/**
 * Node memory pressure, pure: when the containers of a node use more than `highMark` of its memory
 * capacity, the lowest-priority replicas there are stopped first (kubelet eviction order: priority, then the biggest
 * user) until it is back under the mark. The node then takes no new replica for a cool-down, so the evicted ones are not
 * placed right back; they wait as pending or go elsewhere.
 */
import { LABELS } from '../model/keys.ts';
import { claimedBy } from '../manifests/kinds/index.ts';
import type { PlacementSpec } from '../model/manifest.ts';
import type { RemoveAction } from '../model/plan.ts';
import type { DesiredState, ObservedState } from '../model/state.ts';
import { pressureVictims } from '../scheduler/pressure.ts';
import type { Placed, SchedNode } from '../scheduler/types.ts';

/** Memory use is read at most this often (one engine call per container). */
export const PRESSURE_CHECK_MS = 5_000;

/** How long a node that was under memory pressure takes no new replica (kubelet's pressure transition period). */
export const PRESSURE_COOLDOWN_MS = 60_000;

const NO_PLACEMENT: PlacementSpec = { strategy: 'spread', constraints: [], priority: 0 };

export interface PressureResult {
  actions: RemoveAction[];
  /** Node -> what the status says ("memory pressure: 52 MiB of 64 MiB used, high mark 50 %"). */
  pressured: Map<string, string>;
}

export function pressureEvictions(input: { nodes: readonly SchedNode[]; observed: ObservedState; desired: DesiredState; usage: Readonly<Record<string, number>>; highMark: number }): PressureResult {
  const services = new Map(input.desired.services.map((s) => [s.key, s]));
  const actions: RemoveAction[] = [];
  const pressured = new Map<string, string>();
  for (const node of input.nodes) {
    const capacity = node.capacity.memory;
    if (!Number.isFinite(capacity) || capacity <= 0) continue;
    const here = input.observed.containers.filter((c) => c.node === node.name && c.status === 'running' && input.usage[c.id] !== undefined);
    const used = here.reduce((sum, c) => sum + (input.usage[c.id] ?? 0), 0);
    const mark = input.highMark * capacity;
    if (used <= mark) continue;
    const message = `memory pressure: ${mib(used)} of ${mib(capacity)} used, high mark ${Math.round(input.highMark * 100)} %`;
    pressured.set(node.name, message);
    // Every container's memory counts; only Service replicas may be stopped by the Service pass.
    const placed: (Placed & { id: string })[] = claimedBy('Service', 'container', here).map((c) => {
      const key = `${c.labels[LABELS.namespace]}/${c.labels[LABELS.service]}`;
      return { id: c.id, service: key, replica: Number(c.labels[LABELS.replica]) || 0, node: node.name, cpu: 0, memory: input.usage[c.id] ?? 0, placement: services.get(key)?.spec.placement ?? NO_PLACEMENT };
    });
    for (const v of pressureVictims(node.name, placed, used, mark)) {
      const c = here.find((x) => x.id === (v as Placed & { id: string }).id)!;
      actions.push({ type: 'remove', service: v.service, container: c, cause: 'heal', reason: `${message} on node ${node.name}: stopping ${c.name} (priority ${v.placement.priority}, ${mib(v.memory)})` });
    }
  }
  return { actions, pressured };
}

function mib(bytes: number): string {
  return `${Math.round(bytes / 1024 / 1024)} MiB`;
}
