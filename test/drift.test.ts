/** Drift on the real engine: what a person does by hand to managed containers is corrected (or only reported in detect mode). */
import tar from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeRemote, type Remote } from './helpers/git.ts';
import { cleanupInstance, testDocker, uniqueInstance, waitFor, TEST_ENGINE, TEST_IMAGE } from './helpers/docker.ts';
import { condition, containersOf, runningOf, service, startTestOperator, type TestOperator } from './helpers/operator.ts';

const docker = testDocker();

describe('drift correction', () => {
  const instance = uniqueInstance('drift');
  // Podman names a short name localhost/... when tagging and docker.io/... when building: named in full there
  const repo = `${TEST_ENGINE === 'podman' ? 'localhost/' : ''}berth-test/${instance}`;
  const tag = `${repo}:v1`;
  let remote: Remote;
  let op: TestOperator;

  beforeAll(async () => {
    await docker.getImage(TEST_IMAGE).tag({ repo, tag: 'v1' });
    remote = await makeRemote({ 'app.yaml': service('app', { replicas: 2, image: tag, extra: '  resources: { memory: 64Mi }' }) });
    op = await startTestOperator(remote.url, instance);
    await op.reached((r) => r.converged, 'first converge');
  });

  afterAll(async () => {
    await op?.stop();
    await remote?.close();
    await cleanupInstance(docker, instance);
    await docker.getImage(tag).remove().catch(() => undefined);
  });

  const twoRunning = async () => {
    const running = await runningOf(docker, instance, 'app');
    const all = await containersOf(docker, instance, 'app');
    return running.length === 2 && all.length === 2 ? running : undefined;
  };

  it('recreates a container removed by hand', async () => {
    const [victim] = await runningOf(docker, instance, 'app');
    await docker.getContainer(victim!.Id).remove({ force: true });
    const now = await waitFor(twoRunning, { what: 'replacement of a removed replica', timeoutMs: 30_000 });
    expect(now.map((c) => c.Id)).not.toContain(victim!.Id);
    expect(now.map((c) => c.Labels['berth.replica'])).toEqual(['1', '2']);
  });

  it('starts a container killed by hand', async () => {
    const [victim] = await runningOf(docker, instance, 'app');
    await docker.getContainer(victim!.Id).kill();
    await waitFor(async () => (await docker.getContainer(victim!.Id).inspect()).State.Running && (await twoRunning()), { what: 'killed replica running again' });
  });

  it('unpauses a paused container', async () => {
    const [victim] = await runningOf(docker, instance, 'app');
    await docker.getContainer(victim!.Id).pause();
    await waitFor(async () => !(await docker.getContainer(victim!.Id).inspect()).State.Paused, { what: 'unpaused' });
  });

  it('reverts a limit and a restart policy changed with docker update (Podman refuses the update: no such drift)', async () => {
    const [victim] = await runningOf(docker, instance, 'app');
    const update = docker.getContainer(victim!.Id).update({ Memory: 128 * 1024 * 1024, MemorySwap: -1, RestartPolicy: { Name: 'always', MaximumRetryCount: 0 } });
    if (TEST_ENGINE === 'podman') {
      // its Docker API has no update route: nobody can make this drift through it, and the replica keeps its limit
      await expect(update).rejects.toMatchObject({ statusCode: 404 });
      expect((await docker.getContainer(victim!.Id).inspect()).HostConfig.Memory).toBe(64 * 1024 * 1024);
      return;
    }
    await update;
    const host = await waitFor(async () => {
      const h = (await docker.getContainer(victim!.Id).inspect()).HostConfig;
      return h.Memory === 64 * 1024 * 1024 && h.RestartPolicy?.Name === 'no' ? h : undefined;
    }, { what: 'memory and restart policy reverted' });
    expect(host.Memory).toBe(64 * 1024 * 1024);
  });

  it('replaces replicas when their image tag now points to another image', async () => {
    const before = (await runningOf(docker, instance, 'app')).map((c) => c.Id);
    // Build a different image under the same tag: FROM the test image plus a label.
    const pack = tar.pack();
    pack.entry({ name: 'Dockerfile' }, `FROM ${TEST_IMAGE}\nLABEL drift=yes\n`);
    pack.finalize();
    const build = await docker.buildImage(pack as never, { t: tag });
    await new Promise((resolve, reject) => docker.modem.followProgress(build, (err) => (err ? reject(err) : resolve(null))));
    op.trigger('image retagged');
    const now = await waitFor(async () => {
      const r = await twoRunning();
      return r && r.every((c) => !before.includes(c.Id)) ? r : undefined;
    }, { what: 'replicas on the new image' });
    const newId = (await docker.getImage(tag).inspect()).Id;
    expect(now.every((c) => c.ImageID === newId)).toBe(true);
  });
});

describe('drift detection only (--drift detect)', () => {
  const instance = uniqueInstance('detect');
  let remote: Remote;
  let op: TestOperator;

  beforeAll(async () => {
    remote = await makeRemote({ 'app.yaml': service('app', { replicas: 1 }) });
    op = await startTestOperator(remote.url, instance, { drift: 'detect' });
    await op.reached((r) => r.converged, 'first converge');
  });

  afterAll(async () => {
    await op?.stop();
    await remote?.close();
    await cleanupInstance(docker, instance);
  });

  it('reports a stopped container in status and leaves it stopped', async () => {
    const [victim] = await runningOf(docker, instance, 'app');
    await docker.getContainer(victim!.Id).stop({ t: 1 });
    const r = await op.waitPass((p) => p.status.drift.length > 0, 'drift reported');
    expect(condition(r.status, 'Ready')).toMatchObject({ status: 'False', reason: 'DriftDetected' });
    expect(r.status.drift[0]).toMatch(/^start berth\..*: drift: .* exited with code/);
    expect((await docker.getContainer(victim!.Id).inspect()).State.Running).toBe(false);
    expect(r.applied).toBeNull();
  });
});
