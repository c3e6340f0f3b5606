/**
 * Garbage collection of images berth pulled from a registry, against the real engine and a real registry (TLS and
 * htpasswd): only the managed repository's old digests go, through their digest references; the image in use, the
 * newest keepImages and every other repository stay.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGc, type GcHandle, type GcReport } from '../operator/healing/gc-runner.ts';
import { LABELS } from '../operator/model/keys.ts';
import { createDockerGc, type GcRuntime } from '../operator/runtime/docker-gc.ts';
import { silentLogger } from '../operator/util/log.ts';
import { cleanupInstance, testDocker, uniqueInstance } from './helpers/docker.ts';
import { startTestRegistry, type TestRegistry } from './helpers/registry.ts';

const run = promisify(execFile);
const docker = testDocker();
const instance = uniqueInstance('gc-pulled');
const ns = instance;

/** `docker login --password-stdin` into a config dir of this file's own, so no other file's credentials are touched. */
async function login(reg: TestRegistry, config: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const child = spawn('docker', ['--config', config, 'login', '--username', reg.username, '--password-stdin', reg.host], { stdio: ['pipe', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`docker login exited ${code}: ${err.replaceAll(reg.password, '***')}`))));
    child.stdin.end(reg.password);
  });
}

describe('GC of pulled images on the real engine', () => {
  let reg: TestRegistry;
  let config: string;
  let runtime: GcRuntime;
  let gc: GcHandle;
  let report: GcReport;
  const refs: Record<string, string> = {};
  const ids: Record<string, string> = {};
  const foreignTag = `berth-test-foreign/${instance}:keep`; // cleanupInstance removes it: the repository has `instance` as a segment
  const repository = (): string => `${reg.host}/gc/app`;

  const exists = (id: string): Promise<boolean> => docker.getImage(id).inspect().then(() => true, () => false);
  const repoDigests = async (id: string): Promise<string[]> => (await docker.getImage(id).inspect()).RepoDigests ?? [];

  beforeAll(async () => {
    reg = await startTestRegistry();
    config = await mkdtemp(path.join(os.tmpdir(), 'berth-gc-pulled-'));
    await login(reg, config);
    // Pushed one after another, so created times grow with n; pulled by digest (as berth pulls: no tag is made).
    for (const n of [1, 2, 3, 4, 5]) {
      const digest = await reg.pushSized(`gc/app:${n}`, 1);
      refs[`app${n}`] = `${repository()}@${digest}`;
    }
    refs.other = `${reg.host}/gc/other@${await reg.pushSized('gc/other:1', 1)}`;
    for (const [key, ref] of Object.entries(refs)) {
      await run('docker', ['--config', config, 'pull', '-q', ref]);
      ids[key] = (await docker.getImage(ref).inspect()).Id;
    }
    expect(new Set(Object.values(ids)).size).toBe(6);
    await run('docker', ['tag', refs.app1!, foreignTag]); // another name keeps app1: GC untags berth's reference only
    // A replica of app2 (created, never started: in use all the same).
    await docker.createContainer({
      name: `${instance}-app-1`, Image: refs.app2!, Cmd: ['true'],
      Labels: {
        [LABELS.managed]: 'true', [LABELS.instance]: instance, [LABELS.namespace]: ns, [LABELS.service]: 'app', [LABELS.replica]: '1',
        [LABELS.image]: `${repository()}:2`, [LABELS.imageDigest]: refs.app2!.split('@')[1]!,
      },
    });
    runtime = createDockerGc(docker);
    const pulled = new Map([[`${ns}/app`, { repository: repository(), digests: [] as string[] }]]);
    gc = startGc({ runtime, instance, log: silentLogger, schedule: '0 0 1 1 *', policy: { keepImages: 2 }, pulledRepositories: () => pulled });
    report = await gc.runOnce('test');
  });

  afterAll(async () => {
    gc?.stop();
    await cleanupInstance(docker, instance);
    for (const ref of Object.values(refs)) await docker.getImage(ref).remove().catch(() => undefined);
    if (config) await rm(config, { recursive: true, force: true });
    await reg?.stop();
  });

  it('removes the old digest of the managed repository and untags the one another name keeps', async () => {
    expect(report.removedImages).toEqual([
      { id: ids.app3, name: refs.app3, reason: expect.stringContaining(`pulled image of ${ns}/app`) },
      { id: ids.app1, name: refs.app1, reason: expect.stringContaining('beyond the newest 2 kept (5 of 5)'), untagged: true },
    ]);
    expect(report.skipped).toEqual([]);
    expect(await exists(ids.app3!)).toBe(false);
    expect(await exists(ids.app1!)).toBe(true);
    expect(await repoDigests(ids.app1!)).not.toContain(refs.app1);
    expect((await docker.getImage(ids.app1!).inspect()).RepoTags).toEqual([foreignTag]);
  });

  it('keeps the image in use, the newest 2, and the image of another repository', async () => {
    for (const key of ['app2', 'app4', 'app5', 'other']) {
      expect(await exists(ids[key]!), key).toBe(true);
      expect(await repoDigests(ids[key]!), key).toContain(refs[key]);
    }
  });

  it('a second run finds nothing more to remove', async () => {
    const again = await gc.runOnce('again');
    expect([...again.removedContainers, ...again.removedImages, ...again.skipped]).toEqual([]);
  });

  it('the inventory lists the managed repository only; the adapter refuses to untag an image in use (409, no force)', async () => {
    const inv = await runtime.inventory(instance, [repository()]);
    expect(inv.pulled.map((p) => [p.id, p.digestRefs, p.inUse]).sort()).toEqual([
      [ids.app2, [refs.app2], true], [ids.app4, [refs.app4], false], [ids.app5, [refs.app5], false],
    ].sort());
    expect(await runtime.untagImage(refs.app2!)).toBe('in-use');
    expect(await repoDigests(ids.app2!)).toContain(refs.app2);
    expect(await runtime.untagImage(refs.app3!)).toBe('gone');
    expect((await runtime.inventory(instance)).pulled).toEqual([]);
  });
});
