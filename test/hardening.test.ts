/**
 * Hardening defaults of Service replicas on the real engine: created through loadDesired -> diff -> applyPlan, then
 * inspected (no-new-privileges, NET_RAW dropped, not privileged) and tried from inside (busybox ping needs a raw socket).
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyPlan } from '../operator/apply/apply.ts';
import { containerSpec } from '../operator/diff/container-spec.ts';
import { diff } from '../operator/diff/diff.ts';
import { loadDesired } from '../operator/manifests/index.ts';
import type { DesiredService, DesiredState } from '../operator/model/state.ts';
import { createDockerRuntime } from '../operator/runtime/docker.ts';
import { memorySnapshot } from '../operator/source/memory-source.ts';
import { silentLogger } from '../operator/util/log.ts';
import { berth } from './helpers/cli.ts';
import { cleanupInstance, testDocker, TEST_IMAGE, uniqueInstance } from './helpers/docker.ts';

const docker = testDocker();
const runtime = createDockerRuntime(docker);
const instance = uniqueInstance('harden');

const service = (name: string, securityContext?: string): string => [
  'apiVersion: berth/v1', 'kind: Service', `metadata: { name: ${name}, namespace: hard }`, 'spec:',
  `  image: ${TEST_IMAGE}`, '  command: [sleep, "3600"]', ...(securityContext ? [`  securityContext: ${securityContext}`] : []), '',
].join('\n');

const files = { 'plain.yaml': service('plain'), 'pinger.yaml': service('pinger', '{ capAdd: [NET_RAW] }') };
let desired: DesiredState;

/** One pass of berth's core loop for `state`: observe, diff, apply. */
async function converge(state: DesiredState): Promise<void> {
  const observed = await runtime.observe(instance, state.services.map((s) => s.image.ref));
  const plan = diff(state, observed, { instance });
  const result = await applyPlan(plan, { runtime, instance, log: silentLogger, buildContext: async () => [] });
  expect(result.errors).toEqual([]);
}

async function replicaOf(name: string) {
  const [c] = await docker.listContainers({ filters: { label: [`berth.instance=${instance}`, `berth.service=${name}`], status: ['running'] } });
  expect(c, `a running replica of ${name}`).toBeDefined();
  return docker.getContainer(c!.Id).inspect();
}

const svc = (name: string): DesiredService => desired.services.find((s) => s.name === name)!;

beforeAll(async () => {
  desired = await loadDesired(memorySnapshot(files, 'rev-hardening'), { instance, path: '' });
  await converge(desired);
}, 60_000);

afterAll(async () => {
  await cleanupInstance(docker, instance);
});

describe('replica hardening on the real engine', () => {
  it('a replica without securityContext runs with no-new-privileges, without NET_RAW, not privileged', async () => {
    const info = await replicaOf('plain');
    expect(info.HostConfig.SecurityOpt).toContain('no-new-privileges:true');
    expect(info.HostConfig.CapDrop).toContain('NET_RAW');
    expect(info.HostConfig.Privileged).toBe(false);
    const ping = await runtime.exec(info.Id, ['ping', '-c', '1', '-W', '1', '127.0.0.1'], 10_000);
    expect(ping.exitCode).not.toBe(0);
    expect(ping.output).toMatch(/permission denied/i);
  });

  it('capAdd: [NET_RAW] gives the capability back: ping opens its raw socket', async () => {
    const info = await replicaOf('pinger');
    expect(info.HostConfig.CapDrop ?? []).not.toContain('NET_RAW');
    expect(info.HostConfig.CapAdd).toContain('NET_RAW');
    expect(info.HostConfig.SecurityOpt).toContain('no-new-privileges:true');
    const ping = await runtime.exec(info.Id, ['ping', '-c', '1', '-W', '1', '127.0.0.1'], 10_000);
    expect(ping, ping.output).toMatchObject({ exitCode: 0 });
  });

  it('leaves a replica created before these defaults running: no drift, no replacement', async () => {
    const plain = svc('plain');
    const old = await replicaOf('plain');
    await docker.getContainer(old.Id).remove({ force: true });
    // What berth created before it set security options: the same request without them (the engine's defaults).
    const { security: _none, ...before } = containerSpec(instance, desired.revision, plain, 1);
    const id = await runtime.createContainer(before);
    await runtime.startContainer(id);
    const observed = await runtime.observe(instance, [plain.image.ref]);
    expect(diff(desired, observed, { instance }).actions).toEqual([]);
    const info = await docker.getContainer(id).inspect();
    expect(info.HostConfig.CapDrop ?? []).not.toContain('NET_RAW');
    expect(info.State.Running).toBe(true);
  });

  it('keeps the spec hash of a manifest without securityContext (computed before the field existed)', async () => {
    const web = [
      'apiVersion: berth/v1', 'kind: Service', 'metadata: { name: web, namespace: hard }', 'spec:',
      '  image: berth-local/busybox:1', '  command: [sleep, "3600"]', '',
    ].join('\n');
    const fixed = await loadDesired(memorySnapshot({ 'web.yaml': web }, 'rev1'), { instance: 'hash-fixed', path: '.' });
    expect(fixed.services[0]?.specHash).toBe('545af35827a379d9');
  });
});

describe('berth validate', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'berth-hardening-'));
  });
  afterAll(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('warns about privileged: true at file:line and still exits 0', async () => {
    await fs.writeFile(path.join(dir, 'web.yaml'), service('web', '{ privileged: true }'));
    const r = await berth(['validate', dir]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr.trim()).toBe('web.yaml:7: warning: Service hard/web runs privileged: every capability and every host device, enough to take over the Docker host (spec.securityContext.privileged)');
    expect(r.stdout).toContain('valid');
  });

  it('refuses a Volume on the Docker socket at file:line, naming the field and --allow-docker-socket', async () => {
    const volume = 'apiVersion: berth/v1\nkind: Volume\nmetadata: { name: sock, namespace: hard }\nspec:\n  driverOpts: { type: none, o: bind, device: /var/run/docker.sock }\n';
    await fs.writeFile(path.join(dir, 'web.yaml'), service('web'));
    await fs.writeFile(path.join(dir, 'sock.yaml'), volume);
    const r = await berth(['validate', dir, '--allow-host-path', '/var/run']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^sock\.yaml:5:\d+: spec\.driverOpts\.device: mounts the Docker engine socket \/var\/run\/docker\.sock.*--allow-docker-socket$/m);
  });
});
