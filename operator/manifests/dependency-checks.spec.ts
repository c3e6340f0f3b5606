import { describe, expect, it } from 'vitest';
import type { ManifestIssue } from '../model/errors.ts';
import { orderByDependencies } from '../diff/diff.ts';
import { memorySnapshot } from '../source/memory-source.ts';
import { loadDesired } from './load.ts';
import { parseManifests } from './parse.ts';

/**
 * `count` Services s0..s<count-1> in one file, s<i> depending on s<i+1> unless `cut(i)`; one document of 5 lines each.
 * No replicas: thousands of them in one namespace would be refused for the size of its network.
 */
function chain(count: number, cut: (i: number) => boolean = () => false): string {
  return Array.from({ length: count }, (_, i) => {
    const dep = i + 1 < count && !cut(i) ? `[s${i + 1}]` : '[]';
    return `apiVersion: berth/v1\nkind: Service\nmetadata: { name: s${i} }\nspec: { image: x, replicas: 0, dependsOn: ${dep} }\n---`;
  }).join('\n');
}

const where = (issues: ManifestIssue[]): string[] => issues.map((i) => `${i.code} ${i.file}:${i.line}:${i.col} ${i.field}`);

describe('dependsOn graph', () => {
  it('validates and orders 3,000 services in chains of 30 without overflowing the stack', async () => {
    const content = chain(3000, (i) => i % 30 === 29);
    expect(parseManifests([{ path: 'a.yaml', content }]).issues).toEqual([]);
    const desired = await loadDesired(memorySnapshot({ 'a.yaml': content }, 'r1'), { instance: 'i', path: '' });
    expect(desired.services).toHaveLength(3000);
    const order = orderByDependencies(desired.services).map((s) => s.name);
    expect(order.indexOf('s29')).toBeLessThan(order.indexOf('s0'));
    expect(order.indexOf('s1')).toBeLessThan(order.indexOf('s0'));
  });

  it('reports a chain of 3,000 at the one dependsOn entry past 32 levels', () => {
    const { issues } = parseManifests([{ path: 'a.yaml', content: chain(3000) }]);
    // s2967 -> s2968 -> ... -> s2999 is 33 services: the entry of s2967 is reported (document 2968, line 4 of it).
    expect(where(issues)).toEqual([`E_SEMANTIC a.yaml:${2967 * 5 + 4}:44 spec.dependsOn[0]`]);
    expect(issues[0]?.message).toBe('dependsOn chain of 33 services is deeper than the 32 levels allowed (services start one level after another): default/s2967 -> default/s2968 -> ... -> default/s2999');
  });

  it('accepts exactly 32 levels and refuses 33', () => {
    expect(parseManifests([{ path: 'a.yaml', content: chain(32) }]).issues).toEqual([]);
    expect(where(parseManifests([{ path: 'a.yaml', content: chain(33) }]).issues)).toEqual(['E_SEMANTIC a.yaml:4:44 spec.dependsOn[0]']);
  });

  it('still reports a cycle once, at the edge that closes it, also in a long chain', () => {
    const looped = chain(3000).replace('metadata: { name: s2999 }\nspec: { image: x, replicas: 0, dependsOn: [] }', 'metadata: { name: s2999 }\nspec: { image: x, replicas: 0, dependsOn: [s0] }');
    const { issues } = parseManifests([{ path: 'a.yaml', content: looped }]);
    const cycles = issues.filter((i) => i.message.startsWith('dependency cycle'));
    expect(where(cycles)).toEqual([`E_SEMANTIC a.yaml:${2999 * 5 + 4}:44 spec.dependsOn[0]`]);
    expect(cycles[0]?.message).toMatch(/^dependency cycle: default\/s0 -> default\/s1 -> .* -> default\/s2999 -> default\/s0$/);
    const small = chain(3).replace('metadata: { name: s2 }\nspec: { image: x, replicas: 0, dependsOn: [] }', 'metadata: { name: s2 }\nspec: { image: x, replicas: 0, dependsOn: [s0] }');
    expect(parseManifests([{ path: 'b.yaml', content: small }]).issues.map((i) => [i.line, i.message])).toEqual([[14, 'dependency cycle: default/s0 -> default/s1 -> default/s2 -> default/s0']]);
  });
});
