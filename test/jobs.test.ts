/**
 * kind Job on the real engine: a Job runs its completions to the end once per spec hash (never again on later passes,
 * after an unrelated push, or after an operator restart), and a failing Job is retried after its backoff until
 * backoffLimit, ending Failed with BackoffLimitExceeded; a Service naming a Job in dependsOn rolls out only after it
 * succeeded, and a failed migration leaves the running replica alone.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type Docker from 'dockerode';
import { cleanupInstance, TEST_IMAGE, testDocker, uniqueInstance, waitFor } from './helpers/docker.ts';
import { makeRemote, type Remote } from './helpers/git.ts';
import { service, startTestOperator, type TestOperator } from './helpers/operator.ts';
import type { JobStatus } from '../operator/jobs/plan.ts';
import type { PassResult } from '../operator/reconciler/reconciler.ts';

const docker = testDocker();
const instance = uniqueInstance('jobs');
let remote: Remote;
let op: TestOperator | undefined;

const job = (name: string, spec: string): string => `apiVersion: berth/v1\nkind: Job\nmetadata: { name: ${name}, namespace: test }\nspec:\n  image: ${TEST_IMAGE}\n${spec}`;
const TWICE = job('twice', '  command: [sh, -c, "echo done; sleep 1"]\n  completions: 2\n  parallelism: 1\n');
const FAILS = job('fails', '  command: [sh, -c, "exit 3"]\n  backoffLimit: 1\n');
const TTL = job('ttl', '  command: [sh, -c, "echo once"]\n  ttlAfterFinished: 0s\n');
const DEADLINE = job('deadline', '  command: [sleep, "30"]\n  activeDeadline: 2s\n');

beforeAll(async () => {
  remote = await makeRemote({ 'twice.yaml': TWICE });
  op = await startTestOperator(remote.url, instance);
}, 60_000);

afterAll(async () => {
  await op?.stop();
  await remote?.close();
  await cleanupInstance(docker, instance);
});

async function jobContainers(name: string): Promise<Docker.ContainerInspectInfo[]> {
  const list = await docker.listContainers({ all: true, filters: { label: [`berth.instance=${instance}`, 'berth.kind=Job', `berth.job=${name}`] } });
  const all = await Promise.all(list.map((c) => docker.getContainer(c.Id).inspect()));
  return all.sort((a, b) => Number(a.Config.Labels['berth.completion']) - Number(b.Config.Labels['berth.completion']) || Number(a.Config.Labels['berth.attempt']) - Number(b.Config.Labels['berth.attempt']));
}

const statusOf = (p: PassResult, key: string): JobStatus | undefined => (p.status as { jobs?: Record<string, JobStatus> }).jobs?.[key];
const runsJob = (p: PassResult, key: string) => [...(p.plan?.actions ?? []), ...(p.pending?.actions ?? [])].some((a) => a.type === 'run-job' && a.job === key);

async function waitJob(key: string, pred: (s: JobStatus) => boolean, what: string, timeoutMs = 60_000): Promise<PassResult> {
  // Passes come from container events (a die) and the wake time of a backoff; the timer only makes them prompt.
  const timer = setInterval(() => op!.trigger('test'), 500);
  try {
    return await op!.waitPass((p) => { const s = statusOf(p, key); return s !== undefined && pred(s); }, what, timeoutMs);
  } finally {
    clearInterval(timer);
  }
}

describe('kind Job', () => {
  it('runs completions one after the other to Succeeded, and never again: later passes, an unrelated push, a restart', async () => {
    const done = await waitJob('test/twice', (s) => s.phase === 'Succeeded', 'job twice succeeded');
    const st = statusOf(done, 'test/twice')!;
    expect(st).toMatchObject({ desired: 2, ready: 2, failed: 0, health: 'Healthy' });
    expect(st.attempts.map((a) => [a.completion, a.attempt, a.state, a.exitCode])).toEqual([[1, 1, 'succeeded', 0], [2, 1, 'succeeded', 0]]);
    const cs = await jobContainers('twice');
    expect(cs).toHaveLength(2);
    for (const c of cs) {
      expect(c.State.Status).toBe('exited');
      expect(c.State.ExitCode).toBe(0);
      expect(c.HostConfig.RestartPolicy?.Name).toBe('no');
      expect(c.Config.Labels).toMatchObject({ 'berth.managed': 'true', 'berth.namespace': 'test', 'berth.run': st.run, 'berth.attempt': '1' });
      expect(c.Config.Labels['berth.service']).toBeUndefined();
    }
    // parallelism 1: the second completion started after the first had finished.
    expect(Date.parse(cs[1]!.State.StartedAt)).toBeGreaterThanOrEqual(Date.parse(cs[0]!.State.FinishedAt));
    const ids = cs.map((c) => c.Id);

    for (let i = 0; i < 3; i++) {
      const p = await (op!.trigger('again'), op!.waitPass(() => true, `pass ${i}`));
      expect(runsJob(p, 'test/twice')).toBe(false);
    }
    const rev = await remote.commit({ 'web.yaml': service('web', { command: ['sleep', '3600'] }) }, 'unrelated service');
    const after = await (op!.trigger('push'), op!.waitPass((p) => p.converged && p.desired?.revision === rev && p.status.services['test/web']?.ready === 1, 'unrelated push converged', 60_000));
    expect(statusOf(after, 'test/twice')?.phase).toBe('Succeeded');
    expect((await jobContainers('twice')).map((c) => c.Id)).toEqual(ids);

    const stateDir = op!.stateDir;
    await op!.stopOperator();
    op = undefined;
    op = await startTestOperator(remote.url, instance, {}, { stateDir });
    const restarted = await op.reached((p) => p.converged, 'converged after the restart', 60_000);
    expect(runsJob(restarted, 'test/twice')).toBe(false);
    expect(statusOf(restarted, 'test/twice')?.phase).toBe('Succeeded');
    expect((await jobContainers('twice')).map((c) => c.Id)).toEqual(ids);
  }, 150_000);

  it('retries a failing Job after a 10 s backoff, then fails it with BackoffLimitExceeded and starts nothing more', async () => {
    await remote.commit({ 'fails.yaml': FAILS }, 'a failing job');
    const waiting = await waitJob('test/fails', (s) => s.failed === 1 && s.nextAttemptAt !== undefined, 'first attempt failed, retry scheduled');
    const first = statusOf(waiting, 'test/fails')!;
    expect(first.phase).toBe('Running');
    expect(first.attempts[0]).toMatchObject({ completion: 1, attempt: 1, state: 'failed', exitCode: 3 });
    expect(Date.parse(first.nextAttemptAt!) - Date.parse(first.attempts[0]!.finishedAt!)).toBe(10_000);

    const failed = await waitJob('test/fails', (s) => s.phase === 'Failed', 'job fails failed', 60_000);
    const st = statusOf(failed, 'test/fails')!;
    expect(st).toMatchObject({ reason: 'BackoffLimitExceeded', failed: 2, ready: 0, health: 'Degraded' });
    const cs = await jobContainers('fails');
    expect(cs.map((c) => [c.Config.Labels['berth.completion'], c.Config.Labels['berth.attempt'], c.State.ExitCode])).toEqual([['1', '1', 3], ['1', '2', 3]]);
    expect(Date.parse(cs[1]!.State.StartedAt) - Date.parse(cs[0]!.State.FinishedAt)).toBeGreaterThanOrEqual(10_000 - 50);
    expect(failed.status.conditions.find((c) => c.type === 'Degraded')).toMatchObject({ status: 'True', reason: 'JobFailed' });

    for (let i = 0; i < 2; i++) {
      const p = await (op!.trigger('again'), op!.waitPass(() => true, `pass ${i}`));
      expect(runsJob(p, 'test/fails')).toBe(false);
    }
    expect(await jobContainers('fails')).toHaveLength(2);
    // The Succeeded Job is untouched by the other Job's run.
    expect(await jobContainers('twice')).toHaveLength(2);
  }, 120_000);

  it('activeDeadline stops the running container (DeadlineExceeded); ttlAfterFinished removes a finished run, whose record stays and never reruns', async () => {
    await remote.commit({ 'ttl.yaml': TTL, 'deadline.yaml': DEADLINE }, 'ttl and deadline');
    const gone = await waitJob('test/ttl', (s) => s.removed === true, 'ttl job removed after it succeeded', 60_000);
    expect(statusOf(gone, 'test/ttl')).toMatchObject({ phase: 'Succeeded', ready: 1, removed: true });
    expect(await jobContainers('ttl')).toHaveLength(0);

    const late = await waitJob('test/deadline', (s) => s.phase === 'Failed', 'deadline job failed', 60_000);
    const st = statusOf(late, 'test/deadline')!;
    expect(st.reason).toBe('DeadlineExceeded');
    expect(Date.parse(st.finishedAt!) - Date.parse(st.startedAt!)).toBe(2000);
    const cs = await waitFor(async () => {
      const list = await jobContainers('deadline');
      return list.length === 1 && list[0]!.State.Status === 'exited' ? list : undefined;
    }, { what: 'the deadline job container stopped', timeoutMs: 30_000 });
    expect(Date.parse(cs[0]!.State.FinishedAt) - Date.parse(cs[0]!.State.StartedAt)).toBeLessThan(15_000);

    for (let i = 0; i < 3; i++) {
      const p = await (op!.trigger('again'), op!.waitPass(() => true, `pass ${i}`));
      expect(runsJob(p, 'test/ttl') || runsJob(p, 'test/deadline')).toBe(false);
      expect(statusOf(p, 'test/deadline')?.reason).toBe('DeadlineExceeded');
      expect(statusOf(p, 'test/ttl')).toMatchObject({ phase: 'Succeeded', removed: true });
    }
    expect(await jobContainers('ttl')).toHaveLength(0);
    expect(await jobContainers('deadline')).toHaveLength(1);
  }, 120_000);

  it('a Service naming a Job in dependsOn rolls out after it succeeded; a failed migration leaves the running replica', async () => {
    const api = (v: string) => `apiVersion: berth/v1\nkind: Service\nmetadata: { name: api, namespace: test }\nspec:\n  image: ${TEST_IMAGE}\n  command: [sleep, "3600"]\n  env: { V: "${v}" }\n  dependsOn: [migrate]\n`;
    const migrate = (cmd: string) => job('migrate', `  command: [sh, -c, "${cmd}"]\n  backoffLimit: 0\n`);
    await remote.commit({ 'migrate.yaml': migrate('sleep 2; echo migrated'), 'api.yaml': api('1') }, 'migration and api');
    const timer = setInterval(() => op!.trigger('test'), 500);
    try {
      const held = await op!.waitPass((p) => statusOf(p, 'test/migrate')?.phase === 'Running' && p.status.services['test/api'] !== undefined, 'migration running', 60_000);
      // the message is the plan's, taken before this pass started the migration's container
      expect(held.status.services['test/api']).toMatchObject({ running: 0, message: expect.stringMatching(/^waiting for jobs: job test\/migrate has not succeeded yet \((pending|running)\)$/) });
      const up = await op!.waitPass((p) => p.status.services['test/api']?.running === 1, 'api running after the migration', 60_000);
      expect(statusOf(up, 'test/migrate')?.phase).toBe('Succeeded');
      const [first] = await docker.listContainers({ filters: { label: [`berth.instance=${instance}`, 'berth.service=api'] } });
      // a new api and a migration that fails: the rollout waits, the running replica stays
      await remote.commit({ 'migrate.yaml': migrate('exit 4'), 'api.yaml': api('2') }, 'failing migration');
      const blocked = await op!.waitPass((p) => statusOf(p, 'test/migrate')?.phase === 'Failed' && /^waiting for jobs: job test\/migrate failed \(BackoffLimitExceeded\)/.test(p.status.services['test/api']?.message ?? ''), 'rollout blocked by the failed migration', 60_000);
      expect(blocked.status.services['test/api']?.message).toBeDefined();
      const now = await docker.listContainers({ filters: { label: [`berth.instance=${instance}`, 'berth.service=api'] } });
      expect(now.map((c) => c.Id)).toEqual([first!.Id]);
    } finally {
      clearInterval(timer);
    }
  }, 150_000);
});
