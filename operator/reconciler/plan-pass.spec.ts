/** berth run, berth apply, berth plan and a pull request plan share one planner: on the same inputs, the same plan. */
import { describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { loadDesired } from '../manifests/index.ts';
import type { Plan } from '../model/plan.ts';
import { planTarget } from '../review/reviewer.ts';
import { MemorySource, memorySnapshot } from '../source/memory-source.ts';
import { FakeRuntime } from '../../test/doubles/fake-runtime.ts';
import { silentLogger } from '../util/log.ts';
import type { SchedNode } from '../scheduler/types.ts';
import { planRevision } from './plan-revision.ts';
import { Reconciler, type Cluster } from './reconciler.ts';

const load = (s: Parameters<typeof loadDesired>[0]) => loadDesired(s, { instance: 't', path: '.' });
const svc = (name: string, replicas: number, env: string) =>
  `apiVersion: berth/v1\nkind: Service\nmetadata: { name: ${name} }\nspec:\n  image: img:1\n  replicas: ${replicas}\n  env: { V: "${env}" }\n  placement: { constraints: ["node.labels.zone == a"] }\n`;
const nodes = 'apiVersion: berth/v1\nkind: Node\nmetadata: { name: n1 }\nspec: { endpoint: "unix:///n1.sock", labels: { zone: a } }\n---\n'
  + 'apiVersion: berth/v1\nkind: Node\nmetadata: { name: n2 }\nspec: { endpoint: "unix:///n2.sock", labels: { zone: b } }\n';
const schedNodes: SchedNode[] = ['a', 'b'].map((zone, i) => ({ name: `n${i + 1}`, labels: { zone }, capacity: { cpu: 4, memory: 8 << 30 }, ready: true, schedulable: true }));
const view = { nodes: schedNodes, unreachable: new Set<string>(), lost: new Set<string>() };
const cluster: Cluster = { sync: () => [], view: () => ({ ...view, states: [] }) };

/**
 * v1 applied (a: 2 replicas, b); v2 asks for a: 3 and a new spec of b, whose update the status holds as rolled back;
 * replica 1 of a exited (drift). Built afresh for each caller: run and apply change the engine.
 */
async function world() {
  const source = new MemorySource();
  const runtime = new FakeRuntime();
  runtime.addImage('img:1', 'sha256:one');
  const v1 = source.push({ 'nodes.yaml': nodes, 'a.yaml': svc('a', 2, '1'), 'b.yaml': svc('b', 1, '1') });
  await reconciler(source, runtime, true).pass();
  const files2 = { 'nodes.yaml': nodes, 'a.yaml': svc('a', 3, '1'), 'b.yaml': svc('b', 1, '2') };
  const v2 = source.push(files2);
  const failed = (await load(memorySnapshot(files2, v2))).services.find((s) => s.name === 'b')!.specHash;
  const doc = parse(source.status.get('t/status.yaml')!);
  doc.held = { 'default/b': { action: 'rollback', failedSpecHash: failed, reason: 'default/b #1 failed: readiness: HTTP 500', revision: v2, previousRevision: v1 } };
  source.status.set('t/status.yaml', stringify(doc));
  const a1 = (await runtime.observe('t', [])).containers.find((c) => c.labels['berth.service'] === 'a' && c.labels['berth.replica'] === '1');
  runtime.kill(a1!.id, 137);
  return { source, runtime, v1, v2, status: doc };
}

function reconciler(source: MemorySource, runtime: FakeRuntime, keepLastGood: boolean): Reconciler {
  return new Reconciler({
    source, runtime, log: silentLogger, instance: 't', load, cluster, keepLastGood,
    sourceInfo: { repo: source.description, branch: 'main', path: '.' }, drift: 'correct', writeStatus: true,
    now: () => new Date('2026-01-01T00:00:00Z'),
  });
}

const shape = (p: Plan | null) => JSON.parse(JSON.stringify(p?.actions ?? null)) as unknown;

describe('one planner for every caller', () => {
  it('berth run, berth apply, berth plan and a pull request plan agree (Nodes, a held rollback, drift)', async () => {
    const run = await world();
    const fromRun = (await reconciler(run.source, run.runtime, true).pass()).plan;
    const apply = await world();
    const fromApply = (await reconciler(apply.source, apply.runtime, false).pass()).plan;
    const plan = await world();
    const deps = { source: plan.source, runtime: plan.runtime, instance: 't', load, cluster: async () => view };
    const fromPlan = (await planRevision(deps, await load(await plan.source.snapshot(plan.v2)), plan.status)).plan;
    const review = await world();
    const reviewDeps = { source: review.source, runtime: review.runtime, instance: 't', load, cluster: async () => view };
    const fromReview = (await planTarget(reviewDeps, { key: 'pull/1', ref: review.v2, sha: review.v2 }, { revision: review.v1, status: review.status })).plan;

    const kinds = (fromRun?.actions ?? []).map((a) => `${a.type}:${a.cause}`).sort();
    expect(kinds).toEqual(['create:change', 'start:drift']);
    expect(fromRun?.actions.find((a) => a.type === 'create')).toMatchObject({ node: 'n1' });
    expect(shape(fromApply)).toEqual(shape(fromRun));
    expect(shape(fromPlan)).toEqual(shape(fromRun));
    expect(shape(fromReview)).toEqual(shape(fromRun));
  });
});
