import { describe, expect, it } from 'vitest';
import { diff } from '../diff/diff.ts';
import { loadDesired } from '../manifests/index.ts';
import { BerthError } from '../model/errors.ts';
import { FakeRuntime } from '../../test/doubles/fake-runtime.ts';
import { memorySnapshot } from '../source/memory-source.ts';
import { createLogger, silentLogger, type Level } from '../util/log.ts';
import { readBuildContext } from './build-context.ts';
import { applyPlan, type ApplyDeps } from './apply.ts';

const svc = (name: string, replicas: number, extra = '') =>
  `apiVersion: berth/v1\nkind: Service\nmetadata: { name: ${name} }\nspec:\n  image: img:1\n  replicas: ${replicas}\n${extra}`;

async function converge(rt: FakeRuntime, files: Record<string, string>, rev: string, log = silentLogger, extra: Partial<ApplyDeps> = {}) {
  const snap = memorySnapshot(files, rev);
  const desired = await loadDesired(snap, { instance: 't', path: '.' });
  const plan = diff(desired, await rt.observe('t', desired.services.map((s) => s.image.ref)), { instance: 't' });
  return applyPlan(plan, { runtime: rt, instance: 't', log, buildContext: (s) => readBuildContext(snap, s), ...extra });
}

const inNamespace = (ns: string, name: string) => `apiVersion: berth/v1\nkind: Service\nmetadata: { name: ${name}, namespace: ${ns} }\nspec:\n  image: img:1\n`;

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

  it('creates a namespace network before its replicas and removes an unused one after the prunes', async () => {
    const rt = new FakeRuntime();
    rt.addImage('img:1', 'sha256:1');
    await converge(rt, { 'a.yaml': inNamespace('one', 'a') }, 'r1');
    const n = rt.calls.length;
    const r = await converge(rt, { 'b.yaml': inNamespace('two', 'b') }, 'r2');
    expect(r.errors).toEqual([]);
    expect(rt.calls.slice(n).map((c) => (c.method.endsWith('Network') ? `${c.method} ${String(c.args[0])}` : c.method))).toEqual([
      'createNetwork berth.t.two', 'createContainer', 'startContainer', 'stopContainer', 'removeContainer', 'removeNetwork berth.t.one',
    ]);
    expect(rt.calls[n]?.args[1]).toEqual({ 'berth.managed': 'true', 'berth.instance': 't', 'berth.kind': 'Service', 'berth.namespace': 'two' });
    const state = await rt.observe('t', []);
    expect(state.networks.map((x) => x.name)).toEqual(['berth.t.two']);
    const [b] = state.containers;
    expect(b?.networks).toEqual(['berth.t.two']);
    expect(rt.specOf(b!.id)).toMatchObject({ network: { name: 'berth.t.two', aliases: ['b'] }, extraHosts: ['host.docker.internal:host-gateway'] });
  });

  it('a network still in use is a warning, not an error of the pass, and is removed by a later pass', async () => {
    const rt = new FakeRuntime();
    rt.addImage('img:1', 'sha256:1');
    await converge(rt, { 'a.yaml': inNamespace('one', 'a') }, 'r1');
    const stranger = await rt.createContainer({
      name: 'by-hand', image: 'img:1', env: {}, labels: {}, exposedPorts: [], restartPolicy: 'no', mounts: [],
      network: { name: 'berth.t.one', aliases: [] },
    });
    const levels: Level[] = [];
    const log = createLogger({ level: 'debug', json: true, write: (line) => levels.push(JSON.parse(line).level) });
    const r = await converge(rt, { 'b.yaml': inNamespace('two', 'b') }, 'r2', log);
    expect(r.errors).toEqual([]);
    const last = r.outcomes.at(-1);
    expect(last).toMatchObject({ action: { type: 'remove-network', name: 'berth.t.one' }, deferred: true, error: { code: 'E_DOCKER', terminal: false } });
    expect(levels).toContain('warn');
    expect(levels).not.toContain('error');
    expect((await rt.observe('t', [])).networks.map((x) => x.name)).toEqual(['berth.t.one', 'berth.t.two']);
    await rt.removeContainer(stranger);
    const again = await converge(rt, { 'b.yaml': inNamespace('two', 'b') }, 'r2');
    expect(again.outcomes.map((o) => [o.action.type, o.error?.code])).toEqual([['remove-network', undefined]]);
    expect((await rt.observe('t', [])).networks.map((x) => x.name)).toEqual(['berth.t.two']);
  });

  it('beforeStop runs before every stop (replace and remove); its failure does not stop the removal', async () => {
    const rt = new FakeRuntime();
    rt.addImage('img:1', 'sha256:1');
    await converge(rt, { 'a.yaml': svc('a', 2) }, 'r1');
    const n = rt.calls.length;
    const drained: string[] = [];
    const beforeStop = async (id: string) => {
      drained.push(`drain ${id}`);
      if (drained.length === 1) throw new Error('proxy gone');
    };
    const r = await converge(rt, { 'a.yaml': svc('a', 1, '  env: { V: "2" }\n') }, 'r2', silentLogger, { beforeStop });
    expect(r.errors).toEqual([]);
    const stops = rt.calls.slice(n).filter((c) => c.method === 'stopContainer').map((c) => String(c.args[0]));
    expect([...drained].sort()).toEqual(stops.map((id) => `drain ${id}`).sort());
    expect(stops).toHaveLength(2);
  });
});
