import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CONSTRAINT_PATTERN, parseConstraint, satisfies, satisfiesAll, toPlacement } from './placement.ts';
import { parseManifests } from './parse.ts';

describe('parseConstraint', () => {
  it.each([
    ['node.labels.zone == a', { expr: 'node.labels.zone == a', field: { kind: 'label', key: 'zone' }, op: '==', value: 'a' }],
    ['node.labels.zone!=eu-west-1a', { expr: 'node.labels.zone!=eu-west-1a', field: { kind: 'label', key: 'zone' }, op: '!=', value: 'eu-west-1a' }],
    ['  node.name ==  node-1 ', { expr: 'node.name ==  node-1', field: { kind: 'name' }, op: '==', value: 'node-1' }],
    ['node.name != local', { expr: 'node.name != local', field: { kind: 'name' }, op: '!=', value: 'local' }],
    ['node.labels.topology.example.com/zone == a.1_b', { expr: 'node.labels.topology.example.com/zone == a.1_b', field: { kind: 'label', key: 'topology.example.com/zone' }, op: '==', value: 'a.1_b' }],
    ['node.labels.name == x', { expr: 'node.labels.name == x', field: { kind: 'label', key: 'name' }, op: '==', value: 'x' }],
  ])('%j', (expr, parsed) => {
    expect(parseConstraint(expr)).toEqual(parsed);
  });

  it.each([
    '',
    'zone == a',
    'node.labels.zone = a',
    'node.labels.zone === a',
    'node.labels.zone == ',
    'node.labels. == a',
    'node.labels.zone == a b',
    'node.labels.-zone == a',
    'node.labels.zone == "a"',
    'node.hostname == x',
    'node.name ~= x',
    'engine.labels.zone == a',
    'node.labels.zone == a\nnode.name == b',
  ])('rejects %j', (expr) => {
    expect(parseConstraint(expr)).toBeUndefined();
  });

  it('uses one grammar in the code and in the JSON Schema', () => {
    type Schema = { properties: { spec: { properties: { placement: { properties: { constraints: { items: { pattern: string } } } } } } } };
    const schema = JSON.parse(readFileSync(new URL('../../schemas/service.schema.json', import.meta.url), 'utf8')) as Schema;
    expect(schema.properties.spec.properties.placement.properties.constraints.items.pattern).toBe(CONSTRAINT_PATTERN);
  });
});

describe('satisfies', () => {
  const node = { name: 'a', labels: { zone: 'x', tier: 'web' } };
  const c = (expr: string) => {
    const parsed = parseConstraint(expr);
    if (!parsed) throw new Error(`bad test constraint ${expr}`);
    return parsed;
  };

  it('compares labels and the name, exactly', () => {
    expect(satisfies(node, c('node.labels.zone == x'))).toBe(true);
    expect(satisfies(node, c('node.labels.zone == X'))).toBe(false);
    expect(satisfies(node, c('node.labels.zone != x'))).toBe(false);
    expect(satisfies(node, c('node.name == a'))).toBe(true);
    expect(satisfies(node, c('node.name != a'))).toBe(false);
  });

  it('treats a missing label as unequal to every value (as Docker Swarm does)', () => {
    expect(satisfies(node, c('node.labels.gpu == yes'))).toBe(false);
    expect(satisfies(node, c('node.labels.gpu != yes'))).toBe(true);
  });

  it('needs every constraint; none means any node', () => {
    expect(satisfiesAll(node, [c('node.labels.zone == x'), c('node.labels.tier == web')])).toBe(true);
    expect(satisfiesAll(node, [c('node.labels.zone == x'), c('node.labels.tier == db')])).toBe(false);
    expect(satisfiesAll(node, [])).toBe(true);
  });
});

describe('toPlacement', () => {
  it('defaults to spread, no constraint, priority 0', () => {
    expect(toPlacement(undefined)).toEqual({ strategy: 'spread', constraints: [], priority: 0 });
    expect(toPlacement({})).toEqual({ strategy: 'spread', constraints: [], priority: 0 });
  });

  it('keeps what is set and flattens topologySpread to its key', () => {
    const p = toPlacement({ strategy: 'binpack', constraints: ['node.name == a'], maxPerNode: 2, topologySpread: { key: 'zone' }, priority: -3 });
    expect(p).toEqual({ strategy: 'binpack', constraints: [{ expr: 'node.name == a', field: { kind: 'name' }, op: '==', value: 'a' }], maxPerNode: 2, topologySpreadKey: 'zone', priority: -3 });
  });
});

describe('placement in a revision', () => {
  const service = (placement: string): string => `apiVersion: berth/v1\nkind: Service\nmetadata: { name: web }\nspec:\n  image: web:1\n  replicas: 3\n  placement: ${placement}\n`;
  const node = (name: string, spec: string): string => `apiVersion: berth/v1\nkind: Node\nmetadata: { name: ${name} }\nspec: ${spec}\n`;
  const issuesOf = (...contents: string[]) => parseManifests(contents.map((content, i) => ({ path: `m${i}.yaml`, content }))).issues.map((i) => [i.field, i.message]);

  it('checks nothing against nodes when no Node is declared (the implicit local node is checked at scheduling time)', () => {
    expect(issuesOf(service('{ constraints: ["node.labels.zone == a", "node.name == far"], maxPerNode: 1 }'))).toEqual([]);
  });

  it('does not check placement while a declared Node is itself invalid', () => {
    const bad = node('a', '{ endpoint: ftp://x }');
    expect(issuesOf(service('{ constraints: ["node.labels.zone == a"] }'), bad)).toEqual([
      ['spec.endpoint', 'must be unix:///<socket path>, tcp://<host>:<port> or npipe://<pipe>'],
    ]);
  });

  it('counts an unschedulable (cordoned) Node as eligible: cordoning never rejects a revision', () => {
    const a = node('a', '{ endpoint: "tcp://a:2376", labels: { zone: a } }');
    const b = node('b', '{ endpoint: "tcp://b:2376", labels: { zone: a }, unschedulable: true }');
    expect(issuesOf(service('{ constraints: ["node.labels.zone == a"], maxPerNode: 2 }'), a, b)).toEqual([]);
  });

  it('lists each Node once when a name is duplicated', () => {
    const a = node('a', '{ endpoint: "tcp://a:2376" }');
    const again = node('a', '{ endpoint: "tcp://a2:2376" }');
    expect(issuesOf(service('{ constraints: ["node.name == b"] }'), a, again)).toEqual([
      ['spec.placement.constraints[0]', 'no Node satisfies node.name == b (nodes: a)'],
      ['metadata.name', 'duplicate Node a (first defined at m1.yaml:3)'],
    ]);
  });
});
