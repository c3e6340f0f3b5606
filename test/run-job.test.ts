/**
 * `berth run-job ns/name` as a user runs it (a child process) against a real operator and engine: one run of the
 * CronJob's template starts now, labelled berth.run=manual-<time>, recorded in status and in the audit trail; a
 * restarted operator does not start it again; a viewer may not; a Job or an unknown name is refused with the reason.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type Docker from 'dockerode';
import { berth } from './helpers/cli.ts';
import { cleanupInstance, TEST_IMAGE, testDocker, uniqueInstance, waitFor } from './helpers/docker.ts';
import { makeRemote, type Remote } from './helpers/git.ts';
import { startTestOperator, type TestOperator } from './helpers/operator.ts';
import type { CronJobStatus } from '../operator/jobs/cron-plan.ts';
import { runTimeOf } from '../operator/jobs/cron-policy.ts';
import type { PassResult } from '../operator/reconciler/reconciler.ts';

const docker = testDocker();
const instance = uniqueInstance('runjob');
let remote: Remote;
let op: TestOperator | undefined;

// Fires once a year: every run here is one asked for by hand.
const cron = `apiVersion: berth/v1\nkind: CronJob\nmetadata: { name: report, namespace: test }\nspec:\n  schedule: "0 0 1 1 *"\n  jobTemplate:\n    spec:\n      image: ${TEST_IMAGE}\n      command: [sh, -c, "echo report-done"]\n`;
const job = `apiVersion: berth/v1\nkind: Job\nmetadata: { name: migrate, namespace: test }\nspec:\n  image: ${TEST_IMAGE}\n  command: [sh, -c, "true"]\n`;

beforeAll(async () => {
  remote = await makeRemote({ 'cron.yaml': cron, 'job.yaml': job });
  op = await startTestOperator(remote.url, instance);
  if (!op.passes.some((p) => statusOf(p) !== undefined)) await op.waitPass((p) => statusOf(p) !== undefined, 'cronjob seen');
}, 90_000);

afterAll(async () => {
  await op?.stop();
  await remote?.close();
  await cleanupInstance(docker, instance);
});

const statusOf = (p: PassResult): CronJobStatus | undefined => (p.status as { cronJobs?: Record<string, CronJobStatus> }).cronJobs?.['test/report'];
const client = () => ['--server', op!.url, '--state-dir', op!.stateDir];

/** The latest pass once it matches `pred` (a pass may have come and gone while the CLI exited): asks for passes meanwhile. */
async function latestPass(pred: (p: PassResult) => boolean, what: string): Promise<PassResult> {
  await waitFor(() => {
    const last = op!.passes.at(-1);
    if (last && pred(last)) return true;
    op!.trigger('test: check');
    return false;
  }, { what, timeoutMs: 60_000, intervalMs: 500 });
  return op!.passes.at(-1)!;
}

async function runContainers(): Promise<Docker.ContainerInspectInfo[]> {
  const list = await docker.listContainers({ all: true, filters: { label: [`berth.instance=${instance}`, 'berth.kind=CronJob', 'berth.job=report'] } });
  return Promise.all(list.map((c) => docker.getContainer(c.Id).inspect()));
}

describe('berth run-job', () => {
  it('starts one run of the template now, labelled manual-<time>, in status and the audit trail; a restart does not start it again', async () => {
    const before = Date.now();
    const r = await berth(['run-job', 'test/report', ...client()]);
    expect(r.code, r.stderr).toBe(0);
    const m = /^cronjob test\/report: run (manual-\d{8}T\d{6}Z) started\n$/.exec(r.stdout);
    expect(m, r.stdout).not.toBeNull();
    const run = m![1]!;
    const at = runTimeOf(run)!;
    expect(at.manual).toBe(true);
    expect(at.at).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000);

    const done = await latestPass((p) => statusOf(p)?.runs.some((x) => x.run === run && x.phase === 'Succeeded') === true, 'the run by hand succeeded');
    expect(statusOf(done)!.runs.find((x) => x.run === run)).toMatchObject({ manual: true, phase: 'Succeeded', ready: 1 });
    // The schedule's bookkeeping is untouched: no scheduled time was taken.
    expect(statusOf(done)!.lastScheduled).toBeUndefined();
    const cs = await runContainers();
    expect(cs).toHaveLength(1);
    expect(cs[0]!.Config.Labels).toMatchObject({ 'berth.run': run, 'berth.completion': '1', 'berth.attempt': '1' });
    expect(cs[0]!.State.ExitCode).toBe(0);

    const audit = await berth(['audit', '--since', '10m', ...client()]);
    expect(audit.code, audit.stderr).toBe(0);
    expect(audit.stdout).toMatch(/POST \/v1\/cronjobs\/test\/report\/run/);
    expect(audit.stdout).toMatch(/ 201 /);

    // Restarted on the same state: the run is on the engine, nothing starts it again.
    const stateDir = op!.stateDir;
    await op!.stopOperator();
    op = await startTestOperator(remote.url, instance, {}, { stateDir });
    await latestPass((p) => statusOf(p)?.runs.some((x) => x.run === run) === true, 'the restarted operator sees the run');
    op.trigger('again');
    await op.waitPass(() => true, 'one more pass');
    expect((await runContainers()).map((c) => c.Id)).toEqual(cs.map((c) => c.Id));
  }, 180_000);

  it('refuses a viewer, a Job and an unknown name with the reason (exit 1), and an unreachable berth with exit 3', async () => {
    const t = await berth(['token', 'create', '--role', 'viewer', '--name', 'looker', '--state-dir', op!.stateDir]);
    expect(t.code, t.stderr).toBe(0);
    // berth re-reads its tokens file every second: the new token works once it has.
    await waitFor(async () => (await fetch(`${op!.url}/v1/status`, { headers: { authorization: `Bearer ${t.stdout.trim()}` } })).status === 200, { what: 'the viewer token accepted' });
    const viewer = await berth(['run-job', 'test/report', '--server', op!.url, '--state-dir', '/nonexistent'], { BERTH_TOKEN: t.stdout.trim() });
    expect(viewer.code).toBe(1);
    expect(viewer.stderr).toContain('role viewer may not trigger jobs');
    const aJob = await berth(['run-job', 'test/migrate', ...client()]);
    expect(aJob.code).toBe(1);
    expect(aJob.stderr).toContain('test/migrate is a Job: it runs once per spec');
    const unknown = await berth(['run-job', 'test/nope', ...client()]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/answered 404: no CronJob test\/nope in revision [0-9a-f]{12}/);
    const usage = await berth(['run-job', 'report', ...client()]);
    expect(usage.code).toBe(1);
    expect(usage.stderr).toContain('usage: berth run-job <namespace>/<name>');
    const down = await berth(['run-job', 'test/report', '--server', 'http://127.0.0.1:1', '--state-dir', op!.stateDir]);
    expect(down.code).toBe(3);
  }, 60_000);
});
