import { describe, expect, it } from 'vitest';
import { diff, orderByDependencies } from '../diff/diff.ts';
import { buildDesired } from '../manifests/desired.ts';
import { parseManifests } from '../manifests/parse.ts';
import { FakeRuntime } from '../../test/doubles/fake-runtime.ts';
import { silentLogger } from '../util/log.ts';
import { applyPlan } from './apply.ts';

/**
 * A dependsOn chain far deeper than validation accepts (it refuses more than 32 levels), built around the checks: the
 * planner and the applier must still not recurse once per level.
 */
function chainState(count: number) {
  const doc = (i: number): string => {
    const dep = i + 1 < count ? `[s${i + 1}]` : '[]';
    return `apiVersion: berth/v1\nkind: Service\nmetadata: { name: s${i} }\nspec: { image: img:1, dependsOn: ${dep} }\n`;
  };
  // Parsed 100 at a time: each batch's manifests are typed (a dependency in another batch is only reported missing).
  const manifests = Array.from({ length: count / 100 }, (_, b) => {
    const content = Array.from({ length: 100 }, (_, i) => doc(b * 100 + i)).join('---\n');
    return parseManifests([{ path: `b${b}.yaml`, content }]).manifests;
  }).flat();
  return buildDesired('t', 'r1', manifests, new Map());
}

describe('a 10,000-service dependsOn chain', () => {
  it('is planned and applied in dependency order without overflowing the stack', async () => {
    const desired = chainState(10_000);
    expect(orderByDependencies(desired.services).slice(0, 2).map((s) => s.name)).toEqual(['s9999', 's9998']);
    const rt = new FakeRuntime();
    rt.addImage('img:1', 'sha256:1');
    const plan = diff(desired, await rt.observe('t', ['img:1']), { instance: 't' });
    const r = await applyPlan(plan, { runtime: rt, instance: 't', log: silentLogger, buildContext: () => Promise.reject(new Error('no builds')) });
    expect(r.errors).toEqual([]);
    const created = rt.calls.filter((c) => c.method === 'createContainer').map((c) => (c.args[0] as { labels: Record<string, string> }).labels['berth.service']);
    expect(created).toHaveLength(10_000);
    expect(created.slice(0, 2)).toEqual(['s9999', 's9998']);
    expect(created.at(-1)).toBe('s0');
  });
});
