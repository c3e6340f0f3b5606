/** The CLI as a user runs it: plan (text, JSON, exit codes), apply, validate, status, bad flags, unreachable parts, and a crash mid-apply. */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeRemote, type Remote } from './helpers/git.ts';
import { TEST_IMAGE, cleanupInstance, testDocker, uniqueInstance, waitFor } from './helpers/docker.ts';
import { containersOf, service } from './helpers/operator.ts';
import { berth, spawnBerth } from './helpers/cli.ts';
import { freePort } from './helpers/net.ts';
import { fireText, nextFires } from '../operator/jobs/preview.ts';

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

  it('plan shows which Jobs would run at merge, the Services waiting for them, and when each CronJob next fires', async () => {
    const jobInstance = uniqueInstance('cli-jobs');
    const jobState = await fs.mkdtemp(path.join(os.tmpdir(), 'berth-cli-jobs-'));
    const migrate = (v: string) => `apiVersion: berth/v1\nkind: Job\nmetadata: { name: migrate, namespace: test }\nspec:\n  image: ${TEST_IMAGE}\n  command: [sh, -c, "exit 0"]\n  env: { V: "${v}" }\n`;
    const nightly = (schedule: string) => `apiVersion: berth/v1\nkind: CronJob\nmetadata: { name: nightly, namespace: test }\nspec:\n  schedule: "${schedule}"\n  timeZone: Europe/Berlin\n  concurrencyPolicy: Forbid\n  jobTemplate:\n    spec:\n      image: ${TEST_IMAGE}\n      command: [sh, -c, "echo report"]\n`;
    const web = service('web', { extra: '  dependsOn: [migrate]' });
    const jobsRemote = await makeRemote({ 'migrate.yaml': migrate('1'), 'nightly.yaml': nightly('0 3 * * *'), 'web.yaml': web });
    const args = ['--repo', jobsRemote.url, '--instance', jobInstance, '--state-dir', jobState];
    // The next times the operator's parser gives, from a clock read before and after the command (a fire time may pass in between).
    const nextLine = (schedule: string, from: number) => {
      const r = nextFires(schedule, 'Europe/Berlin', from);
      return 'next' in r ? r.next.map(fireText).join(', ') : r.error;
    };
    try {
      const before = Date.now();
      const text = await berth(['plan', ...args]);
      const after = Date.now();
      expect(text.code, text.stderr).toBe(0);
      const lines = text.stdout.split('\n');
      const run = /^ {2}\+ test\/migrate: would run: 1 completion, parallelism 1 \(run ([0-9a-f]{16})\)$/m.exec(text.stdout)?.[1];
      expect(run, text.stdout).toBeDefined();
      expect(lines).toContain('Jobs at merge:');
      expect(lines).toContain('      service test/web rolls out after job test/migrate succeeds');
      expect(lines.find((l) => l.startsWith('CronJobs (next times after '))).toMatch(/^CronJobs \(next times after \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\):$/);
      expect(lines).toContain('  test/nightly: schedule "0 3 * * *" (every day at 03:00), time zone Europe/Berlin, suspend false, concurrencyPolicy Forbid (new)');
      const next = lines.find((l) => l.startsWith('      next: '))!;
      expect([nextLine('0 3 * * *', before), nextLine('0 3 * * *', after)].map((n) => `      next: ${n}`)).toContain(next);
      expect(next).toMatch(/^ {6}next: \d{4}-\d\d-\d\dT03:00:00\+0[12]:00 \(\d{4}-\d\d-\d\dT0[12]:00:00Z\), /);

      const md = await berth(['plan', ...args, '--format', 'markdown']);
      expect(md.code, md.stderr).toBe(0);
      expect(md.stdout).toContain(`- \`test/migrate\`: **would run: 1 completion, parallelism 1 (run ${run})**\n  - service \`test/web\` rolls out after job \`test/migrate\` succeeds`);
      expect(md.stdout).toContain('#### CronJobs');
      expect(md.stdout).toContain('- `test/nightly`: `0 3 * * *` (every day at 03:00) in `Europe/Berlin`, concurrencyPolicy Forbid · new');
      expect(md.stdout).toMatch(/\n {2}- next: `\d{4}-\d\d-\d\dT03:00:00\+0[12]:00` \(`\d{4}-\d\d-\d\dT0[12]:00:00Z`\), /);
      expect(md.stdout).not.toContain('| run job |');

      const json = JSON.parse((await berth(['plan', ...args, '--json'])).stdout) as { jobs: { key: string; state: string; run: string; holds: string[] }[]; cronJobs: { key: string; next: { at: string; utc: string }[] }[] };
      expect(json.jobs).toEqual([expect.objectContaining({ key: 'test/migrate', state: 'run', run, holds: ['test/web'] })]);
      expect(json.cronJobs[0]).toMatchObject({ key: 'test/nightly', timeZone: 'Europe/Berlin', suspend: false });
      expect(json.cronJobs[0]!.next).toHaveLength(3);

      // Applied: the migration runs, then web rolls out; planned again, the Job is unchanged and holds nothing.
      await waitFor(async () => (await berth(['apply', ...args])).code === 0, { what: 'jobs revision converged', intervalMs: 500, timeoutMs: 60_000 });
      const done = await berth(['plan', ...args]);
      expect(done.stdout).toContain(`  = test/migrate: unchanged: run ${run} succeeded (1/1 completions), not run again`);
      expect(done.stdout).not.toContain('rolls out after');
      expect(done.stdout).not.toContain('(new)');

      // A new spec of the Job is a new run; a new schedule shows the old one and its next times.
      await jobsRemote.commit({ 'migrate.yaml': migrate('2'), 'nightly.yaml': nightly('30 2 * * 1-5') }, 'migrate again, new schedule');
      const t0 = Date.now();
      const changed = await berth(['plan', ...args]);
      const t1 = Date.now();
      expect(changed.code, changed.stderr).toBe(0);
      expect(changed.stdout).toMatch(new RegExp(`^ {2}~ test/migrate: would run again: spec changed \\(run ${run} -> [0-9a-f]{16}\\): 1 completion, parallelism 1$`, 'm'));
      expect(changed.stdout).toContain('      service test/web rolls out after job test/migrate succeeds');
      expect(changed.stdout).toContain('  test/nightly: schedule "30 2 * * 1-5" (every Mon, Tue, Wed, Thu, Fri at 02:30), time zone Europe/Berlin, suspend false, concurrencyPolicy Forbid');
      expect(changed.stdout).toContain('      schedule changed: was "0 3 * * *", time zone Europe/Berlin');
      const was = changed.stdout.split('\n').find((l) => l.startsWith('      next before: '));
      expect([nextLine('0 3 * * *', t0), nextLine('0 3 * * *', t1)].map((n) => `      next before: ${n}`)).toContain(was);
      const now = changed.stdout.split('\n').find((l) => l.startsWith('      next: '));
      expect([nextLine('30 2 * * 1-5', t0), nextLine('30 2 * * 1-5', t1)].map((n) => `      next: ${n}`)).toContain(now);
      const mdChanged = await berth(['plan', ...args, '--format', 'markdown']);
      expect(mdChanged.stdout).toMatch(/\n {2}- \*\*schedule changed\*\*: was `0 3 \* \* \*` in `Europe\/Berlin`, next `/);
    } finally {
      await jobsRemote.close();
      await cleanupInstance(docker, jobInstance);
      await fs.rm(jobState, { recursive: true, force: true });
    }
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
