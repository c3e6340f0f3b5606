/**
 * What the engine refuses is refused by validation first, on the real engine and a real git server: a revision with a
 * NUL in one service's env is rejected whole (nothing on the engine changes), and validation's image-reference and
 * mount-path rules agree with what dockerd 20.10 really does. Everything created carries one of this file's two
 * instance names (the operator's, and one for containers made directly, which that operator would prune).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { imageRefProblem } from '../operator/manifests/image-ref.ts';
import { localOptionProblems } from '../operator/manifests/local-volume-options.ts';
import { mountPathProblem } from '../operator/manifests/mount-checks.ts';
import { containerName, volumeName } from '../operator/model/keys.ts';
import { createDockerRuntime } from '../operator/runtime/docker.ts';
import type { CreateContainerSpec } from '../operator/runtime/runtime.ts';
import { cleanupInstance, testDocker, TEST_IMAGE, uniqueInstance } from './helpers/docker.ts';
import { makeRemote, type Remote } from './helpers/git.ts';
import { condition, containersOf, service, startTestOperator, type TestOperator } from './helpers/operator.ts';

const docker = testDocker();
const runtime = createDockerRuntime(docker);
const instance = uniqueInstance('refuse');
/** What the engine-agreement tests create directly: another instance, so the running operator leaves it alone. */
const probeInstance = uniqueInstance('refuse-probe');
const labels = { 'berth.managed': 'true', 'berth.instance': probeInstance };
let remote: Remote;
let op: TestOperator;

beforeAll(async () => {
  remote = await makeRemote({ 'web.yaml': service('web', { replicas: 2, env: { GREETING: 'hello' } }), 'api.yaml': service('api', { env: { MODE: 'a' } }) });
  op = await startTestOperator(remote.url, instance);
});

afterAll(async () => {
  await op?.stop();
  await remote?.close();
  await cleanupInstance(docker, instance);
  await cleanupInstance(docker, probeInstance);
});

/** Id, start time and revision of every container of the instance, sorted. */
async function engineState(): Promise<string[]> {
  const all = await containersOf(docker, instance);
  const rows = await Promise.all(all.map(async (c) => {
    const info = await docker.getContainer(c.Id).inspect();
    return `${c.Id} ${info.State.Status} ${info.State.StartedAt} ${c.Labels['berth.revision']} ${info.Config.Env.join(',')}`;
  }));
  return rows.sort();
}

describe('a revision the engine would refuse', () => {
  it('is rejected whole when one service has a NUL in its env: no container of the last good revision is touched', async () => {
    const head = (await remote.git(['rev-parse', 'HEAD'])).trim();
    await op.waitPass((r) => r.status.revision.applied === head && r.converged, 'first converge');
    const before = await engineState();
    expect(before).toHaveLength(3);
    // web changes validly, api gets a NUL: applying web alone would be a partial revision.
    const bad = await remote.commit({ 'web.yaml': service('web', { replicas: 3, env: { GREETING: 'bonjour' } }), 'api.yaml': service('api', { env: { MODE: 'a\\0b' } }) }, 'NUL in env');
    op.trigger('test');
    const r = await op.waitPass((p) => p.status.revision.latest === bad, 'bad revision seen');
    expect(r.error?.code).toBe('E_SEMANTIC');
    expect(condition(r.status, 'Stalled')).toMatchObject({ status: 'True', reason: 'ValidationFailed' });
    expect(r.status.lastError?.message).toContain('api.yaml:9:11: spec.env.MODE');
    expect(r.status.revision.applied).toBe(head);
    expect(await engineState()).toEqual(before);
  });
});

describe('validation agrees with the engine', () => {
  it('refuses exactly the image references the engine refuses', async () => {
    const hex = 'a1b2c3d4e5f6'.repeat(6).slice(0, 64);
    const crafted = ['Not A Valid:Ref', 'Shop/web', 'a___b', 'a..b', 'a/b:-t', `web@sha256:${hex.slice(1)}`, `web@md5:${hex.slice(0, 32)}`, 'x'.repeat(238), 'my.reg:8a/x',
      'a//b', 'a:', '@', 'my_reg.io/x', 'A.b/x', 'localhost:5000/a/b:c', `web@sha256:${hex}`, `sha256:${hex}`, hex, 'x'.repeat(237), `${probeInstance}/absent:1`];
    let seed = 11;
    const rnd = (n: number): number => { seed = (seed * 1103515245 + 12345) % 2 ** 31; return Math.floor((seed / 2 ** 31) * n); };
    const alphabet = 'abAB09._-:/@ ';
    const random = Array.from({ length: 150 }, () => `${probeInstance}/${Array.from({ length: 1 + rnd(10) }, () => alphabet[rnd(alphabet.length)]).join('')}`);
    const disagreements: string[] = [];
    for (const ref of [...crafted, ...random]) {
      const engine = await docker.createContainer({ Image: ref, Cmd: ['x'], Labels: labels }).then(
        async (c) => { await c.remove({ force: true }); return 'accepted'; },
        (err: { statusCode?: number; message?: string }) => (err.statusCode === 404 ? 'accepted' : `refused (${err.statusCode}) ${err.message}`),
      );
      const ours = imageRefProblem(ref);
      if ((engine === 'accepted') !== (ours === undefined)) disagreements.push(`${JSON.stringify(ref)}: engine ${engine}; berth ${ours ?? 'accepted'}`);
    }
    expect(disagreements).toEqual([]);
  });

  it('refuses the mount paths the engine cannot mount, and the engine mounts the unusual ones berth accepts', async () => {
    const volume = volumeName(probeInstance, 'test', 'mounts');
    await runtime.createVolume(volume, labels, 'local', {});
    const refused = ['/', '/proc', '/proc/sys', '/sys/x', '/dev', '/etc/hosts', '/etc/hostname', '/etc/resolv.conf', '/sbin', '/sbin/docker-init', `/${'a'.repeat(256)}`, `/${'a/'.repeat(300)}a`];
    const accepted = ['/data', '/dev/shm', '/sys', '/etc', '/a:b', '/a,b', '/a b', '/é', '/run/x'];
    const outcomes = await Promise.all([...refused, ...accepted].map(async (target, i) => [target, await mountOutcome(`${probeInstance}.m${i}`, volume, target)] as const));
    const wrong = outcomes.filter(([target, engine]) => (engine === 'running') !== (mountPathProblem(target) === undefined));
    expect(wrong.map(([t, e]) => `${t.slice(0, 40)}: engine ${e}; berth ${mountPathProblem(t) ?? 'accepted'}`)).toEqual([]);
    expect(outcomes.filter(([t]) => refused.includes(t)).every(([, e]) => e !== 'running')).toBe(true);
  });

  it('refuses the local driver options the engine refuses at create or mount, and the engine mounts the ones berth accepts', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'berth-refuse-'));
    const tmpfs = (o: string): Record<string, string> => ({ type: 'tmpfs', device: 'tmpfs', o });
    const cases: Record<string, string>[] = [
      tmpfs('size=1m,mode=1777,uid=1000,gid=1000'), tmpfs('noexec,nosuid,nodev,size=1m'), tmpfs('size=10%'), tmpfs(''), tmpfs('nr_inodes=1k,huge=never'), tmpfs('ro'),
      tmpfs('size=abc'), tmpfs('foo=1'), tmpfs('null'), tmpfs('mode=999'), tmpfs('uid=x'), { type: 'tmpfs', device: '' }, { type: 'tmpfs', device: '../x' },
      { type: 'ramfs', device: 'ramfs' }, { type: 'null', device: 'x' }, { type: 'none', device: dir }, { type: 'none', device: dir, o: 'bind,foo' },
      { type: 'none', device: dir, o: 'bind,ro,nosuid' }, { type: 'tmpfs' }, { device: 'tmpfs' }, { o: 'size=1m' }, { typ: 'tmpfs', device: 'tmpfs' },
    ];
    try {
      const outcomes = await Promise.all(cases.map(async (opts, i) => {
        const volume = volumeName(probeInstance, 'opts', `v${i}`);
        const created = await runtime.createVolume(volume, labels, 'local', opts).then(() => undefined, (err: Error) => `create failed: ${err.message.slice(-100)}`);
        return [opts, created ?? (await mountOutcome(`${probeInstance}.o${i}`, volume, '/d'))] as const;
      }));
      const wrong = outcomes.filter(([opts, engine]) => (engine === 'running') !== (localOptionProblems(opts).length === 0));
      expect(wrong.map(([o, e]) => `${JSON.stringify(o)}: engine ${e}; berth ${localOptionProblems(o).map((p) => p.message).join('; ') || 'accepted'}`)).toEqual([]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('builds container and volume names the engine takes at the longest names a manifest and --instance allow', async () => {
    // DNS labels of 63 characters everywhere; the instance is this file's own, padded (so cleanup finds what it made).
    const longInstance = `${probeInstance}-${'x'.repeat(63)}`.slice(0, 63);
    const name = containerName(longInstance, 'n'.repeat(63), 's'.repeat(63), 999, 'f'.repeat(16));
    expect(name.length).toBe(6 + 63 + 1 + 63 + 1 + 63 + 1 + 3 + 1 + 10);
    const id = await runtime.createContainer(spec(name));
    await runtime.startContainer(id);
    expect((await docker.getContainer(id).inspect()).State.Running).toBe(true);
    const volume = volumeName(longInstance, 'n'.repeat(63), 'v'.repeat(63));
    await runtime.createVolume(volume, labels, 'local', {});
    expect((await docker.getVolume(volume).inspect()).Name).toBe(volume);
  });
});

function spec(name: string, over: Partial<CreateContainerSpec> = {}): CreateContainerSpec {
  return { name, image: TEST_IMAGE, command: ['sleep', '60'], env: {}, labels, exposedPorts: [], restartPolicy: 'no', mounts: [], init: true, ...over };
}

/** `running`, or how the engine refused a container mounting `volume` at `target` (create, start, or an exit right after). */
async function mountOutcome(name: string, volume: string, target: string): Promise<string> {
  let id: string;
  try {
    id = await runtime.createContainer(spec(name, { mounts: [{ volume, target, readOnly: false }] }));
  } catch (err) {
    return `create failed: ${(err as Error).message.slice(-120)}`;
  }
  try {
    await runtime.startContainer(id);
  } catch (err) {
    return `start failed: ${(err as Error).message.slice(-120)}`;
  }
  await new Promise((resolve) => setTimeout(resolve, 300));
  const state = (await docker.getContainer(id).inspect()).State;
  return state.Running ? 'running' : `exited ${state.ExitCode}`;
}
