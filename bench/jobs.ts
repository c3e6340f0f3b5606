/**
 * Benchmark (#17), `berth run` as its own process on the real engine and a real git server:
 *  1. A CronJob every minute: its scheduled time -> its container running (State.StartedAt), for ROUNDS minutes.
 *  2. 500 CronJobs in one repository (none due during the window): the operator's CPU over one minute, against the
 *     same operator with no CronJob.
 * Run: npx tsx bench/jobs.ts. Cleans up its own containers and repositories.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import Docker from 'dockerode';
import { makeRemote } from '../test/helpers/git.ts';
import { median, startBerth, until } from './lib.ts';

const docker = new Docker();
const IMAGE = 'berth-local/busybox:1';
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);

const cron = (name: string, schedule: string) => `apiVersion: berth/v1
kind: CronJob
metadata: { name: ${name}, namespace: bench }
spec:
  schedule: "${schedule}"
  jobTemplate:
    spec: { image: ${IMAGE}, command: [sh, -c, "echo run"] }
`;

async function withBerth<T>(files: Record<string, string>, port: number, fn: (b: Awaited<ReturnType<typeof startBerth>>, instance: string) => Promise<T>): Promise<T> {
  const state = await fs.mkdtemp(path.join(os.tmpdir(), 'berth-bench-'));
  const instance = `bench-jobs-${process.pid}-${port}`;
  const remote = await makeRemote(files);
  const berth = await startBerth(['--repo', remote.url, '--instance', instance, '--interval', '30s', '--state-dir', state], port);
  try {
    return await fn(berth, instance);
  } finally {
    await berth.stop();
    await remote.close();
    const left = await docker.listContainers({ all: true, filters: { label: [`berth.instance=${instance}`] } });
    await Promise.all(left.map((c) => docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined)));
    await fs.rm(state, { recursive: true, force: true });
  }
}

async function scheduledToRunning(): Promise<void> {
  await withBerth({ 'tick.yaml': cron('tick', '* * * * *') }, 17_191, async (_berth, instance) => {
    const lags: number[] = [];
    const seen = new Set<string>();
    const deadline = Date.now() + (ROUNDS + 1) * 61_000 + 30_000;
    while (lags.length < ROUNDS && Date.now() < deadline) {
      const list = await docker.listContainers({ all: true, filters: { label: [`berth.instance=${instance}`, 'berth.kind=CronJob'] } });
      for (const c of list) {
        if (seen.has(c.Id)) continue;
        const info = await docker.getContainer(c.Id).inspect();
        if (!info.State.StartedAt || info.State.StartedAt.startsWith('0001')) continue;
        seen.add(c.Id);
        const started = Date.parse(info.State.StartedAt);
        const scheduled = Math.floor(started / 60_000) * 60_000;
        lags.push(started - scheduled);
        console.log(`  run ${info.Config.Labels['berth.run']}: running ${started - scheduled} ms after its time`);
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    console.log(`CronJob scheduled time -> container running: median ${median(lags).toFixed(0)} ms over ${lags.length} runs (goal < 1 s)`);
  });
}

async function idleCpu(count: number, port: number): Promise<number> {
  const files: Record<string, string> = { 'keep.yaml': `apiVersion: berth/v1\nkind: Service\nmetadata: { name: keep, namespace: bench }\nspec: { image: ${IMAGE}, command: [sleep, "3600"] }\n` };
  // New Year's minute: none is due while the bench runs.
  for (let i = 0; i < count; i++) files[`cron/c${i}.yaml`] = cron(`c${i}`, `${i % 60} 0 1 1 *`);
  return withBerth(files, port, async (berth) => {
    await until(async () => (await berth.status()).services['bench/keep']?.ready === 1, 'keep running', 120_000, 200);
    await new Promise((r) => setTimeout(r, 5_000));
    const before = await berth.cpuSeconds();
    await new Promise((r) => setTimeout(r, 60_000));
    return (await berth.cpuSeconds()) - before;
  });
}

const only = process.argv[2];
if (!only || only === 'lag') await scheduledToRunning();
if (!only || only === 'cpu') {
  const base = await idleCpu(0, 17_192);
  const many = await idleCpu(500, 17_193);
  console.log(`operator CPU over 60 s idle: ${(base * 1000).toFixed(0)} ms with no CronJob, ${(many * 1000).toFixed(0)} ms with 500 CronJobs: ${(((many - base) / 60) * 100).toFixed(2)} % of a core for their scheduling (goal < 1 %)`);
}
