/** kind Node: defaults (schema-valid data -> model). */
import type { NodeSpec } from '../../../model/manifest.ts';
import { parseCpu, parseMemory } from '../../quantity.ts';
import { convertAt } from '../../raw.ts';
import type { Obj } from '../../raw.ts';

/**
 * Defaults of a schema-valid Node spec: no labels, capacity left to what the engine reports, schedulable. A tcp://
 * endpoint without tls is accepted (the engine's API is then unauthenticated: dockerd should use --tlsverify).
 */
export function toNodeSpec(s: Obj): NodeSpec {
  const spec: NodeSpec = {
    endpoint: s.endpoint as string,
    labels: { ...((s.labels as Record<string, string> | undefined) ?? {}) },
    capacity: toCapacity((s.capacity ?? {}) as Obj),
    unschedulable: (s.unschedulable as boolean | undefined) ?? false,
  };
  const tls = s.tls as Obj | undefined;
  if (tls !== undefined) spec.tls = { ca: tls.ca as string, cert: tls.cert as string, key: tls.key as string };
  return spec;
}

function toCapacity(c: Obj): NodeSpec['capacity'] {
  const out: NodeSpec['capacity'] = {};
  if (c.cpu !== undefined) out.cpu = convertAt(['spec', 'capacity', 'cpu'], () => parseCpu(c.cpu as string | number));
  if (c.memory !== undefined) out.memory = convertAt(['spec', 'capacity', 'memory'], () => parseMemory(c.memory as string | number));
  return out;
}
