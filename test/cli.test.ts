/** The CLI as a user runs it: plan (text, JSON, exit codes), apply, validate, status, bad flags, unreachable parts, and a crash mid-apply. */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeRemote, type Remote } from './helpers/git.ts';
import { cleanupInstance, testDocker, uniqueInstance, waitFor } from './helpers/docker.ts';
import { containersOf, service } from './helpers/operator.ts';
import { berth, spawnBerth } from './helpers/cli.ts';
import { freePort } from './helpers/net.ts';

const docker = testDocker();
const instance = uniqueInstance('cli');
let remote: Remote;
let stateDir: string;
const common = () => ['--repo', remote.url, '--instance', instance, '--state-dir', stateDir];

beforeAll(async () => {
  stateDir = await fs.mkdtemp(path.join(os.tmpdir(), 'berth-cli-'));
  remote = await makeRemote({ 'app.yaml': service('app', { replicas: 2 }) });
});

afterAll(async () => {
  await remote?.close();
  await cleanupInstance(docker, instance);
  await fs.rm(stateDir, { recursive: true, force: true });
});

describe('berth CLI', () => {
  it('plan prints JSON and text, and --detailed-exitcode exits 2 on changes and 0 once applied', async () => {
    const json = await berth(['plan', ...common(), '--json']);
    expect(json.code).toBe(0);
    const plan = JSON.parse(json.stdout);
    expect(plan.summary).toMatchObject({ create: 2, replace: 0, remove: 0 });
    expect(plan.actions[0]).toMatchObject({ type: 'create-network', network: `berth.${instance}.test` });
    expect(plan.actions[1]).toMatchObject({ type: 'create', service: 'test/app', replica: 1, cause: 'change', reason: 'replica 1/2 of test/app to create' });
    expect(await containersOf(docker, instance)).toHaveLength(0);
    const md = await berth(['plan', ...common(), '--format', 'markdown']);
    expect(md.code, md.stderr).toBe(0);
    expect(md.stdout).toMatch(/\*\*2 to create\b/);
    expect(md.stdout).toContain('| create | 1 |');
    expect(md.stdout).toContain('<details>');
    const detailed = await berth(['plan', ...common(), '--detailed-exitcode']);
    expect(detailed.code).toBe(2);
    expect(detailed.stdout).toContain('2 to create, 0 to replace, 0 to update, 0 to remove');

    const applied = await berth(['apply', ...common()]);
    expect(applied.code, applied.stderr).toBe(0);
    expect(applied.stdout).toMatch(/Ready\s+True\s+Converged/);
    const again = await berth(['plan', ...common(), '--detailed-exitcode']);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('no changes');
  });

  it('status reads the status branch', async () => {
    const r = await berth(['status', '--repo', remote.url, '--instance', instance, '--state-dir', stateDir]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/test\/app\s+2\/2\s+Healthy\s+berth-local\/busybox:1/);
    const j = await berth(['status', '--repo', remote.url, '--instance', instance, '--state-dir', stateDir, '--json']);
    expect(JSON.parse(j.stdout).services['test/app']).toMatchObject({ desired: 2, running: 2 });
  });

  it('converges after being killed in the middle of a rolling replace: no duplicate, no orphan', async () => {
    await remote.commit({ 'app.yaml': service('app', { replicas: 4 }) }, 'four');
    expect((await berth(['apply', ...common()])).code).toBe(0);
    const oldIds = (await containersOf(docker, instance)).map((c) => c.Id);
    await remote.commit({ 'app.yaml': service('app', { replicas: 4, env: { V: '2' } }) }, 'change env');
    const child = spawnBerth(['apply', ...common()]);
    const exited = new Promise((resolve) => child.once('exit', resolve));
    await waitFor(async () => (await containersOf(docker, instance)).some((c) => !oldIds.includes(c.Id)), { what: 'first new container', intervalMs: 10 });
    child.kill('SIGKILL');
    await exited;
    const mid = await containersOf(docker, instance);
    expect(mid.filter((c) => oldIds.includes(c.Id)).length).toBeGreaterThan(0);

    const r = await berth(['apply', ...common()]);
    expect(r.code, r.stderr).toBe(0);
    const after = await containersOf(docker, instance);
    expect(after).toHaveLength(4);
    expect(after.every((c) => c.State === 'running' && !oldIds.includes(c.Id))).toBe(true);
    expect(after.map((c) => c.Labels['berth.replica']).sort()).toEqual(['1', '2', '3', '4']);
    expect(new Set(after.map((c) => c.Labels['berth.spec-hash'])).size).toBe(1);
  });

  it('converges after being killed in the middle of a scale-up', async () => {
    await remote.commit({ 'app.yaml': service('app', { replicas: 10, env: { V: '2' } }) }, 'ten');
    const child = spawnBerth(['apply', ...common()]);
    const exited = new Promise((resolve) => child.once('exit', resolve));
    await waitFor(async () => (await containersOf(docker, instance)).length > 4, { what: 'a fifth container', intervalMs: 10 });
    child.kill('SIGKILL');
    await exited;
    const r = await berth(['apply', ...common()]);
    expect(r.code, r.stderr).toBe(0);
    const after = await containersOf(docker, instance);
    expect(after.map((c) => Number(c.Labels['berth.replica'])).sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(after.every((c) => c.State === 'running')).toBe(true);
  });

  it('validate exits 1 with file:line:col errors, 0 when valid', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'berth-validate-'));
    await fs.writeFile(path.join(dir, 'ok.yaml'), service('ok'));
    expect((await berth(['validate', dir])).code).toBe(0);
    await fs.writeFile(path.join(dir, 'bad.yaml'), 'apiVersion: berth/v1\nkind: Service\nmetadata: { name: bad }\nspec:\n  image: x\n  replicas: "3"\n');
    const r = await berth(['validate', dir]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe('bad.yaml:6:13: spec.replicas: must be integer');
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('fails with one clear line and exit 1 on a bad flag, an unreachable engine or repository', async () => {
    const flag = await berth(['run', '--bogus']);
    expect(flag.code).toBe(1);
    expect(flag.stderr.trim().split('\n')).toHaveLength(1);
    expect(flag.stderr).toContain('--bogus');

    const engine = await berth(['apply', ...common(), '--docker', 'unix:///nonexistent/docker.sock']);
    expect(engine.code).toBe(1);
    expect(engine.stderr.trim().split('\n')).toHaveLength(1);
    expect(engine.stderr).toContain('/nonexistent/docker.sock');

    const repo = await berth(['plan', '--repo', 'http://127.0.0.1:1/none.git', '--instance', instance, '--state-dir', stateDir]);
    expect(repo.code).toBe(1);
    expect(repo.stderr.trim().split('\n')).toHaveLength(1);
    expect(repo.stderr).toContain('127.0.0.1:1');

    const help = await berth(['plan', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('--detailed-exitcode');
  });

  it('says its version, points at --help on a bad flag, and tells an unreachable server (exit 3) from not ready (exit 1)', async () => {
    const version = await berth(['--version']);
    expect(version.code).toBe(0);
    expect(version.stdout.trim()).toMatch(/^berth \d+\.\d+\.\d+$/);
    const bogus = await berth(['plan', '--bogus']);
    expect(bogus.stderr).toContain('(see berth plan --help)');
    const down = await berth(['status', '--server', `http://127.0.0.1:${await freePort()}`]);
    expect(down.code).toBe(3);
    expect(down.stderr.trim().split('\n')).toHaveLength(1);
    expect(down.stderr).toContain('nothing listens there');
    expect(down.stderr).not.toContain('ECONNREFUSED');
    const missing = await berth(['validate', '/nonexistent-berth-dir']);
    expect(missing.code).toBe(1);
    expect(missing.stderr.trim()).toBe('berth: validate: /nonexistent-berth-dir is not a directory');
  });
});
