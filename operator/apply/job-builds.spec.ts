/** A Job's image built from the repository: the build-image action of a Service, then the run; a failed build skips the run. */
import { describe, expect, it } from 'vitest';
import { diff } from '../diff/diff.ts';
import { loadDesired } from '../manifests/index.ts';
import { BerthError } from '../model/errors.ts';
import { FakeRuntime } from '../../test/doubles/fake-runtime.ts';
import { memorySnapshot } from '../source/memory-source.ts';
import { silentLogger } from '../util/log.ts';
import { readBuildContext } from './build-context.ts';
import { applyPlan } from './apply.ts';

const files = {
  'job.yaml': 'apiVersion: berth/v1\nkind: Job\nmetadata: { name: migrate, namespace: shop }\nspec: { build: { context: tools }, command: [migrate] }\n',
  'tools/Dockerfile': 'FROM img:1\n',
  'tools/migrate.sh': 'echo up\n',
};

async function converge(rt: FakeRuntime) {
  const snap = memorySnapshot(files, 'r1');
  const desired = await loadDesired(snap, { instance: 't', path: '.' });
  const plan = diff(desired, await rt.observe('t', []), { instance: 't' });
  return { desired, result: await applyPlan(plan, { runtime: rt, instance: 't', log: silentLogger, buildContext: (s) => readBuildContext(snap, s) }) };
}

describe('Job builds through apply', () => {
  it("builds the Job's context with a Service build's labels, then creates its container from that image", async () => {
    const rt = new FakeRuntime();
    const { desired, result } = await converge(rt);
    expect(result.errors).toEqual([]);
    const ref = desired.jobs![0]!.image.ref;
    const build = rt.calls.find((c) => c.method === 'buildImage')!;
    expect(build.args[0]).toBe(ref);
    expect((build.args[1] as { path: string }[]).map((f) => f.path).sort()).toEqual(['Dockerfile', 'migrate.sh']);
    expect(build.args[3]).toEqual({ 'berth.managed': 'true', 'berth.instance': 't', 'berth.kind': 'Service', 'berth.namespace': 'shop', 'berth.service': 'migrate', 'berth.revision': 'r1' });
    const [job] = (await rt.observe('t', [])).containers;
    expect(job?.labels).toMatchObject({ 'berth.kind': 'Job', 'berth.job': 'migrate' });
    expect(rt.calls.filter((c) => c.method === 'pullImage')).toEqual([]);
  });

  it('a failed build skips the run (E_BUILD), creating no container', async () => {
    const rt = new FakeRuntime();
    rt.failNext('buildImage', new BerthError('E_BUILD', 'RUN failed: exit code: 3'));
    const { result } = await converge(rt);
    expect(result.errors.map((e) => [e.code, e.message])).toEqual([['E_BUILD', 'RUN failed: exit code: 3'], ['E_BUILD', 'skipped: image build of shop/migrate failed']]);
    expect((await rt.observe('t', [])).containers).toEqual([]);
  });
});
