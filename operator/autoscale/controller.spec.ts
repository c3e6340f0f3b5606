/**
 * The autoscaler's edge with fake sources and an injected clock: counts start from what runs, CPU is the rate between
 * two stats reads, a changed count asks for a pass, a wake scales from zero at once, failed sources keep the count,
 * and the planner sees the counts (no "scale" action for a count the autoscaler chose).
 */
import { describe, expect, it } from 'vitest';
import { loadDesired } from '../manifests/load.ts';
import { memorySnapshot } from '../source/memory-source.ts';
import { LABELS } from '../model/keys.ts';
import type { DesiredService, DesiredState, ObservedContainer, ObservedState } from '../model/state.ts';
import type { ContainerStats } from '../runtime/runtime.ts';
import type { AccessSnapshot } from '../proxy/access-stats.ts';
import { createLogger } from '../util/log.ts';
import { Registry } from 'prom-client';
import { registerAutoscaleMetrics } from '../metrics/autoscale.ts';
import { Autoscaler } from './controller.ts';
import { autoscaledReplicas } from './replicas.ts';
import { planPass } from '../reconciler/plan-pass.ts';
import { renderText } from '../diff/render.ts';

const manifest = (autoscale: string, extra = '') => `apiVersion: berth/v1
kind: Service
metadata: { name: web, namespace: shop }
spec:
  image: web:1
  replicas: 2
  resources: { cpu: 0.5 }
  ports: [{ port: 80 }]
  loadBalancer: { publish: { port: 18080 } }
  autoscale: ${autoscale}
${extra}`;

async function desiredOf(autoscale: string): Promise<DesiredState> {
  return loadDesired(memorySnapshot({ 'web.yaml': manifest(autoscale) }, 'r1'), { instance: 't', path: '' });
}

function container(svc: DesiredService, replica: number, specHash = svc.specHash): ObservedContainer {
  return {
    id: `c${replica}`, name: `web-${replica}`, status: 'running', exitCode: 0, imageId: 'sha256:x', command: [], env: {}, restartPolicy: 'no', nanoCpus: 0, memory: 0, createdAt: '',
    labels: { [LABELS.managed]: 'true', [LABELS.instance]: 't', [LABELS.namespace]: svc.namespace, [LABELS.service]: svc.name, [LABELS.replica]: String(replica), [LABELS.specHash]: specHash },
  };
}

const observedWith = (containers: ObservedContainer[]): ObservedState => ({ containers, volumes: [], networks: [], images: {} });

function harness(opts: { stats?: (ids: string[]) => Record<string, ContainerStats>; traffic?: () => AccessSnapshot | undefined } = {}) {
  let now = 1_000_000;
  const triggers: string[] = [];
  const scaler = new Autoscaler({
    stats: async (ids) => opts.stats?.(ids) ?? {},
    traffic: async () => opts.traffic?.(),
    health: () => ({ health: 'Healthy', started: true, ready: true, live: true, message: '' }),
    trigger: (r) => triggers.push(r),
    log: createLogger({ level: 'error', write: () => undefined }),
    now: () => now,
  });
  return { scaler, triggers, advance: (ms: number) => { now += ms; }, now: () => now };
}

describe('Autoscaler', () => {
  it('starts from the replicas that run, clamped to min..max; spec.replicas when none runs', async () => {
    const desired = await desiredOf('{ min: 1, max: 3, metrics: [{ cpu: 50% }] }');
    const svc = desired.services[0]!;
    const { scaler } = harness();
    expect(scaler.counts(desired, observedWith([]))).toEqual(new Map([['shop/web', 2]]));
    const other = harness().scaler;
    expect(other.counts(desired, observedWith([1, 2, 3, 4, 5].map((r) => container(svc, r))))).toEqual(new Map([['shop/web', 3]]));
  });

  it('scales on CPU between two reads, asks for a pass, and the planner creates the replicas', async () => {
    const desired = await desiredOf('{ min: 1, max: 10, metrics: [{ cpu: 50% }] }');
    const svc = desired.services[0]!;
    const observed = observedWith([container(svc, 1), container(svc, 2)]);
    let cpuNs = 0;
    let at = 0;
    // Each replica burns its whole 0.5-core request: 100 % of it, twice the 50 % target.
    const h = harness({ stats: (ids) => Object.fromEntries(ids.map((id) => [id, { cpuNs, memoryBytes: 0, readAt: at }])) });
    expect(h.scaler.counts(desired, observed).get('shop/web')).toBe(2);
    at = h.now();
    await h.scaler.sync(); // first read: no rate yet
    expect(h.triggers).toEqual([]);
    h.advance(15_000);
    at = h.now();
    cpuNs += 0.5 * 15_000 * 1e6;
    await h.scaler.sync();
    expect(h.triggers).toEqual(['autoscale']);
    const status = h.scaler.status().get('shop/web')!;
    expect(status).toMatchObject({ min: 1, max: 10, replicas: 4, metrics: [{ metric: 'cpu', value: 100, target: 50 }] });
    expect(status.lastScale).toMatchObject({ from: 2, to: 4 });
    expect(status.lastScale!.reason).toMatch(/^cpu 100 % of target 50 %/);
    const registry = new Registry();
    registerAutoscaleMetrics(registry, () => h.scaler.status());
    expect((await registry.metrics()).split('\n').filter((l) => l && !l.startsWith('#'))).toEqual([
      'berth_autoscale_replicas{service="shop/web"} 4', 'berth_autoscale_min_replicas{service="shop/web"} 1', 'berth_autoscale_max_replicas{service="shop/web"} 10',
      'berth_autoscale_metric_value{service="shop/web",metric="cpu"} 100', 'berth_autoscale_metric_target{service="shop/web",metric="cpu"} 50',
    ]);
    const counts = h.scaler.counts(desired, observed);
    const plan = planPass({ desired, observed, instance: 't', applied: new Map(), drift: 'correct', autoscaled: counts }).plan;
    expect(plan.actions.filter((a) => a.type === 'create').length).toBe(2);
  });

  it('keeps the count when the stats fail, and never plans a scale for a count it chose', async () => {
    const desired = await desiredOf('{ min: 1, max: 10, metrics: [{ cpu: 50% }] }');
    const svc = desired.services[0]!;
    const observed = observedWith([1, 2, 3].map((r) => container(svc, r)));
    const h = harness({ stats: () => { throw new Error('engine down'); } });
    h.scaler.counts(desired, observed);
    await h.scaler.sync();
    h.advance(15_000);
    await h.scaler.sync();
    expect(h.triggers).toEqual([]);
    expect(h.scaler.status().get('shop/web')).toMatchObject({ replicas: 3 });
    // berth plan without an autoscaler: what runs, not spec.replicas (2)
    expect(autoscaledReplicas(desired, observed).services[0]!.spec.replicas).toBe(3);
    const plan = planPass({ desired, observed, instance: 't', applied: new Map(), drift: 'correct' }).plan;
    expect(plan.actions.filter((a) => a.type === 'create' || a.type === 'remove')).toEqual([]);
    expect(plan.autoscaled).toEqual([{ service: 'shop/web', min: 1, max: 10, replicas: 3 }]);
    expect(renderText(plan).split('\n').at(-1)).toBe('  = autoscaled     shop/web: 1..10, at 3');
  });

  it('a lowered max scales down at once; a wake at zero goes to one replica and asks for a pass', async () => {
    const wide = await desiredOf('{ min: 0, max: 5, metrics: [{ concurrency: 5 }], scaleToZero: { after: 1m } }');
    const svc = wide.services[0]!;
    const h = harness({ traffic: () => ({ buckets: [0.1], listeners: [] }) });
    expect(h.scaler.counts(wide, observedWith([1, 2, 3, 4].map((r) => container(svc, r)))).get('shop/web')).toBe(4);
    const narrow = await desiredOf('{ min: 0, max: 2, metrics: [{ concurrency: 5 }], scaleToZero: { after: 1m } }');
    expect(h.scaler.counts(narrow, observedWith([1, 2, 3, 4].map((r) => container(svc, r)))).get('shop/web')).toBe(2);
    // idle past scaleToZero.after: 0
    await h.scaler.sync();
    h.advance(61_000);
    await h.scaler.sync();
    expect(h.scaler.status().get('shop/web')?.replicas).toBe(0);
    h.triggers.length = 0;
    h.scaler.wake(['shop/web', 'shop/unknown']);
    expect(h.triggers).toEqual(['autoscale wake']);
    expect(h.scaler.counts(narrow, observedWith([])).get('shop/web')).toBe(1);
    expect(h.scaler.status().get('shop/web')?.lastScale?.reason).toMatch(/wake up/);
  });

  it('decides nothing while a rolling update replaces replicas', async () => {
    const desired = await desiredOf('{ min: 1, max: 10, metrics: [{ cpu: 50% }] }');
    const svc = desired.services[0]!;
    const observed = observedWith([container(svc, 1, 'old'), container(svc, 2)]);
    let cpuNs = 0;
    const h = harness({ stats: (ids) => Object.fromEntries(ids.map((id) => [id, { cpuNs, memoryBytes: 0, readAt: h.now() }])) });
    h.scaler.counts(desired, observed);
    await h.scaler.sync();
    h.advance(15_000);
    cpuNs += 0.5 * 15_000 * 1e6;
    await h.scaler.sync();
    expect(h.triggers).toEqual([]);
    expect(h.scaler.status().get('shop/web')?.lastDecision?.reason).toMatch(/rolling update/);
  });
});
