/**
 * kind CronJob on the real engine: at its scheduled time (a 1-minute schedule, real time) one run of its template
 * starts, labelled by that time, and completes; suspended, nothing more starts; removed from git, its containers go.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type Docker from 'dockerode';
import { cleanupInstance, TEST_IMAGE, testDocker, uniqueInstance, waitFor } from './helpers/docker.ts';
import { makeRemote, type Remote } from './helpers/git.ts';
import { service, startTestOperator, type TestOperator } from './helpers/operator.ts';
import type { CronJobStatus } from '../operator/jobs/cron-plan.ts';
import { scheduledAtOf } from '../operator/jobs/cron-policy.ts';
import type { PassResult } from '../operator/reconciler/reconciler.ts';

const docker = testDocker();
const instance = uniqueInstance('cron');
let remote: Remote;
let op: TestOperator | undefined;

const cron = (extra = ''): string => `apiVersion: berth/v1\nkind: CronJob\nmetadata: { name: tick, namespace: test }\nspec:\n  schedule: "* * * * *"\n${extra}  jobTemplate:\n    spec:\n      image: ${TEST_IMAGE}\n      command: [sh, -c, "echo tick"]\n`;

beforeAll(async () => {
  remote = await makeRemote({ 'cron.yaml': cron(), 'web.yaml': service('web', { command: ['sleep', '3600'] }) });
  op = await startTestOperator(remote.url, instance);
}, 60_000);

afterAll(async () => {
  await op?.stop();
  await remote?.close();
  await cleanupInstance(docker, instance);
});

async function cronContainers(): Promise<Docker.ContainerInspectInfo[]> {
  const list = await docker.listContainers({ all: true, filters: { label: [`berth.instance=${instance}`, 'berth.kind=CronJob', 'berth.job=tick'] } });
  return Promise.all(list.map((c) => docker.getContainer(c.Id).inspect()));
}

const statusOf = (p: PassResult): CronJobStatus | undefined => (p.status as { cronJobs?: Record<string, CronJobStatus> }).cronJobs?.['test/tick'];

describe('kind CronJob', () => {
  it('starts one run at its scheduled time (woken by the schedule, no polling), which completes; suspend stops it; removal prunes it', async () => {
    const first = await op!.waitPass((p) => statusOf(p)?.next !== undefined, 'cronjob seen', 60_000);
    const next = Date.parse(statusOf(first)!.next!);
    // Nobody triggers passes here: the operator wakes itself for the scheduled time.
    const ran = await op!.waitPass((p) => statusOf(p)?.runs.some((r) => r.phase === 'Succeeded') === true, 'a run succeeded', 100_000);
    const st = statusOf(ran)!;
    expect(st.runs).toHaveLength(1);
    const [r] = st.runs;
    expect(scheduledAtOf(r!.run)).toBe(next);
    expect(r).toMatchObject({ phase: 'Succeeded', ready: 1, scheduledAt: new Date(next).toISOString() });
    const cs = await cronContainers();
    expect(cs).toHaveLength(1);
    expect(cs[0]!.Config.Labels).toMatchObject({ 'berth.run': r!.run, 'berth.completion': '1', 'berth.attempt': '1' });
    expect(cs[0]!.State.ExitCode).toBe(0);
    const lateMs = Date.parse(cs[0]!.State.StartedAt) - next;
    expect(lateMs).toBeGreaterThanOrEqual(0);
    expect(lateMs).toBeLessThan(5000);

    const rev = await remote.commit({ 'cron.yaml': cron('  suspend: true\n') }, 'suspend');
    await (op!.trigger('push'), op!.waitPass((p) => p.desired?.revision === rev, 'suspended revision in force', 60_000));
    const suspendedAt = Date.now();
    const ids = (await cronContainers()).map((c) => c.Id);
    // Past the next minute boundary: nothing new started.
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, 60_000 - (suspendedAt % 60_000)) + 2000));
    op!.trigger('check');
    await op!.waitPass(() => true, 'a pass after the boundary');
    expect((await cronContainers()).map((c) => c.Id)).toEqual(ids);

    await remote.commit({ 'cron.yaml': null }, 'remove the cronjob');
    await waitFor(async () => {
      op!.trigger('removed');
      return (await cronContainers()).length === 0;
    }, { what: 'the cronjob containers removed', timeoutMs: 60_000, intervalMs: 500 });
  }, 240_000);
});
