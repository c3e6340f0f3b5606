/**
 * Self-healing and health-gated updates, side by side with Docker Swarm on the same engine and image:
 *  - liveness failure detected -> replacement ready (goal: under interval x threshold + 1 s)
 *  - a killed replica -> running and ready again (goal: under 1 s plus the readiness time; Swarm: its restart delay)
 *  - rolling update of 10 replicas gated on readiness, start-first, vs `docker service update --update-order start-first`
 * Run: npx tsx bench/healing.ts. Cleans up its own containers, services and repositories.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import Docker from 'dockerode';
import { makeRemote, type Remote } from '../test/helpers/git.ts';
import { withSwarm, fmtS, median, runningCount, startBerth, until, type BerthProcess } from './lib.ts';
import type { StatusDoc } from '../operator/status/report.ts';

const sh = promisify(execFile);
const docker = new Docker();
const IMAGE = 'berth-local/busybox:1';
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const SERVE = 'mkdir -p /www /tmp && echo ok > /www/healthz && touch /tmp/alive && exec httpd -f -p 8080 -h /www';

function web(replicas: number, version: string, monitor = '1s'): string {
  return `apiVersion: berth/v1
kind: Service
metadata: { name: web, namespace: bench }
spec:
  image: ${IMAGE}
  command: [sh, -c, "${SERVE}"]
  env: { VERSION: "${version}" }
  replicas: ${replicas}
  ports: [{ port: 8080 }]
  health:
    readiness: { http: { path: /healthz, port: 8080 }, interval: 500ms, timeout: 400ms, failureThreshold: 3 }
    liveness: { exec: { command: [cat, /tmp/alive] }, interval: 1s, timeout: 900ms, failureThreshold: 3 }
  update: { order: start-first, parallelism: 1, monitor: ${monitor}, failureAction: rollback }
`;
}

async function status(berth: BerthProcess): Promise<StatusDoc> {
  return berth.status();
}

async function readyIds(berth: BerthProcess): Promise<string[]> {
  const s = (await status(berth)).services['bench/web'];
  return (s?.replicas ?? []).filter((r) => r.ready).map((r) => r.container);
}

async function containerIds(instance: string): Promise<string[]> {
  return (await docker.listContainers({ filters: { label: [`berth.instance=${instance}`], status: ['running'] } })).map((c) => c.Id);
}

async function livenessReplace(berth: BerthProcess, instance: string): Promise<number> {
  const [victim] = await containerIds(instance);
  const exec = await docker.getContainer(victim!).exec({ Cmd: ['rm', '/tmp/alive'] });
  const t0 = performance.now();
  await exec.start({});
  await until(async () => {
    const ids = await containerIds(instance);
    return !ids.includes(victim!) && ids.length === 10 && (await readyIds(berth)).length === 10;
  }, 'liveness replacement ready', 60_000, 25);
  return performance.now() - t0;
}

/** Kills replica `slot` (a different slot each round: a replica killed again within 10 min backs off, by design). */
async function killed(berth: BerthProcess, instance: string, slot: number): Promise<number> {
  const [victim] = (await docker.listContainers({ filters: { label: [`berth.instance=${instance}`, `berth.replica=${slot}`], status: ['running'] } })).map((c) => c.Id);
  const t0 = performance.now();
  await docker.getContainer(victim!).kill();
  await until(async () => (await runningCount(docker, [`berth.instance=${instance}`])) === 10 && (await readyIds(berth)).length === 10 && (await status(berth)).services['bench/web']?.replicas.every((r) => r.ready), 'killed replica ready', 60_000, 25);
  return performance.now() - t0;
}

async function berthRollingUpdate(remote: Remote, berth: BerthProcess, version: string, monitor = '1s'): Promise<number> {
  const sha = await remote.commit({ 'web.yaml': web(10, version, monitor) }, `v${version}`);
  const t0 = performance.now();
  await fetch(`${berth.url}/hooks/git`, { method: 'POST', body: '{}', headers: berth.auth });
  await until(async () => {
    const s = await status(berth);
    const w = s.services['bench/web'];
    return s.revision.applied === sha && w?.ready === 10 && w.replicas.length === 10 && s.conditions.find((c) => c.type === 'Ready')?.status === 'True';
  }, 'berth rolling update', 300_000, 50);
  return performance.now() - t0;
}

async function swarmRollingUpdate(): Promise<number[]> {
  const name = `berth-bench-roll-${process.pid}`;
  await sh('docker', ['service', 'create', '--detach', '--no-resolve-image', '--name', name, '--replicas', '10',
    '--health-cmd', 'wget -q -O- http://127.0.0.1:8080/healthz', '--health-interval', '500ms', '--health-timeout', '400ms', '--health-retries', '3',
    '--update-order', 'start-first', '--update-parallelism', '1', '--update-monitor', '1s', '--update-failure-action', 'rollback',
    IMAGE, 'sh', '-c', SERVE]);
  const label = [`com.docker.swarm.service.name=${name}`];
  await until(async () => (await docker.listContainers({ filters: { label, health: ['healthy'] } })).length === 10, 'swarm 10 healthy', 300_000, 100);
  const times: number[] = [];
  try {
    for (let i = 0; i < ROUNDS; i++) {
      const t0 = performance.now();
      await sh('docker', ['service', 'update', '--detach', '--env-add', `VERSION=${i + 2}`, name]);
      const state = await until(async () => {
        const st = (await docker.getService(name).inspect()).UpdateStatus?.State as string | undefined;
        return st && ['completed', 'paused', 'rollback_completed', 'rollback_paused'].includes(st) ? st : undefined;
      }, 'swarm rolling update', 300_000, 100);
      if (state !== 'completed') console.log(`  (swarm update ${i + 1} ended ${state})`);
      times.push(performance.now() - t0);
    }
  } finally {
    await sh('docker', ['service', 'rm', name]).catch(() => undefined);
    await until(async () => (await docker.listContainers({ all: true, filters: { label } })).length === 0, 'swarm cleanup', 120_000, 200);
  }
  return times;
}

async function swarmKilled(): Promise<number> {
  const name = `berth-bench-kill-${process.pid}`;
  await sh('docker', ['service', 'create', '--detach', '--no-resolve-image', '--name', name, '--replicas', '3',
    '--health-cmd', 'wget -q -O- http://127.0.0.1:8080/healthz', '--health-interval', '500ms', '--health-timeout', '400ms', '--health-retries', '3', IMAGE, 'sh', '-c', SERVE]);
  const label = [`com.docker.swarm.service.name=${name}`];
  try {
    await until(async () => (await docker.listContainers({ filters: { label, health: ['healthy'] } })).length === 3, 'swarm healthy', 120_000, 100);
    const [victim] = await docker.listContainers({ filters: { label } });
    const t0 = performance.now();
    await docker.getContainer(victim!.Id).kill();
    await until(async () => (await docker.listContainers({ filters: { label, health: ['healthy'] } })).length === 3, 'swarm replacement healthy', 120_000, 50);
    return performance.now() - t0;
  } finally {
    await sh('docker', ['service', 'rm', name]).catch(() => undefined);
    await until(async () => (await docker.listContainers({ all: true, filters: { label } })).length === 0, 'swarm cleanup', 120_000, 200);
  }
}


const results: Record<string, string> = {};
const instance = `bench-heal-${process.pid}`;
const state = await fs.mkdtemp(path.join(os.tmpdir(), 'berth-bench-'));
const remote = await makeRemote({ 'web.yaml': web(10, '1') });
const berth = await startBerth(['--repo', remote.url, '--instance', instance, '--interval', '30s', '--state-dir', state], 17_181);
try {
  await until(async () => (await readyIds(berth)).length === 10, '10 ready', 120_000, 50);
  const live: number[] = [];
  for (let i = 0; i < ROUNDS; i++) live.push(await livenessReplace(berth, instance));
  results['berth: liveness failure -> replacement ready (1 s x 3)'] = `${fmtS(median(live))} (goal < 4.00 s)`;
  console.log(results);
  const kill: number[] = [];
  for (let i = 0; i < ROUNDS; i++) kill.push(await killed(berth, instance, i + 1));
  results['berth: replica killed -> running and ready'] = fmtS(median(kill));
  const roll: number[] = [];
  for (let i = 0; i < ROUNDS; i++) roll.push(await berthRollingUpdate(remote, berth, String(i + 2)));
  results['berth: rolling update of 10, readiness-gated, monitor 1 s'] = fmtS(median(roll));
  // Swarm's monitor window watches for failures without holding the next task back; berth's holds the next
  // removal. Without a monitor window both only wait for readiness.
  await berthRollingUpdate(remote, berth, 'm0', '0s');
  const roll0: number[] = [];
  for (let i = 0; i < ROUNDS; i++) roll0.push(await berthRollingUpdate(remote, berth, `n${i}`, '0s'));
  results['berth: rolling update of 10, readiness-gated, monitor 0 s'] = fmtS(median(roll0));
  console.log(results);
} finally {
  await berth.stop();
  const left = await docker.listContainers({ all: true, filters: { label: [`berth.instance=${instance}`] } });
  await Promise.all(left.map((c) => docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined)));
  await remote.close();
  await fs.rm(state, { recursive: true, force: true });
}
await withSwarm(docker, async () => {
  results['swarm: task killed -> replacement healthy'] = fmtS(await swarmKilled());
  results['swarm: rolling update of 10, start-first, health-gated, monitor 1 s'] = fmtS(median(await swarmRollingUpdate()));
});
console.log('\nberth self-healing vs Docker Swarm (same engine, same image, this machine)');
for (const [k, v] of Object.entries(results)) console.log(`  ${k.padEnd(66)} ${v}`);
