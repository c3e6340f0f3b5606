/** Drift correction paused for one Service (berth pause-drift): its drift stays pending and is not run; the rest goes on. */
import { describe, expect, it } from 'vitest';
import { loadDesired } from '../manifests/index.ts';
import { MemorySource } from '../source/memory-source.ts';
import { FakeRuntime } from '../../test/doubles/fake-runtime.ts';
import { silentLogger } from '../util/log.ts';
import { DriftPauses } from '../healing/drift-pause.ts';
import { renderStatusText } from '../status/render.ts';
import { planPass } from './plan-pass.ts';
import { Reconciler } from './reconciler.ts';

const load = (s: Parameters<typeof loadDesired>[0]) => loadDesired(s, { instance: 't', path: '.' });
const svc = (name: string, replicas: number, env = '1') =>
  `apiVersion: berth/v1\nkind: Service\nmetadata: { name: ${name} }\nspec:\n  image: img:1\n  replicas: ${replicas}\n  env: { V: "${env}" }\n`;

function setup() {
  const source = new MemorySource();
  const runtime = new FakeRuntime();
  runtime.addImage('img:1', 'sha256:one');
  const pauses = new DriftPauses(null);
  const rec = new Reconciler({
    source, runtime, log: silentLogger, instance: 't', load,
    sourceInfo: { repo: source.description, branch: 'main', path: '.' }, drift: 'correct', writeStatus: true,
    now: () => new Date('2026-01-01T00:00:00Z'), driftPauses: pauses,
  });
  return { source, runtime, pauses, rec };
}

const replica = async (rt: FakeRuntime, service: string, n: number) =>
  (await rt.observe('t', [])).containers.find((c) => c.labels['berth.service'] === service && c.labels['berth.replica'] === String(n))!;

describe('planPass with driftPaused', () => {
  it('keeps the drift actions of a paused service in the plan and pending but not runnable; changes and other services run', async () => {
    const { source, runtime, rec } = setup();
    source.push({ 'a.yaml': svc('a', 1), 'b.yaml': svc('b', 1) });
    await rec.pass();
    runtime.pause((await replica(runtime, 'a', 1)).id);
    runtime.pause((await replica(runtime, 'b', 1)).id);
    const files = { 'a.yaml': svc('a', 2), 'b.yaml': svc('b', 1) };
    const v2 = source.push(files);
    const desired = await load(await source.snapshot(v2));
    const observed = await runtime.observe('t', []);
    const applied = new Map([['default/a', { specHash: desired.services.find((s) => s.name === 'a')!.specHash, replicas: 1 }], ['default/b', { specHash: desired.services.find((s) => s.name === 'b')!.specHash, replicas: 1 }]]);
    const base = { desired, observed, instance: 't', applied, drift: 'correct' as const };
    const open = planPass(base);
    const paused = planPass({ ...base, driftPaused: new Set(['default/a']) });
    // (the pull of a's image comes with its create: images are not pinned here)
    const kinds = (as: typeof open.runnable) => as.filter((a) => a.type !== 'pull-image').map((a) => `${a.type}:${a.cause}:${a.service}`).sort();
    expect(kinds(open.runnable)).toEqual(['create:change:default/a', 'unpause:drift:default/a', 'unpause:drift:default/b']);
    expect(kinds(paused.runnable)).toEqual(['create:change:default/a', 'unpause:drift:default/b']);
    expect(kinds(paused.plan.actions)).toEqual(kinds(open.plan.actions));
    expect(kinds(paused.pending.actions)).toEqual(kinds(open.pending.actions));
    // An empty set and detect mode behave as before.
    expect(kinds(planPass({ ...base, driftPaused: new Set() }).runnable)).toEqual(kinds(open.runnable));
    expect(kinds(planPass({ ...base, drift: 'detect', driftPaused: new Set(['default/a']) }).runnable)).toEqual(['create:change:default/a']);
  });
});

describe('Reconciler with a drift pause', () => {
  it('leaves the paused service drifted over passes (status says so), applies its changes, and corrects it once resumed', async () => {
    const { source, runtime, pauses, rec } = setup();
    source.push({ 'a.yaml': svc('a', 1), 'b.yaml': svc('b', 1) });
    await rec.pass();
    expect(pauses.pause({ service: 'default/a', by: 'alice', reason: 'debugging' }, new Date('2026-01-01T00:00:00Z')).ok).toBe(true);
    const a1 = await replica(runtime, 'a', 1);
    const b1 = await replica(runtime, 'b', 1);
    runtime.pause(a1.id);
    runtime.pause(b1.id);

    for (let i = 0; i < 2; i++) {
      const r = await rec.pass();
      expect((await replica(runtime, 'a', 1)).status).toBe('paused');
      expect((await replica(runtime, 'b', 1)).status).toBe('running');
      expect(r.converged).toBe(false);
      expect(r.status.driftPaused).toEqual({ 'default/a': { by: 'alice', at: '2026-01-01T00:00:00.000Z', reason: 'debugging', uncorrected: 1 } });
      expect(r.status.drift).toHaveLength(1);
      expect(r.status.services['default/a']!.message).toContain('drift correction paused by alice: 1 drifted action(s) not corrected');
      expect(r.status.conditions.find((c) => c.type === 'Ready')).toMatchObject({ status: 'False', reason: 'DriftDetected' });
      expect(r.status.conditions.find((c) => c.type === 'Ready')!.message).toContain('drift correction paused');
      expect(renderStatusText(r.status)).toContain('drift correction paused for default/a by alice since 2026-01-01T00:00:00.000Z (debugging) (1 drifted action(s) not corrected)');
    }

    // A change from git still applies to the paused service.
    source.push({ 'a.yaml': svc('a', 2), 'b.yaml': svc('b', 1) });
    const changed = await rec.pass();
    expect(changed.applied?.outcomes.map((o) => `${o.action.type}:${o.action.cause}`)).toEqual(['create:change']);
    expect((await replica(runtime, 'a', 2)).status).toBe('running');
    expect((await replica(runtime, 'a', 1)).status).toBe('paused');

    pauses.resume('default/a');
    const resumed = await rec.pass();
    expect((await replica(runtime, 'a', 1)).status).toBe('running');
    expect(resumed.status.driftPaused).toBeUndefined();
    const after = await rec.pass();
    expect(after.converged).toBe(true);
  });
});
