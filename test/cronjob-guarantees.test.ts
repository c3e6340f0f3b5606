/**
 * CronJob guarantees on the real engine, driven by a fake clock (the operator's passes and wake timer read it; the
 * engine's start and finish times stay real, so the clock only ever moves forward from real time):
 * - concurrencyPolicy with an overrunning run: Forbid skips the next time (reported), Replace removes the running
 *   run and starts the new time's, Allow runs both;
 * - an operator down across several scheduled times starts exactly one catch-up run, for the most recent time; with a
 *   startingDeadline that time is skipped (reported) and nothing starts;
 * - successfulRunsHistory / failedRunsHistory keep only the newest runs' containers and status records.
 */
import fs from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type Docker from 'dockerode';
import { cleanupInstance, TEST_IMAGE, testDocker, uniqueInstance, waitFor } from './helpers/docker.ts';
import { makeRemote, type Remote } from './helpers/git.ts';
import { startTestOperator, statusFromBranch, stopProxyProcess, type TestOperator } from './helpers/operator.ts';
import type { CronJobStatus } from '../operator/jobs/cron-plan.ts';
import { runId, scheduledAtOf } from '../operator/jobs/cron-policy.ts';
import type { PassResult } from '../operator/reconciler/reconciler.ts';

const docker = testDocker();
const MINUTE = 60_000;

/** A clock ahead of real time by a mutable, never negative, never decreasing offset. */
interface FakeClock {
  now: () => Date;
  /** The fake time now (ms). */
  read(): number;
  /** Moves the clock so it reads `at` now; forward only. */
  setTo(at: number): void;
}

function fakeClock(): FakeClock {
  let offset = 0;
  return {
    now: () => new Date(Date.now() + offset),
    read: () => Date.now() + offset,
    setTo(at) {
      const next = at - Date.now();
      if (next < offset) throw new Error(`the fake clock only moves forward (offset ${offset} -> ${next})`);
      offset = next;
    },
  };
}

/** The first minute boundary at least 10 s of real time away: a fake clock 5 s before it is ahead of real time. */
const boundaryAhead = (): number => Math.ceil((Date.now() + 10_000) / MINUTE) * MINUTE;

const cronJob = (name: string, extra: string, command: string, jobExtra = ''): string =>
  `apiVersion: berth/v1\nkind: CronJob\nmetadata: { name: ${name}, namespace: test }\nspec:\n  schedule: "* * * * *"\n${extra}  jobTemplate:\n    spec:\n      image: ${TEST_IMAGE}\n      command: [sh, -c, ${JSON.stringify(command)}]\n${jobExtra}`;

// Exits at once on SIGTERM (sleep as pid 1 would ignore it until the stop timeout).
const LONG = "trap 'exit 0' TERM; echo started; sleep 600 & wait";

const statusOf = (p: PassResult, name: string): CronJobStatus | undefined => (p.status as { cronJobs?: Record<string, CronJobStatus> }).cronJobs?.[`test/${name}`];

interface Env {
  instance: string;
  remote: Remote;
  op: TestOperator;
  clock: FakeClock;
  /** The operator was stopped by the test (stopOperator): only its proxy process and state dir are left. */
  stopped?: boolean;
}

async function cronContainers(instance: string, name: string): Promise<Docker.ContainerInspectInfo[]> {
  const list = await docker.listContainers({ all: true, filters: { label: [`berth.instance=${instance}`, 'berth.kind=CronJob', `berth.job=${name}`] } });
  const all = await Promise.all(list.map((c) => docker.getContainer(c.Id).inspect()));
  return all.sort((a, b) => a.Config.Labels['berth.run']!.localeCompare(b.Config.Labels['berth.run']!));
}

/** The first pass matching `pred`, with a pass triggered every 500 ms meanwhile (passes otherwise come from events and the wake timer). */
async function settle(op: TestOperator, pred: (p: PassResult) => boolean, what: string, timeoutMs = 30_000): Promise<PassResult> {
  const last = op.passes.at(-1);
  if (last && pred(last)) return last;
  const timer = setInterval(() => op.trigger('test'), 500);
  try {
    op.trigger('test');
    return await op.waitPass(pred, what, timeoutMs);
  } finally {
    clearInterval(timer);
  }
}

/** The run-job actions a pass planned for CronJob `name`. */
const runsJob = (p: PassResult, name: string) => (p.plan?.actions ?? []).flatMap((a) => (a.type === 'run-job' && a.job === `test/${name}` ? [a] : []));

async function start(prefix: string, files: Record<string, string>): Promise<Env> {
  const instance = uniqueInstance(prefix);
  const remote = await makeRemote(files);
  const clock = fakeClock();
  try {
    const op = await startTestOperator(remote.url, instance, {}, { now: clock.now });
    return { instance, remote, op, clock };
  } catch (err) {
    await remote.close();
    throw err;
  }
}

async function stop(env: Env | undefined): Promise<void> {
  if (!env) return;
  if (env.stopped) {
    await stopProxyProcess(env.op.stateDir, env.instance);
    await fs.rm(env.op.stateDir, { recursive: true, force: true });
  } else {
    await env.op.stop();
  }
  await env.remote.close();
  await cleanupInstance(docker, env.instance);
}

/**
 * Puts the clock 5 s before a minute boundary B, waits for a pass that has seen the CronJobs (their `since` before B),
 * then moves it just past B: each CronJob starts its run for B. Returns B.
 */
async function firstBoundary(env: Env, names: string[]): Promise<number> {
  const b = boundaryAhead();
  env.clock.setTo(b - 5000);
  await settle(env.op, (p) => names.every((n) => { const s = statusOf(p, n); return s !== undefined && Date.parse(s.since) < b; }), 'the cronjobs seen before the boundary');
  env.clock.setTo(b + 1000);
  return b;
}

describe('concurrencyPolicy with an overrunning run', () => {
  let env: Env | undefined;
  beforeAll(async () => {
    env = await start('cron-conc', {
      'forbid.yaml': cronJob('forbid', '  concurrencyPolicy: Forbid\n', LONG),
      'replace.yaml': cronJob('replace', '  concurrencyPolicy: Replace\n', LONG),
      'allow.yaml': cronJob('allow', '  concurrencyPolicy: Allow\n', LONG),
    });
  }, 60_000);
  afterAll(() => stop(env), 60_000);

  it('Forbid skips the next time and keeps the first run; Replace removes it and runs the new time; Allow runs both', async () => {
    const { op, clock, instance } = env!;
    const names = ['forbid', 'replace', 'allow'];
    const b = await firstBoundary(env!, names);
    const first = runId(b);
    await settle(op, (p) => names.every((n) => statusOf(p, n)?.runs.find((r) => r.run === first)?.phase === 'Running'), 'the first runs running');
    const firstIds: Record<string, string> = {};
    for (const n of names) {
      const cs = await cronContainers(instance, n);
      expect(cs.map((c) => [c.Config.Labels['berth.run'], c.State.Status])).toEqual([[first, 'running']]);
      firstIds[n] = cs[0]!.Id;
    }

    // The next time comes while every first run still runs.
    clock.setTo(b + MINUTE + 1000);
    const second = runId(b + MINUTE);
    const after = await settle(op, (p) => {
      const f = statusOf(p, 'forbid');
      const r = statusOf(p, 'replace');
      const a = statusOf(p, 'allow');
      return f?.lastSkipped?.scheduledAt === new Date(b + MINUTE).toISOString() && r?.active.join() === second && a?.active.length === 2;
    }, 'the policies applied at the second time');

    const forbid = statusOf(after, 'forbid')!;
    expect(forbid.lastSkipped!.reason).toMatch(/Forbid/);
    expect(forbid.lastSkipped!.reason).toContain(first);
    expect(forbid.active).toEqual([first]);
    expect(forbid.runs.map((r) => [r.run, r.phase])).toEqual([[first, 'Running']]);
    const forbidCs = await cronContainers(instance, 'forbid');
    expect(forbidCs.map((c) => [c.Id, c.Config.Labels['berth.run'], c.State.Status])).toEqual([[firstIds.forbid, first, 'running']]);

    const replace = statusOf(after, 'replace')!;
    expect(replace.runs.map((r) => [r.run, r.phase])).toEqual([[second, 'Running']]);
    const replaceCs = await waitFor(async () => {
      const cs = await cronContainers(instance, 'replace');
      return cs.length === 1 && cs[0]!.State.Status === 'running' ? cs : undefined;
    }, { what: 'only the replacing run of replace running' });
    expect(replaceCs[0]!.Config.Labels['berth.run']).toBe(second);
    expect(replaceCs[0]!.Id).not.toBe(firstIds.replace);
    await expect(docker.getContainer(firstIds.replace!).inspect()).rejects.toMatchObject({ statusCode: 404 });

    const allow = statusOf(after, 'allow')!;
    expect([...allow.active].sort()).toEqual([first, second]);
    const allowCs = await cronContainers(instance, 'allow');
    expect(allowCs.map((c) => [c.Config.Labels['berth.run'], c.State.Status])).toEqual([[first, 'running'], [second, 'running']]);
    expect(allowCs[0]!.Id).toBe(firstIds.allow);

    // Later passes at the same time change nothing: no second start of any time, Forbid still skipping.
    for (let i = 0; i < 2; i++) {
      const p = await (op.trigger('again'), op.waitPass(() => true, `pass ${i}`));
      for (const n of names) expect(runsJob(p, n)).toEqual([]);
      expect(statusOf(p, 'forbid')?.lastSkipped?.reason).toMatch(/Forbid/);
    }
    expect((await cronContainers(instance, 'forbid')).map((c) => c.Id)).toEqual([firstIds.forbid]);
    expect(await cronContainers(instance, 'replace')).toHaveLength(1);
    expect(await cronContainers(instance, 'allow')).toHaveLength(2);
  }, 90_000);
});

describe('an operator down across scheduled times', () => {
  let env: Env | undefined;
  beforeAll(async () => {
    env = await start('cron-down', {
      'catchup.yaml': cronJob('catchup', '', 'echo ran'),
      'late.yaml': cronJob('late', '  startingDeadline: 10s\n', 'echo ran'),
    });
  }, 60_000);
  afterAll(() => stop(env), 60_000);

  it('starts exactly one catch-up run, for the most recent missed time; past startingDeadline that time is skipped and reported', async () => {
    const { clock, instance, remote } = env!;
    const b = await firstBoundary(env!, ['catchup', 'late']);
    const first = runId(b);
    await settle(env!.op, (p) => ['catchup', 'late'].every((n) => statusOf(p, n)?.runs.find((r) => r.run === first)?.phase === 'Succeeded'), 'the first runs succeeded');

    const stateDir = env!.op.stateDir;
    await env!.op.stopOperator(); // flushes the status (the CronJobs' since and lastScheduled) to the status branch
    // Down across five more scheduled times; back 30 s after the last of them (startingDeadline of late: 10 s).
    const latest = b + 5 * MINUTE;
    clock.setTo(latest + 30_000);
    env!.op = await startTestOperator(remote.url, instance, {}, { stateDir, now: clock.now });
    const op = env!.op;
    const back = await settle(op, (p) => statusOf(p, 'catchup')?.runs.find((r) => r.run === runId(latest))?.phase === 'Succeeded' && statusOf(p, 'late')?.lastSkipped !== undefined, 'the catch-up run succeeded');

    const catchup = statusOf(back, 'catchup')!;
    expect(catchup.runs.map((r) => [r.run, r.phase])).toEqual([[runId(latest), 'Succeeded'], [first, 'Succeeded']]);
    expect(scheduledAtOf(catchup.runs[0]!.run)).toBe(latest);
    expect(catchup.lastScheduled).toBe(new Date(latest).toISOString());
    const started = op.passes.flatMap((p) => runsJob(p, 'catchup'));
    expect(started).toHaveLength(1);
    expect(started[0]!.reason).toContain('4 earlier missed time(s) not replayed');
    const cs = await cronContainers(instance, 'catchup');
    expect(cs.map((c) => [c.Config.Labels['berth.run'], c.Config.Labels['berth.attempt'], c.State.ExitCode])).toEqual([[first, '1', 0], [runId(latest), '1', 0]]);

    const late = statusOf(back, 'late')!;
    expect(late.lastSkipped).toMatchObject({ scheduledAt: new Date(latest).toISOString(), reason: expect.stringMatching(/startingDeadline 10s/) });
    expect(late.runs.map((r) => r.run)).toEqual([first]);
    expect(op.passes.flatMap((p) => runsJob(p, 'late'))).toEqual([]);
    expect((await cronContainers(instance, 'late')).map((c) => c.Config.Labels['berth.run'])).toEqual([first]);

    // Later passes before the next time start nothing more (the next time is 30 s of real time away).
    for (let i = 0; i < 2; i++) {
      const p = await (op.trigger('again'), op.waitPass(() => true, `pass ${i}`));
      expect(clock.read()).toBeLessThan(latest + MINUTE);
      expect([...runsJob(p, 'catchup'), ...runsJob(p, 'late')]).toEqual([]);
      expect(statusOf(p, 'late')?.lastSkipped?.scheduledAt).toBe(new Date(latest).toISOString());
    }
    expect(await cronContainers(instance, 'catchup')).toHaveLength(2);
    expect(await cronContainers(instance, 'late')).toHaveLength(1);

    // The record on the status branch (written at the stop) keeps both: the catch-up run and the skip.
    await op.stopOperator();
    env!.stopped = true;
    const record = (await statusFromBranch(remote.bareDir, instance))?.doc.cronJobs;
    expect(record?.['test/catchup']?.lastScheduled).toBe(new Date(latest).toISOString());
    expect(record?.['test/late']).toMatchObject({ lastScheduled: new Date(latest).toISOString(), lastSkipped: { scheduledAt: new Date(latest).toISOString() } });
  }, 90_000);
});

describe('history limits', () => {
  let env: Env | undefined;
  beforeAll(async () => {
    env = await start('cron-hist', {
      'keep.yaml': cronJob('keep', '  successfulRunsHistory: 2\n  failedRunsHistory: 1\n', 'echo ran'),
      'bad.yaml': cronJob('bad', '  successfulRunsHistory: 2\n  failedRunsHistory: 1\n', 'echo failing; exit 1', '      backoffLimit: 0\n'),
    });
  }, 60_000);
  afterAll(() => stop(env), 60_000);

  it('keeps the 2 newest successful runs and the newest failed run, containers and status records', async () => {
    const { op, clock, instance } = env!;
    const b = await firstBoundary(env!, ['keep', 'bad']);
    const times = [0, 1, 2, 3].map((i) => b + i * MINUTE);
    for (const [i, t] of times.entries()) {
      if (i > 0) clock.setTo(t + 1000);
      const id = runId(t);
      const p = await settle(op, (x) => statusOf(x, 'keep')?.runs[0]?.run === id && statusOf(x, 'keep')?.runs[0]?.phase === 'Succeeded'
        && statusOf(x, 'bad')?.runs[0]?.run === id && statusOf(x, 'bad')?.runs[0]?.phase === 'Failed', `run ${i + 1} finished`);
      expect(statusOf(p, 'bad')!.runs[0]).toMatchObject({ reason: 'BackoffLimitExceeded', failed: 1 });
    }
    const ids = times.map(runId);
    // The pruning of the oldest run may be the pass after the one that saw the newest finish.
    const done = await settle(op, (p) => statusOf(p, 'keep')?.runs.length === 2 && statusOf(p, 'bad')?.runs.length === 1, 'the history limits applied');
    const keep = statusOf(done, 'keep')!;
    expect(keep.runs.map((r) => [r.run, r.phase])).toEqual([[ids[3], 'Succeeded'], [ids[2], 'Succeeded']]);
    expect(keep.lastScheduled).toBe(new Date(times[3]!).toISOString());
    const keepCs = await waitFor(async () => {
      const cs = await cronContainers(instance, 'keep');
      return cs.length === 2 ? cs : undefined;
    }, { what: 'two containers of keep' });
    expect(keepCs.map((c) => [c.Config.Labels['berth.run'], c.State.ExitCode])).toEqual([[ids[2], 0], [ids[3], 0]]);

    const bad = statusOf(done, 'bad')!;
    expect(bad.runs.map((r) => [r.run, r.phase, r.reason])).toEqual([[ids[3], 'Failed', 'BackoffLimitExceeded']]);
    expect(bad.health).toBe('Degraded');
    const badCs = await cronContainers(instance, 'bad');
    expect(badCs.map((c) => [c.Config.Labels['berth.run'], c.Config.Labels['berth.attempt'], c.State.ExitCode])).toEqual([[ids[3], '1', 1]]);

    // Pruned runs never start again: each time ran exactly once over the whole test.
    for (const n of ['keep', 'bad']) {
      const started = op.passes.flatMap((p) => runsJob(p, n)).map((a) => a.run);
      expect(started.sort()).toEqual(ids);
    }
  }, 90_000);
});
