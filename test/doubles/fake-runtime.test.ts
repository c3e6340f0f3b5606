import { describe, expect, it } from 'vitest';
import { BerthError } from '../../operator/model/errors.ts';
import type { CreateContainerSpec, RuntimeEvent } from '../../operator/runtime/runtime.ts';
import { FakeRuntime } from './fake-runtime.ts';

const IMAGE_ID = 'sha256:aaa';

function spec(name: string, over: Partial<CreateContainerSpec> = {}): CreateContainerSpec {
  return {
    name, image: 'web:1', command: ['httpd'], env: { A: '1' }, exposedPorts: ['8080/tcp'], restartPolicy: 'always', mounts: [],
    labels: { 'berth.managed': 'true', 'berth.instance': 'i1', 'berth.service': 'web' }, ...over,
  };
}

function setup(): { rt: FakeRuntime; events: RuntimeEvent[] } {
  const rt = new FakeRuntime();
  rt.addImage('web:1', IMAGE_ID);
  const events: RuntimeEvent[] = [];
  rt.subscribe('i1', (e) => events.push(e));
  return { rt, events };
}

describe('FakeRuntime', () => {
  it('creates with deterministic ids, returns the same id for a retried create, and observes by instance', async () => {
    const { rt } = setup();
    const a = await rt.createContainer(spec('a', { memory: 64, nanoCpus: 5 }));
    expect(a).toBe('fake-1');
    expect(await rt.createContainer(spec('a'))).toBe('fake-1');
    await rt.createContainer(spec('other', { labels: { 'berth.managed': 'true', 'berth.instance': 'i2' } }));
    const state = await rt.observe('i1', ['web:1', 'absent:1']);
    expect(state.images).toEqual({ 'web:1': IMAGE_ID });
    expect(state.containers).toHaveLength(1);
    expect(state.containers[0]).toMatchObject({
      id: 'fake-1', name: 'a', status: 'created', imageId: IMAGE_ID, command: ['httpd'], env: { A: '1' },
      restartPolicy: 'always', memory: 64, nanoCpus: 5, createdAt: '2024-01-01T00:00:00.000Z',
    });
  });

  it('returns copies: mutating an observed value does not change the fake', async () => {
    const { rt } = setup();
    await rt.createContainer(spec('a'));
    const first = await rt.observe('i1', []);
    first.containers[0]!.labels['x'] = 'y';
    expect((await rt.observe('i1', [])).containers[0]!.labels['x']).toBeUndefined();
  });

  it('rejects a missing image with E_IMAGE_MISSING (terminal)', async () => {
    const { rt } = setup();
    const err = await rt.createContainer(spec('a', { image: 'nope:1' })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BerthError);
    expect(err).toMatchObject({ code: 'E_IMAGE_MISSING', terminal: true });
  });

  it('emits Docker-like events through the lifecycle, and stop/remove are idempotent', async () => {
    const { rt, events } = setup();
    const id = await rt.createContainer(spec('a'));
    await rt.startContainer(id);
    await rt.startContainer(id);
    await rt.stopContainer(id, 5);
    await rt.stopContainer(id, 5);
    await rt.removeContainer(id);
    await rt.removeContainer(id);
    await rt.stopContainer(id, 5);
    expect(events.map((e) => e.action)).toEqual(['create', 'start', 'kill', 'die', 'stop', 'destroy']);
    expect(events[0]).toEqual({ action: 'create', containerId: id, labels: spec('a').labels });
    expect((await rt.observe('i1', [])).containers).toEqual([]);
  });

  it('drift helpers change state and emit events', async () => {
    const { rt, events } = setup();
    const id = await rt.createContainer(spec('a'));
    await rt.startContainer(id);
    rt.pause(id);
    expect((await rt.observe('i1', [])).containers[0]!.status).toBe('paused');
    await rt.unpauseContainer(id);
    rt.setRestartPolicy(id, 'no');
    rt.setMemory(id, 128);
    rt.kill(id, 137);
    const c = (await rt.observe('i1', [])).containers[0]!;
    expect(c).toMatchObject({ status: 'exited', exitCode: 137, restartPolicy: 'no', memory: 128 });
    rt.removeByHand(id);
    expect(events.map((e) => e.action)).toEqual(['create', 'start', 'pause', 'unpause', 'update', 'update', 'die', 'destroy']);
  });

  it('retag moves a reference to another image id', async () => {
    const { rt } = setup();
    rt.retag('web:1', 'sha256:bbb');
    expect((await rt.observe('i1', ['web:1'])).images).toEqual({ 'web:1': 'sha256:bbb' });
  });

  it('updates limits and restart policy; refuses to lift a limit in place like Docker', async () => {
    const { rt } = setup();
    const id = await rt.createContainer(spec('a', { memory: 64 }));
    await rt.updateContainer(id, { memory: 32, nanoCpus: 10, restartPolicy: 'on-failure' });
    expect((await rt.observe('i1', [])).containers[0]).toMatchObject({ memory: 32, nanoCpus: 10, restartPolicy: 'on-failure' });
    const err = await rt.updateContainer(id, { restartPolicy: 'always' }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'E_DOCKER', terminal: true });
  });

  it('records every mutating call, failed ones included, and injects failures in order', async () => {
    const { rt } = setup();
    const boom = new BerthError('E_DOCKER', 'boom');
    rt.failNext('startContainer', boom);
    const id = await rt.createContainer(spec('a'));
    await expect(rt.startContainer(id)).rejects.toBe(boom);
    await rt.startContainer(id);
    await rt.observe('i1', []);
    expect(rt.calls.map((c) => c.method)).toEqual(['createContainer', 'startContainer', 'startContainer']);
    expect(rt.calls[1]).toEqual({ method: 'startContainer', args: [id] });
    rt.failNext('observe', boom);
    await expect(rt.observe('i1', [])).rejects.toMatchObject({ code: 'E_DOCKER' });
  });

  it('volumes: idempotent create, in-use removal fails, removal of a missing one is fine', async () => {
    const { rt } = setup();
    const labels = { 'berth.managed': 'true', 'berth.instance': 'i1' };
    await rt.createVolume('v1', labels, '', {});
    await rt.createVolume('v1', labels, '', {});
    const id = await rt.createContainer(spec('a', { mounts: [{ volume: 'v1', target: '/data', readOnly: false }] }));
    expect((await rt.observe('i1', [])).volumes).toEqual([{ name: 'v1', labels }]);
    await expect(rt.removeVolume('v1')).rejects.toMatchObject({ code: 'E_DOCKER' });
    await rt.removeContainer(id);
    expect((await rt.observe('i1', [])).volumes).toHaveLength(1);
    await rt.removeVolume('v1');
    await rt.removeVolume('v1');
    expect((await rt.observe('i1', [])).volumes).toEqual([]);
  });

  it('networks: idempotent create, containers attach with aliases, in-use removal fails, a gone one is fine', async () => {
    const { rt } = setup();
    const labels = { 'berth.managed': 'true', 'berth.instance': 'i1', 'berth.namespace': 'ns' };
    const net = { name: 'berth.i1.ns', aliases: ['web'] };
    await expect(rt.createContainer(spec('early', { network: net }))).rejects.toMatchObject({ code: 'E_DOCKER', terminal: false });
    await rt.createNetwork('berth.i1.ns', labels);
    await rt.createNetwork('berth.i1.ns', labels);
    await rt.createNetwork('berth.i2.ns', { 'berth.managed': 'true', 'berth.instance': 'i2' });
    expect((await rt.observe('i1', [])).networks).toEqual([{ name: 'berth.i1.ns', id: 'net-1', labels }]);
    const id = await rt.createContainer(spec('a', { network: net, extraHosts: ['host.docker.internal:host-gateway'] }));
    const plain = await rt.createContainer(spec('b'));
    const observed = (await rt.observe('i1', [])).containers;
    expect(observed.map((c) => [c.id, c.networks])).toEqual([[id, ['berth.i1.ns']], [plain, ['bridge']]]);
    expect(rt.specOf(id)).toMatchObject({ network: net, extraHosts: ['host.docker.internal:host-gateway'] });
    await expect(rt.removeNetwork('berth.i1.ns')).rejects.toMatchObject({ code: 'E_DOCKER', terminal: false });
    rt.disconnect(id, 'berth.i1.ns');
    expect((await rt.observe('i1', [])).containers[0]!.networks).toEqual([]);
    await rt.removeNetwork('berth.i1.ns');
    await rt.removeNetwork('berth.i1.ns');
    expect((await rt.observe('i1', [])).networks).toEqual([]);
  });

  it('builds images with a content-derived id and registers the tag', async () => {
    const { rt } = setup();
    const files = [{ path: 'Dockerfile', mode: 0o100644, content: Buffer.from('FROM web:1\n') }];
    const a = await rt.buildImage('site:1', files, 'Dockerfile', {});
    const b = await rt.buildImage('site:2', files, 'Dockerfile', {});
    expect(a).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(b).toBe(a);
    expect((await rt.observe('i1', ['site:1'])).images).toEqual({ 'site:1': a });
    await expect(rt.buildImage('x:1', files, 'Other.Dockerfile', {})).rejects.toMatchObject({ code: 'E_BUILD' });
  });

  it('unsubscribe stops events; reconnect() calls onReconnect', async () => {
    const rt = new FakeRuntime();
    rt.addImage('web:1', IMAGE_ID);
    const events: string[] = [];
    let reconnects = 0;
    const off = rt.subscribe('i1', (e) => events.push(e.action), () => { reconnects += 1; });
    rt.reconnect();
    off();
    await rt.createContainer(spec('a'));
    expect(events).toEqual([]);
    expect(reconnects).toBe(1);
  });

  it('exec answers from setExecResult (a result or a handler), times out like the adapter, and refuses stopped containers', async () => {
    const { rt } = setup();
    const id = await rt.createContainer(spec('a'));
    expect(await rt.exec(id, ['true'], 100)).toEqual({ exitCode: -1, output: `Container ${id} is not running` });
    await rt.startContainer(id);
    expect(await rt.exec(id, ['true'], 100)).toEqual({ exitCode: 0, output: '' });
    rt.setExecResult(id, { exitCode: 3, output: 'bad' });
    expect(await rt.exec(id, ['check'], 100)).toEqual({ exitCode: 3, output: 'bad' });
    rt.setExecResult(id, (command, timeoutMs) => ({ exitCode: 0, output: `${command.join(' ')} within ${timeoutMs}` }));
    expect(await rt.exec(id, ['echo', 'hi'], 100)).toEqual({ exitCode: 0, output: 'echo hi within 100' });
    rt.setExecResult(id, () => new Promise(() => undefined));
    expect(await rt.exec(id, ['hang'], 20)).toEqual({ exitCode: -1, output: 'timeout after 20 ms' });
    expect(await rt.exec('fake-99', ['true'], 100)).toEqual({ exitCode: -1, output: 'No such container: fake-99' });
    rt.failNext('exec', new BerthError('E_DOCKER', 'boom'));
    await expect(rt.exec(id, ['true'], 100)).rejects.toMatchObject({ code: 'E_DOCKER' });
  });

  it('running containers have an address 10.0.0.<n>; an exited one has none but a finishedAt', async () => {
    const { rt } = setup();
    const id = await rt.createContainer(spec('a'));
    expect((await rt.observe('i1', [])).containers[0]).toMatchObject({ restartCount: 0 });
    expect((await rt.observe('i1', [])).containers[0]!.address).toBeUndefined();
    await rt.startContainer(id);
    expect((await rt.observe('i1', [])).containers[0]).toMatchObject({ address: '10.0.0.1' });
    rt.kill(id, 1);
    const c = (await rt.observe('i1', [])).containers[0]!;
    expect(c.address).toBeUndefined();
    expect(c.finishedAt).toMatch(/^2024-01-01T/);
  });
});
