import { describe, expect, it } from 'vitest';
import { diff } from '../diff/diff.ts';
import { loadDesired } from '../manifests/index.ts';
import { BerthError } from '../model/errors.ts';
import { FakeRuntime } from '../runtime/fake.ts';
import { memorySnapshot } from '../source/memory-source.ts';
import { silentLogger } from '../util/log.ts';
import { readBuildContext } from '../reconciler/reconciler.ts';
import { applyPlan } from './apply.ts';

const svc = (name: string, replicas: number, extra = '') =>
  `apiVersion: berth/v1\nkind: Service\nmetadata: { name: ${name} }\nspec:\n  image: img:1\n  replicas: ${replicas}\n${extra}`;

async function converge(rt: FakeRuntime, files: Record<string, string>, rev: string) {
  const snap = memorySnapshot(files, rev);
  const desired = await loadDesired(snap, { instance: 't', path: '.' });
  const plan = diff(desired, await rt.observe('t', desired.services.map((s) => s.image.ref)), { instance: 't' });
  return applyPlan(plan, { runtime: rt, instance: 't', log: silentLogger, buildContext: (s) => readBuildContext(snap, s) });
}

const ops = (rt: FakeRuntime, from: number) => rt.calls.slice(from).map((c) => c.method).filter((m) => m !== 'startContainer');

describe('applyPlan', () => {
  it('start-first: each new replica is created before its old one is stopped, one at a time', async () => {
    const rt = new FakeRuntime();
    rt.addImage('img:1', 'sha256:1');
    await converge(rt, { 'a.yaml': svc('a', 2) }, 'r1');
    const n = rt.calls.length;
    const r = await converge(rt, { 'a.yaml': svc('a', 2, '  env: { V: "2" }\n') }, 'r2');
    expect(r.errors).toEqual([]);
    expect(ops(rt, n)).toEqual(['createContainer', 'stopContainer', 'removeContainer', 'createContainer', 'stopContainer', 'removeContainer']);
  });

  it('stop-first: the old replica goes before the new one starts', async () => {
    const rt = new FakeRuntime();
    rt.addImage('img:1', 'sha256:1');
    const order = '  update: { order: stop-first, parallelism: 2 }\n';
    await converge(rt, { 'a.yaml': svc('a', 2, order) }, 'r1');
    const n = rt.calls.length;
    await converge(rt, { 'a.yaml': svc('a', 2, `${order}  env: { V: "2" }\n`) }, 'r2');
    expect(ops(rt, n).slice(0, 3)).toEqual(['stopContainer', 'stopContainer', 'removeContainer']);
  });

  it('a failed build skips only its own service; other services converge and the error is reported', async () => {
    const rt = new FakeRuntime();
    rt.addImage('img:1', 'sha256:1');
    rt.failNext('buildImage', new BerthError('E_BUILD', 'COPY failed: no such file'));
    const files = {
      'a.yaml': svc('a', 1),
      'b.yaml': 'apiVersion: berth/v1\nkind: Service\nmetadata: { name: b }\nspec:\n  build: { context: img }\n',
      'img/Dockerfile': 'FROM img:1\n',
    };
    const r = await converge(rt, files, 'r1');
    expect(r.errors.map((e) => e.code)).toEqual(['E_BUILD', 'E_BUILD']);
    const running = (await rt.observe('t', [])).containers.map((c) => c.labels['berth.service']);
    expect(running).toEqual(['a']);
  });
});
