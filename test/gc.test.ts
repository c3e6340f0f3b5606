/** Garbage collection against the real engine: only this instance's exited containers, old built images and dangling images go. */
import type Dockerode from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGc, type GcHandle, type GcReport } from '../operator/healing/gc-runner.ts';
import { LABELS } from '../operator/model/keys.ts';
import { packContext } from '../operator/runtime/docker-build.ts';
import { createDockerGc, type GcRuntime } from '../operator/runtime/docker-gc.ts';
import { silentLogger } from '../operator/util/log.ts';
import { cleanupInstance, testDocker, TEST_IMAGE, uniqueInstance, waitFor } from './helpers/docker.ts';

const docker = testDocker();
const instance = uniqueInstance('gc');
const ns = instance; // the namespace is a path segment of every built tag, so cleanupInstance finds them
const owner = { 'berth-test.owner': instance }; // marks the non-berth objects this file creates, to remove them itself
const foreign: { containers: string[]; images: string[] } = { containers: [], images: [] };

function berthLabels(service: string, extra: Record<string, string> = {}): Record<string, string> {
  return { [LABELS.managed]: 'true', [LABELS.instance]: instance, [LABELS.namespace]: ns, [LABELS.service]: service, ...extra };
}

/** Builds FROM the local busybox with one LABEL (so every build is a distinct image) and returns the image id. */
async function build(tag: string, label: string, labels: Record<string, string>): Promise<string> {
  const dockerfile = `FROM ${TEST_IMAGE}\nLABEL berth-test.step="${label}"\n`;
  const context = packContext([{ path: 'Dockerfile', mode: 0o644, content: Buffer.from(dockerfile) }]);
  const stream = await docker.buildImage(context as unknown as NodeJS.ReadableStream, { t: tag, labels, rm: true, forcerm: true, pull: false } as Dockerode.ImageBuildOptions);
  const events = await new Promise<{ error?: string }[]>((resolve, reject) => {
    docker.modem.followProgress(stream, (err: Error | null, res: { error?: string }[]) => (err ? reject(err) : resolve(res)));
  });
  const failed = events.find((e) => e.error);
  if (failed) throw new Error(`build of ${tag} failed: ${failed.error}`);
  return (await docker.getImage(tag).inspect()).Id;
}

/** Creates a container; `run` = 'exit' runs `true` and waits for it to exit, 'run' leaves `sleep` running, 'create' only creates. */
async function container(name: string, image: string, labels: Record<string, string>, run: 'exit' | 'run' | 'create', mounts: Dockerode.MountConfig = []): Promise<string> {
  const cmd = run === 'run' ? ['sleep', '3600'] : ['true'];
  const c = await docker.createContainer({ name, Image: image, Cmd: cmd, Labels: labels, HostConfig: { Mounts: mounts } });
  if (run === 'create') return c.id;
  await c.start();
  if (run === 'exit') await waitFor(async () => (await c.inspect()).State.Status === 'exited', { what: `${name} to exit` });
  return c.id;
}

const exists = {
  container: (id: string) => docker.getContainer(id).inspect().then(() => true, () => false),
  image: (id: string) => docker.getImage(id).inspect().then(() => true, () => false),
  volume: (name: string) => docker.getVolume(name).inspect().then(() => true, () => false),
};

describe('GC on the real engine', () => {
  const ids: Record<string, string> = {};
  const volume = `berth.${instance}.${ns}.data`;
  let runtime: GcRuntime;
  let gc: GcHandle;
  let report: GcReport;

  beforeAll(async () => {
    runtime = createDockerGc(docker);
    for (const n of [1, 2, 3, 4]) ids[`img${n}`] = await build(`berth.local/${ns}/svc:${n}`, `svc-${n}`, berthLabels('svc', { [LABELS.revision]: `rev${n}` }));
    // The same tag built twice: the first image is left dangling, still carrying its berth labels.
    ids.danglingOurs = await build(`berth.local/${ns}/other:x`, 'other-old', berthLabels('other'));
    ids.otherImage = await build(`berth.local/${ns}/other:x`, 'other-new', berthLabels('other'));
    // Someone else's images: a tagged one and a dangling one.
    ids.foreignImage = await build(`berth-test-foreign/${instance}:keep`, 'foreign', owner);
    ids.danglingForeign = await build(`berth-test-foreign/${instance}:dangle`, 'foreign-old', owner);
    await build(`berth-test-foreign/${instance}:dangle`, 'foreign-new', owner);
    foreign.images.push(ids.danglingForeign);

    await docker.createVolume({ Name: volume, Labels: berthLabels('svc') });
    const mount: Dockerode.MountConfig = [{ Type: 'volume', Source: volume, Target: '/data' }];
    for (const n of [1, 2, 3, 4]) {
      ids[`exited${n}`] = await container(`${instance}-x${n}`, `berth.local/${ns}/svc:4`, berthLabels('svc', { [LABELS.replica]: String(n) }), 'exit', n === 1 ? mount : []);
    }
    ids.running = await container(`${instance}-run`, `berth.local/${ns}/svc:4`, berthLabels('svc', { [LABELS.replica]: '5' }), 'run');
    ids.created = await container(`${instance}-new`, `berth.local/${ns}/svc:3`, berthLabels('svc', { [LABELS.replica]: '6' }), 'create');
    ids.user = await container(`${instance}-user`, `berth.local/${ns}/svc:1`, berthLabels('user'), 'exit'); // keeps img1 in use
    ids.foreignContainer = await container(`${instance}-foreign`, TEST_IMAGE, owner, 'exit');
    foreign.containers.push(ids.foreignContainer);

    gc = startGc({ runtime, instance, log: silentLogger, schedule: '0 0 1 1 *', policy: { keepImages: 2 } });
    report = await gc.runOnce('test');
  });

  afterAll(async () => {
    gc?.stop();
    await cleanupInstance(docker, instance);
    for (const id of foreign.containers) await docker.getContainer(id).remove({ force: true, v: false }).catch(() => undefined);
    for (const id of foreign.images) await docker.getImage(id).remove().catch(() => undefined);
  });

  it('removes exited berth containers beyond the history of 2, oldest first, but not their volumes', async () => {
    expect(report.removedContainers.map((c) => c.id)).toEqual([ids.exited2, ids.exited1]);
    expect(await exists.container(ids.exited1!)).toBe(false);
    expect(await exists.container(ids.exited2!)).toBe(false);
    expect(await exists.volume(volume)).toBe(true);
  });

  it('keeps the newest exited containers, running and created ones, other services and non-berth containers', async () => {
    for (const key of ['exited3', 'exited4', 'running', 'created', 'user', 'foreignContainer']) {
      expect(await exists.container(ids[key]!), key).toBe(true);
    }
  });

  it('removes built images beyond keepImages and the berth dangling image, keeping the image in use', async () => {
    expect(report.removedImages.map((i) => i.id)).toEqual([ids.img2, ids.danglingOurs]);
    expect(report.removedImages[0]?.name).toBe(`berth.local/${ns}/svc:2`);
    expect(report.skipped).toEqual([]);
    for (const key of ['img2', 'danglingOurs']) expect(await exists.image(ids[key]!), key).toBe(false);
    for (const key of ['img1', 'img3', 'img4', 'otherImage']) expect(await exists.image(ids[key]!), key).toBe(true);
  });

  it('never touches images that are not berth-built for this instance, nor the base image', async () => {
    for (const key of ['foreignImage', 'danglingForeign']) expect(await exists.image(ids[key]!), key).toBe(true);
    expect(await exists.image(TEST_IMAGE)).toBe(true);
  });

  it('a second run finds nothing more to remove', async () => {
    const again = await gc.runOnce('again');
    expect([...again.removedContainers, ...again.removedImages, ...again.skipped]).toEqual([]);
  });

  it('the adapter refuses to remove what is in use (409, no force) and reports what is gone (404)', async () => {
    expect(await runtime.removeImage(ids.img1!)).toBe('in-use');
    expect(await runtime.removeContainer(ids.running!)).toBe('in-use');
    expect(await runtime.removeContainer(ids.exited1!)).toBe('gone');
    expect(await exists.image(ids.img1!)).toBe(true);
    expect(await exists.container(ids.running!)).toBe(true);
  });

  it('measures the data root and lists only this instance', async () => {
    const disk = await runtime.diskUsage();
    expect(disk.totalBytes).toBeGreaterThan(0);
    expect(disk.usedBytes).toBeGreaterThan(0);
    expect(disk.usedBytes).toBeLessThanOrEqual(disk.totalBytes);
    const inv = await runtime.inventory(instance);
    expect(inv.disk).toBeDefined();
    const all = [...inv.containers, ...inv.images, ...inv.dangling];
    expect(all.every((o) => o.labels[LABELS.instance] === instance && o.labels[LABELS.managed] === 'true')).toBe(true);
    expect(inv.images.find((i) => i.id === ids.img1)?.inUse).toBe(true);
    expect(inv.containers.find((c) => c.id === ids.exited4)?.finishedAt).toMatch(/^\d{4}-/);
  });
});
