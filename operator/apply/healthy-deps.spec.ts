/** dependsOn with `condition: healthy` (compose's service_healthy): the dependent's starts wait for the dependency's readiness. */
import { describe, expect, it } from 'vitest';
import { diff } from '../diff/diff.ts';
import { loadDesired } from '../manifests/index.ts';
import { FakeRuntime } from '../../test/doubles/fake-runtime.ts';
import { memorySnapshot } from '../source/memory-source.ts';
import { silentLogger } from '../util/log.ts';
import { readBuildContext } from './build-context.ts';
import { applyPlan } from './apply.ts';
import type { Gate, GateResult } from './rolling.ts';

const files = (condition: string) => ({
  'db.yaml': 'apiVersion: berth/v1\nkind: Service\nmetadata: { name: db }\nspec: { image: img:1 }\n',
  'web.yaml': `apiVersion: berth/v1\nkind: Service\nmetadata: { name: web }\nspec:\n  image: img:1\n  replicas: 2\n  dependsOn: [{ service: db${condition} }]\n`,
});

/** A gate whose dependencyReady answers `answer` and records its calls, and the order of events against the runtime. */
function gateOf(rt: FakeRuntime, answer: (key: string, wait: boolean) => GateResult, events: string[]): Gate {
  return {
    ready: async () => ({ ok: true, reason: 'ready' }),
    hold: async () => ({ ok: true, reason: 'held' }),
    dependencyReady: async (key, wait) => {
      events.push(`wait ${key} ${wait} (${rt.calls.filter((c) => c.method === 'createContainer').length} created)`);
      return answer(key, wait);
    },
  };
}

async function converge(rt: FakeRuntime, condition: string, gate: Gate, rev = 'r1') {
  const snap = memorySnapshot(files(condition), rev);
  const desired = await loadDesired(snap, { instance: 't', path: '.' });
  const plan = diff(desired, await rt.observe('t', ['img:1']), { instance: 't' });
  return { desired, result: await applyPlan(plan, { runtime: rt, instance: 't', log: silentLogger, buildContext: (s) => readBuildContext(snap, s), gate }) };
}

const created = (rt: FakeRuntime, service: string) => rt.calls.filter((c) => c.method === 'createContainer' && JSON.stringify(c.args).includes(`.${service}.`)).length;

describe('dependsOn condition healthy', () => {
  it('loads as dependsOn plus healthyDependencies; a plain name has no condition', async () => {
    const events: string[] = [];
    const rt = new FakeRuntime();
    rt.addImage('img:1', 'sha256:1');
    const { desired } = await converge(rt, ', condition: healthy', gateOf(rt, () => ({ ok: true, reason: 'ready' }), events));
    const web = desired.services.find((s) => s.name === 'web')!;
    expect(web.spec.dependsOn).toEqual(['db']);
    expect(web.spec.healthyDependencies).toEqual(['db']);
    const plain = await loadDesired(memorySnapshot(files(', condition: started'), 'r'), { instance: 't', path: '.' });
    expect(plain.services.find((s) => s.name === 'web')!.spec.healthyDependencies).toBeUndefined();
  });

  it("waits for the dependency after the dependency's own creates, then creates the dependent", async () => {
    const events: string[] = [];
    const rt = new FakeRuntime();
    rt.addImage('img:1', 'sha256:1');
    const { result } = await converge(rt, ', condition: healthy', gateOf(rt, () => ({ ok: true, reason: 'ready' }), events));
    expect(result.errors).toEqual([]);
    // db had its create this pass: waited for (wait true), after db's one create and before web's two.
    expect(events).toEqual(['wait default/db true (1 created)']);
    expect(created(rt, 'web')).toBe(2);
  });

  it('defers the dependent\'s creates while the dependency is not healthy; nothing else fails, the next pass creates them', async () => {
    const events: string[] = [];
    const rt = new FakeRuntime();
    rt.addImage('img:1', 'sha256:1');
    let healthy = false;
    const gate = gateOf(rt, () => (healthy ? { ok: true, reason: 'ready' } : { ok: false, reason: 'default/db is not healthy: db #0: readiness: exit 1' }), events);
    const first = await converge(rt, ', condition: healthy', gate);
    expect(created(rt, 'db')).toBe(1);
    expect(created(rt, 'web')).toBe(0);
    expect(first.result.errors).toEqual([]);
    const deferred = first.result.outcomes.filter((o) => o.deferred);
    expect(deferred).toHaveLength(2);
    expect(deferred[0]!.error!.code).toBe('E_DEPENDENCY');
    expect(deferred[0]!.error!.message).toContain('default/db is not healthy: db #0: readiness: exit 1');
    healthy = true;
    const second = await converge(rt, ', condition: healthy', gate, 'r1');
    expect(second.result.errors).toEqual([]);
    // db had nothing to do in the second pass: asked as it is (wait false).
    expect(events.at(-1)).toBe('wait default/db false (1 created)');
    expect(created(rt, 'web')).toBe(2);
  });

  it('condition started (or a plain name) never asks the gate', async () => {
    const events: string[] = [];
    const rt = new FakeRuntime();
    rt.addImage('img:1', 'sha256:1');
    await converge(rt, '', gateOf(rt, () => ({ ok: false, reason: 'x' }), events));
    expect(events).toEqual([]);
    expect(created(rt, 'web')).toBe(2);
  });
  it("a plain dependent of a service whose starts were held back waits too (compose's service_started: it has not started)", async () => {
    const events: string[] = [];
    const rt = new FakeRuntime();
    rt.addImage('img:1', 'sha256:1');
    const snap = memorySnapshot({ ...files(', condition: healthy'), 'proxy.yaml': 'apiVersion: berth/v1\nkind: Service\nmetadata: { name: proxy }\nspec: { image: img:1, dependsOn: [web] }\n' }, 'r1');
    const desired = await loadDesired(snap, { instance: 't', path: '.' });
    const plan = diff(desired, await rt.observe('t', ['img:1']), { instance: 't' });
    const gate = gateOf(rt, () => ({ ok: false, reason: 'default/db is not healthy: not yet' }), events);
    const result = await applyPlan(plan, { runtime: rt, instance: 't', log: silentLogger, buildContext: (s) => readBuildContext(snap, s), gate });
    expect([created(rt, 'db'), created(rt, 'web'), created(rt, 'proxy')]).toEqual([1, 0, 0]);
    const proxy = result.outcomes.find((o) => o.action.service === 'default/proxy');
    expect(proxy).toMatchObject({ deferred: true, error: { code: 'E_DEPENDENCY' } });
    expect(proxy!.error!.message).toBe('waiting for dependencies: default/web has not started (its replicas wait for their own dependencies)');
    expect(result.errors).toEqual([]);
  });
});
