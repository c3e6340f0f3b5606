import { describe, expect, it } from 'vitest';
import { DocCache, parseYamlFile } from './yaml-source.ts';
import type { PathSegment } from './yaml-source.ts';

const content = [
  '# leading comment',
  'apiVersion: berth/v1',
  'kind: Service',
  'metadata: { name: a }',
  'spec:',
  '  image: x',
  '  env: { A: 1.0, B: two }',
  '---',
  '%YAML 1.2',
  '---',
  'apiVersion: berth/v1',
  'kind: Service',
  'metadata:',
  '  name: b',
  'spec: { image: y, ports: [{ port: 80 }, { port: 81 }] }',
  '...',
  '--- !!map',
  'apiVersion: berth/v1',
  'kind: Volume',
  'metadata: { name: c, labels: { k: v } }',
  '',
].join('\n');

const PATHS: PathSegment[][] = [[], ['metadata', 'name'], ['spec', 'env', 'A'], ['spec', 'ports', 1, 'port'], ['metadata', 'labels', 'k'], ['spec', 'missing', 'deeper'], ['kind']];

describe('DocLocator', () => {
  it('locates the same positions once its document was dropped from the cache and composed again from its text', () => {
    const kept = parseYamlFile({ path: 'm.yaml', content });
    const dropped = parseYamlFile({ path: 'm.yaml', content }, { cache: new DocCache(1) });
    expect(kept.docs).toHaveLength(3);
    const positions = (docs: typeof kept.docs) => docs.map((d) => [d.loc.start, ...PATHS.map((p) => d.loc.at(p)), d.loc.at(['metadata', 'name'], 'key'), d.loc.plainText(['spec', 'env', 'A'])]);
    const expected = positions(kept.docs);
    expect(positions(dropped.docs)).toEqual(expected);
    expect(expected[1]?.[4]).toEqual({ file: 'm.yaml', line: 15, col: 49 });
    expect(expected[0]?.[9]).toBe('1.0');
    // Looked up in another order (each lookup composing its document again), still the same.
    expect(positions([...dropped.docs].reverse())).toEqual([...expected].reverse());
  });

  it('looks keys up through an index: locating every key of a 40k-key mapping is linear', () => {
    const keys = Array.from({ length: 40_000 }, (_, i) => `  k${i}: ${i}`).join('\n');
    const { docs } = parseYamlFile({ path: 'big.yaml', content: `env:\n${keys}\n` });
    const loc = docs[0]?.loc;
    for (let i = 0; i < 40_000; i += 1) expect(loc?.at(['env', `k${i}`], 'key').line).toBe(i + 2);
  });
});
