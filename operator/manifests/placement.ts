/** spec.placement of a Service: the constraint grammar, defaults (schema-valid data -> model) and constraint matching. */
import type { PlacementConstraint, PlacementSpec } from '../model/manifest.ts';
import type { Obj } from './raw.ts';

/**
 * One constraint: `node.labels.<key> == <value>`, `node.labels.<key> != <value>`, `node.name == <name>` or
 * `node.name != <name>` (spaces around the operator optional). The same text is the `pattern` of
 * spec.placement.constraints[] in schemas/service.schema.json (a unit test keeps them equal).
 */
export const CONSTRAINT_PATTERN =
  '^\\s*node\\.(?:labels\\.([A-Za-z0-9](?:[A-Za-z0-9_./-]*[A-Za-z0-9])?)|(name))\\s*(==|!=)\\s*([A-Za-z0-9](?:[A-Za-z0-9_.-]*[A-Za-z0-9])?)\\s*$';

const CONSTRAINT_RE = new RegExp(CONSTRAINT_PATTERN, 'u');

/** The placement of a Service that does not say: spread, no constraint, priority 0. */
export const PLACEMENT_DEFAULTS: Readonly<PlacementSpec> = Object.freeze({ strategy: 'spread', constraints: [], priority: 0 });

/** Parses one constraint; undefined when it does not follow the grammar of CONSTRAINT_PATTERN. */
export function parseConstraint(expr: string): PlacementConstraint | undefined {
  const m = CONSTRAINT_RE.exec(expr);
  if (!m) return undefined;
  const [, key, name, op, value] = m;
  const field: PlacementConstraint['field'] = name !== undefined ? { kind: 'name' } : { kind: 'label', key: key ?? '' };
  return { expr: expr.trim(), field, op: op as PlacementConstraint['op'], value: value ?? '' };
}

/** Defaults of a schema-valid spec.placement (absent = PLACEMENT_DEFAULTS); throws on a constraint the schema let through. */
export function toPlacement(p: Obj | undefined): PlacementSpec {
  const raw = p ?? {};
  const constraints = ((raw.constraints ?? []) as string[]).map((expr) => {
    const c = parseConstraint(expr);
    if (!c) throw new Error(`internal: constraint ${JSON.stringify(expr)} passed the schema but does not parse`);
    return c;
  });
  const out: PlacementSpec = {
    strategy: (raw.strategy as PlacementSpec['strategy'] | undefined) ?? PLACEMENT_DEFAULTS.strategy,
    constraints,
    priority: (raw.priority as number | undefined) ?? PLACEMENT_DEFAULTS.priority,
  };
  if (raw.maxPerNode !== undefined) out.maxPerNode = raw.maxPerNode as number;
  const spread = raw.topologySpread as Obj | undefined;
  if (spread !== undefined) out.topologySpreadKey = spread.key as string;
  return out;
}

/** What a constraint is matched against: a node's name and its labels (NodeSpec.labels). */
export interface ConstraintTarget {
  name: string;
  labels: Readonly<Record<string, string>>;
}

/** True when `node` meets `c`. As in Docker Swarm, `node.labels.k != v` also holds on a node without label k. */
export function satisfies(node: ConstraintTarget, c: PlacementConstraint): boolean {
  const actual = c.field.kind === 'name' ? node.name : node.labels[c.field.key];
  return c.op === '==' ? actual === c.value : actual !== c.value;
}

/** True when `node` meets every constraint (no constraint: every node). */
export function satisfiesAll(node: ConstraintTarget, constraints: readonly PlacementConstraint[]): boolean {
  return constraints.every((c) => satisfies(node, c));
}
