/** The dockerode adapter against the real engine. Everything created carries berth.instance=<a unique instance>. */
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rm } from 'node:fs/promises';
import Dockerode from 'dockerode';
import { afterAll, describe, expect, it } from 'vitest';
import { createDockerRuntime } from '../operator/runtime/docker.ts';
import type { CreateContainerSpec, RuntimeEvent } from '../operator/runtime/runtime.ts';
import {
  cleanupInstance, DEFAULT_NETWORK, demuxLogs, INSPECT_CONTAINER, LIST_CONTAINERS, logRequests, testDocker, TEST_ENGINE, TEST_IMAGE, TEST_SOCKET,
  uniqueInstance, waitFor, waitSubscribed,
} from './helpers/docker.ts';

const MiB = 1024 * 1024;
const docker = testDocker();
const runtime = createDockerRuntime(docker);
const instance = uniqueInstance('rt');
const instances = [instance];

function labelsOf(inst: string, extra: Record<string, string> = {}): Record<string, string> {
  return { 'berth.managed': 'true', 'berth.instance': inst, ...extra };
}

function spec(name: string, over: Partial<CreateContainerSpec> = {}): CreateContainerSpec {
  return {
    name: `${instance}.${name}`, image: TEST_IMAGE, command: ['sleep', '300'], env: {}, labels: labelsOf(instance),
    exposedPorts: [], restartPolicy: 'no', mounts: [], ...over,
  };
}

async function running(s: CreateContainerSpec, rt = runtime): Promise<string> {
  const id = await rt.createContainer(s);
  await rt.startContainer(id);
  return id;
}

async function observed(id: string, inst = instance, rt = runtime) {
  return (await rt.observe(inst, [])).containers.find((c) => c.id === id);
}

afterAll(async () => {
  for (const inst of instances) await cleanupInstance(docker, inst);
});

describe('docker runtime: containers', () => {
  it('observe maps every field after create + start', async () => {
    const s = spec('map', {
      command: ['sleep', '301'], env: { GREETING: 'a=b', EMPTY: '' }, labels: labelsOf(instance, { 'berth.service': 'web' }),
      exposedPorts: ['8080/tcp', '9090'], memory: 64 * MiB, nanoCpus: 250_000_000, restartPolicy: 'on-failure',
    });
    const id = await running(s);
    const state = await runtime.observe(instance, [TEST_IMAGE, 'berth-test/absent:1']);
    const imageId = (await docker.getImage(TEST_IMAGE).inspect()).Id;
    expect(state.images).toEqual({ [TEST_IMAGE]: imageId });
    const c = state.containers.find((x) => x.id === id);
    expect(c).toMatchObject({
      name: s.name, labels: s.labels, status: 'running', exitCode: 0, imageId, command: ['sleep', '301'],
      restartPolicy: 'on-failure', memory: 64 * MiB, nanoCpus: 250_000_000,
    });
    expect(c?.env).toMatchObject({ GREETING: 'a=b', EMPTY: '' });
    expect(c?.networks).toEqual([DEFAULT_NETWORK]);
    expect(c?.address).toBe((await docker.getContainer(id).inspect()).NetworkSettings.Networks[DEFAULT_NETWORK]?.IPAddress);
    expect(Date.parse(c?.createdAt ?? '')).toBeGreaterThan(0);
    expect(Date.parse(c?.startedAt ?? '')).toBeGreaterThanOrEqual(Date.parse(c?.createdAt ?? ''));
    const inspect = await docker.getContainer(id).inspect();
    expect(Object.keys(inspect.Config.ExposedPorts ?? {}).sort()).toEqual(['8080/tcp', '9090/tcp']);
  });

  it('a second create with the same name returns the same id', async () => {
    const a = await runtime.createContainer(spec('twice'));
    const b = await runtime.createContainer(spec('twice'));
    expect(b).toBe(a);
    expect(await observed(a)).toMatchObject({ status: 'created' });
    expect((await observed(a))?.startedAt).toBeUndefined();
  });

  it('start, stop and remove are idempotent', async () => {
    const id = await running(spec('idem'));
    await runtime.startContainer(id);
    await runtime.stopContainer(id, 0);
    await runtime.stopContainer(id, 0);
    expect(await observed(id)).toMatchObject({ status: 'exited' });
    await runtime.removeContainer(id);
    await runtime.removeContainer(id);
    await runtime.stopContainer(id, 0);
    expect(await observed(id)).toBeUndefined();
    await expect(runtime.startContainer(id)).rejects.toMatchObject({ code: 'E_DOCKER', terminal: false });
  });

  it('updateContainer: in place on Docker (memory up and down, restart policy); on Podman (no update API) a terminal error saying to replace the container', async () => {
    const id = await running(spec('update', { memory: 32 * MiB, restartPolicy: 'no' }));
    if (TEST_ENGINE === 'podman') {
      const err = await runtime.updateContainer(id, { memory: 200 * MiB, restartPolicy: 'always' }).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'E_DOCKER', terminal: true });
      expect((err as Error).message).toMatch(/cannot change limits or the restart policy in place .*replace the container/);
      expect(await observed(id)).toMatchObject({ memory: 32 * MiB, status: 'running' });
      return;
    }
    await runtime.updateContainer(id, { memory: 200 * MiB, restartPolicy: 'always' });
    expect(await observed(id)).toMatchObject({ memory: 200 * MiB, restartPolicy: 'always', status: 'running' });
    await runtime.updateContainer(id, { memory: 16 * MiB, nanoCpus: 500_000_000, restartPolicy: 'on-failure' });
    expect(await observed(id)).toMatchObject({ memory: 16 * MiB, nanoCpus: 500_000_000, restartPolicy: 'on-failure' });
    await expect(runtime.updateContainer(id, { restartPolicy: 'always' })).rejects.toMatchObject({ code: 'E_DOCKER', terminal: true });
  });

  it('reports a paused container and unpauses it (unpausing a running one is fine)', async () => {
    const id = await running(spec('pause'));
    await docker.getContainer(id).pause();
    expect(await observed(id)).toMatchObject({ status: 'paused' });
    await runtime.unpauseContainer(id);
    expect(await observed(id)).toMatchObject({ status: 'running' });
    await runtime.unpauseContainer(id);
  });

  it('create with an image that is not on the engine -> E_IMAGE_MISSING (terminal)', async () => {
    const err = await runtime.createContainer(spec('noimage', { image: 'berth-test/absent:1' })).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'E_IMAGE_MISSING', terminal: true });
    expect((err as Error).message).toContain('berth-test/absent:1');
  });
});

describe('docker runtime: volumes', () => {
  it('create is idempotent, observe lists it, removeContainer keeps it, in-use removal is E_DOCKER', async () => {
    const name = `${instance}.data`;
    const labels = labelsOf(instance, { 'berth.kind': 'volume' });
    await runtime.createVolume(name, labels, 'local', {});
    await runtime.createVolume(name, labels, 'local', {});
    expect((await runtime.observe(instance, [])).volumes).toEqual([{ name, labels }]);
    const id = await running(spec('vol', { mounts: [{ volume: name, target: '/data', readOnly: false }] }));
    const mounts = (await docker.getContainer(id).inspect()).Mounts;
    expect(mounts[0]).toMatchObject({ Type: 'volume', Name: name, Destination: '/data', RW: true });
    const inUse = await runtime.removeVolume(name).catch((e: unknown) => e);
    expect(inUse).toMatchObject({ code: 'E_DOCKER', terminal: false });
    expect((inUse as Error).message).toContain('in use');
    await runtime.removeContainer(id);
    expect((await docker.getVolume(name).inspect()).Name).toBe(name);
    await runtime.removeVolume(name);
    await runtime.removeVolume(name);
    expect((await runtime.observe(instance, [])).volumes).toEqual([]);
  });
});

describe('docker runtime: builds', () => {
  const file = (path: string, content: string, mode = 0o100644) => ({ path, mode, content: Buffer.from(content) });
  const ref = `berth-test/${instance}:hello`;
  const buildLabels = labelsOf(instance);

  it('builds from in-memory files; the image runs and prints the copied file', async () => {
    const files = [file('Dockerfile', `FROM ${TEST_IMAGE}\nCOPY hello.txt /hello.txt\n`), file('hello.txt', 'hello from berth\n')];
    const id = await runtime.buildImage(ref, files, 'Dockerfile', buildLabels);
    const image = await docker.getImage(ref).inspect();
    expect(image.Id).toBe(id);
    expect(image.Config.Labels).toMatchObject(buildLabels);
    // Docker's builders reuse the cache: the same files give the same image. Buildah (Podman) makes a new one.
    if (TEST_ENGINE === 'docker') expect(await runtime.buildImage(`${ref}-again`, files, 'Dockerfile', buildLabels)).toBe(id);
    const cid = await running(spec('cat', { image: ref, command: ['cat', '/hello.txt'] }));
    const done = await waitFor(async () => {
      const c = await observed(cid);
      return c?.status === 'exited' ? c : undefined;
    }, { what: 'cat container exited' });
    expect(done).toMatchObject({ exitCode: 0, imageId: id });
    const logs = (await docker.getContainer(cid).logs({ stdout: true, stderr: true, follow: false })) as unknown as Buffer;
    expect(demuxLogs(logs)).toEqual({ stdout: 'hello from berth\n', stderr: '' });
  });

  it('a failing build -> E_BUILD (terminal) carrying the builder error', async () => {
    const parse = await runtime.buildImage(`${ref}-bad`, [file('Dockerfile', `FROM ${TEST_IMAGE}\nBOGUS x\n`)], 'Dockerfile', buildLabels).catch((e: unknown) => e);
    expect(parse).toMatchObject({ code: 'E_BUILD', terminal: true });
    expect((parse as Error).message).toContain(TEST_ENGINE === 'docker' ? 'Dockerfile:2: unknown instruction: BOGUS' : 'Unknown instruction: "BOGUS"');
    const run = await runtime.buildImage(`${ref}-bad`, [file('Dockerfile', `FROM ${TEST_IMAGE}\nRUN exit 3\n`)], 'Dockerfile', buildLabels).catch((e: unknown) => e);
    expect(run).toMatchObject({ code: 'E_BUILD', terminal: true });
    // BuildKit's words (the classic builder: "returned a non-zero code: 3"); Buildah's
    expect((run as Error).message).toMatch(TEST_ENGINE === 'docker' ? /step \[2\/2\] RUN exit 3 failed: .*exit code: 3/ : /exit status 3/);
  });

  it('a base image that is not on the engine is refused before building (never pulled)', async () => {
    const err = await runtime.buildImage(`${ref}-nobase`, [file('Dockerfile', 'FROM berth-test/absent:1\n')], 'Dockerfile', buildLabels).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'E_IMAGE_MISSING', terminal: true });
  });
});

describe('docker runtime: events and the observe cache', () => {
  it('a container killed by hand -> a die event with its id and labels', async () => {
    const id = await running(spec('die', { labels: labelsOf(instance, { 'berth.service': 'victim' }) }));
    const events: RuntimeEvent[] = [];
    const off = runtime.subscribe(instance, (e) => events.push(e));
    try {
      await waitSubscribed(docker, events, id);
      await docker.getContainer(id).kill();
      const die = await waitFor(() => events.find((e) => e.action === 'die' && e.containerId === id), { what: 'die event' });
      expect(die.labels).toMatchObject(labelsOf(instance, { 'berth.service': 'victim' }));
      expect(die.labels['name']).toBeUndefined();
    } finally {
      off();
    }
  });

  it('observe inspects every time without a subscription and only changed containers with one', async () => {
    const inst = uniqueInstance('rtcache');
    instances.push(inst);
    const client = testDocker();
    const log = logRequests(client);
    const rt = createDockerRuntime(client);
    const ids = await Promise.all([0, 1, 2].map((i) => running(spec(`cache${i}`, { name: `${inst}.c${i}`, labels: labelsOf(inst), memory: 64 * MiB }), rt)));
    const target = ids[0]!;
    const costOfObserve = async () => {
      const [lists, inspects] = [log.count(LIST_CONTAINERS), log.count(INSPECT_CONTAINER)];
      await rt.observe(inst, []);
      return { lists: log.count(LIST_CONTAINERS) - lists, inspects: log.count(INSPECT_CONTAINER) - inspects };
    };
    expect(await costOfObserve()).toEqual({ lists: 1, inspects: 3 });
    expect(await costOfObserve()).toEqual({ lists: 1, inspects: 3 });
    const events: RuntimeEvent[] = [];
    const off = rt.subscribe(inst, (e) => events.push(e));
    try {
      await waitSubscribed(docker, events, target);
      await rt.observe(inst, []);
      expect(await costOfObserve()).toEqual({ lists: 1, inspects: 0 });
      // a change by hand: Docker's update of the memory limit; Podman has none: a rename
      if (TEST_ENGINE === 'docker') await docker.getContainer(target).update({ Memory: 96 * MiB, MemorySwap: 192 * MiB });
      else await docker.getContainer(target).rename({ name: `${inst}.renamed` });
      const seen = await waitFor(async () => {
        const c = await observed(target, inst, rt);
        return (TEST_ENGINE === 'docker' ? c?.memory === 96 * MiB : c?.name === `${inst}.renamed`) ? c : undefined;
      }, { what: 'observe reflecting a change done by hand' });
      expect(seen.id).toBe(target);
      const action = TEST_ENGINE === 'docker' ? 'update' : 'rename';
      expect(events.some((e) => e.action === action && e.containerId === target)).toBe(true);
    } finally {
      off();
    }
    expect(await costOfObserve()).toEqual({ lists: 1, inspects: 3 });
  });

  it('with catchUp, a subscription asks for a catch-up once its stream is up (an engine watched only from now on)', async () => {
    const id = await running(spec('catchup', { labels: labelsOf(instance) }));
    const plain: RuntimeEvent[] = [];
    const caught: RuntimeEvent[] = [];
    let plainReconnects = 0;
    let caughtReconnects = 0;
    const offPlain = runtime.subscribe(instance, (e) => plain.push(e), () => { plainReconnects += 1; });
    const offCaught = runtime.subscribe(instance, (e) => caught.push(e), () => { caughtReconnects += 1; }, { catchUp: true });
    try {
      await waitSubscribed(docker, plain, id);
      await waitSubscribed(docker, caught, id);
      expect(caughtReconnects).toBe(1);
      expect(plainReconnects).toBe(0);
    } finally {
      offPlain();
      offCaught();
    }
  });

  it('subscribing to an unreachable engine does not throw', async () => {
    const rt = createDockerRuntime(new Dockerode({ socketPath: join(tmpdir(), `${instance}-absent.sock`) }));
    const events: RuntimeEvent[] = [];
    let reconnects = 0;
    const off = rt.subscribe(instance, (e) => events.push(e), () => { reconnects += 1; });
    await expect(rt.ping()).rejects.toMatchObject({ code: 'E_DOCKER' });
    off();
    expect(events).toEqual([]);
    expect(reconnects).toBe(0);
  });

  it('reconnects after the stream breaks, calls onReconnect, and events flow again', async () => {
    const path = join(tmpdir(), `${instance}-proxy.sock`);
    const sockets = new Set<net.Socket>();
    const proxy = net.createServer((client) => {
      const engine = net.connect(TEST_SOCKET);
      sockets.add(client);
      client.on('close', () => { sockets.delete(client); engine.destroy(); });
      client.on('error', () => engine.destroy());
      engine.on('error', () => client.destroy());
      client.pipe(engine).pipe(client);
    });
    await new Promise<void>((resolve) => proxy.listen(path, resolve));
    const viaProxy = new Dockerode({ socketPath: path });
    const rt = createDockerRuntime(viaProxy);
    const events: RuntimeEvent[] = [];
    let reconnects = 0;
    const off = rt.subscribe(instance, (e) => events.push(e), () => { reconnects += 1; });
    try {
      const id = await running(spec('reconnect'));
      await waitSubscribed(docker, events, id);
      expect(reconnects).toBe(0);
      for (const s of sockets) s.destroy();
      await waitFor(() => reconnects === 1, { what: 'onReconnect after the stream broke' });
      events.length = 0;
      await waitSubscribed(docker, events, id);
    } finally {
      off();
      await new Promise((resolve) => proxy.close(resolve));
      await rm(path, { force: true });
    }
  });

  it('ping on an unreachable unix socket -> E_DOCKER, transient, naming the endpoint', async () => {
    const path = join(tmpdir(), `${instance}-nothing.sock`);
    const err = await createDockerRuntime(new Dockerode({ socketPath: path })).ping().catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'E_DOCKER', terminal: false });
    expect((err as Error).message).toContain(`unix://${path}`);
    expect((err as Error).message).not.toContain('\n');
    await runtime.ping();
  });
});
