/**
 * The core loop side by side with Docker Swarm on the same engine and image:
 *  - commit pushed (webhook) -> all N replicas running, N = 10 and 30
 *  - one managed container removed by hand -> replaced and running
 *  - CPU per poll cycle with no change, repository of 200 services
 *  - process start -> 100 replicas running, beside the engine floor for the same 100 containers
 *  - RSS of the berth process with 100 managed containers
 * Run: npm run bench (or npx tsx bench/core-loop.ts). Cleans up its own containers, services and repositories.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import Docker from 'dockerode';
import { makeRemote, type Remote } from '../test/helpers/git.ts';
import { createAndStart, floorLike, withSwarm, fmtS, median, metric, runningCount, startBerth, until, type BerthProcess } from './lib.ts';

const sh = promisify(execFile);
const docker = new Docker();
const IMAGE = 'berth-local/busybox:1';
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const stateDirs: string[] = [];

async function stateDir(): Promise<string> {
  const d = await fs.mkdtemp(path.join(os.tmpdir(), 'berth-bench-'));
  stateDirs.push(d);
  return d;
}

function service(name: string, replicas: number): string {
  return `apiVersion: berth/v1\nkind: Service\nmetadata: { name: ${name}, namespace: bench }\nspec:\n  image: ${IMAGE}\n  command: [sleep, "3600"]\n  replicas: ${replicas}\n`;
}

async function push(remote: Remote, berth: BerthProcess, files: Record<string, string>): Promise<number> {
  await remote.commit(files, 'bench');
  const t0 = performance.now();
  await fetch(`${berth.url}/hooks/git`, { method: 'POST', body: '{}', headers: berth.auth });
  return t0;
}

async function berthConverge(remote: Remote, berth: BerthProcess, instance: string, n: number): Promise<number> {
  const labels = [`berth.instance=${instance}`];
  const t0 = await push(remote, berth, { 'svc.yaml': service('web', n) });
  await until(async () => (await runningCount(docker, labels)) === n, `${n} berth replicas`);
  const ms = performance.now() - t0;
  await push(remote, berth, { 'svc.yaml': service('web', 0) });
  await until(async () => (await docker.listContainers({ all: true, filters: { label: labels } })).length === 0, 'berth scale to 0');
  return ms;
}

async function berthReplace(instance: string, n: number): Promise<number> {
  const labels = [`berth.instance=${instance}`];
  const [victim] = await docker.listContainers({ filters: { label: labels } });
  const t0 = performance.now();
  await docker.getContainer(victim!.Id).remove({ force: true });
  await until(async () => (await runningCount(docker, labels)) === n, 'berth replacement');
  return performance.now() - t0;
}

async function swarmConverge(n: number): Promise<number> {
  const name = `berth-bench-${n}`;
  const t0 = performance.now();
  await sh('docker', ['service', 'create', '--detach', '--no-resolve-image', '--name', name, '--replicas', String(n), IMAGE, 'sleep', '3600']);
  await until(async () => (await runningCount(docker, [`com.docker.swarm.service.name=${name}`])) === n, `${n} swarm replicas`);
  return performance.now() - t0;
}

async function swarmReplace(n: number): Promise<number> {
  const label = [`com.docker.swarm.service.name=berth-bench-${n}`];
  const [victim] = await docker.listContainers({ filters: { label } });
  const t0 = performance.now();
  await docker.getContainer(victim!.Id).remove({ force: true });
  await until(async () => (await runningCount(docker, label)) === n, 'swarm replacement', 60_000);
  return performance.now() - t0;
}

async function swarmRemove(n: number): Promise<void> {
  await sh('docker', ['service', 'rm', `berth-bench-${n}`]).catch(() => undefined);
  await until(async () => (await docker.listContainers({ all: true, filters: { label: [`com.docker.swarm.service.name=berth-bench-${n}`] } })).length === 0, 'swarm cleanup');
}


async function cleanup(instance: string): Promise<void> {
  const list = await docker.listContainers({ all: true, filters: { label: [`berth.instance=${instance}`] } });
  await Promise.all(list.map((c) => docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined)));
  // and its namespace networks: an engine has room for about 30 (its default address pools)
  const networks = await docker.listNetworks({ filters: { label: [`berth.instance=${instance}`] } });
  await Promise.all(networks.map((n) => docker.getNetwork(n.Id).remove().catch(() => undefined)));
}

/** The engine's own floor: plain containers (default bridge), no berth, no Swarm. */
function engineFloor(n: number): Promise<number> {
  return createAndStart(docker, n, (i) => ({ name: `berth-bench-floor-${process.pid}-${i}`, Image: IMAGE, Cmd: ['sleep', '3600'], HostConfig: { Init: true } }));
}

/** The timeline of the pass that created the replicas, from berth's debug log (reconciler/timeline.ts). */
const timelines: string[] = [];

async function convergeAndReplace(results: Record<string, string>): Promise<void> {
  for (const n of [10, 30]) {
    const f: number[] = [];
    for (let i = 0; i < ROUNDS; i++) f.push(await engineFloor(n));
    results[`engine floor: ${n} create+start, 8 in flight`] = fmtS(median(f));
  }
  const instance = `bench-${process.pid}`;
  const remote = await makeRemote({ 'svc.yaml': service('web', 0) });
  const passes: string[] = [];
  const berth = await startBerth(['--repo', remote.url, '--instance', instance, '--interval', '30s', '--state-dir', await stateDir()], 17_171, {
    onLog: (e) => {
      if (e.msg === 'pass timeline') passes.push(String(e.ms));
      if (process.env.BENCH_PASSES && e.msg === 'pass done') console.error(`bench: pass done ${e.trigger} ${e.ms} ms`);
      if (process.env.BENCH_PASSES && e.msg === 'pass timeline') console.error(`bench: timeline ${e.trigger}: ${e.ms}`);
    },
  });
  try {
    for (const n of [10, 30]) {
      const b: number[] = [];
      for (let i = 0; i < ROUNDS; i++) {
        passes.length = 0;
        b.push(await berthConverge(remote, berth, instance, n));
        const creating = passes.find((t) => t.includes(`(x${n})`)) ?? passes[0];
        if (i === ROUNDS - 1 && creating) timelines.push(`${n} replicas, round ${i + 1}: ${creating}`);
      }
      results[`berth: push -> ${n} running`] = fmtS(median(b));
    }
    // The same containers as berth's, by dockerd alone: berth's share is the difference.
    await push(remote, berth, { 'svc.yaml': service('web', 1) });
    await until(async () => (await runningCount(docker, [`berth.instance=${instance}`])) === 1, '1 running');
    const [one] = await docker.listContainers({ filters: { label: [`berth.instance=${instance}`] } });
    const template = await docker.getContainer(one!.Id).inspect();
    for (const n of [10, 30]) {
      const f: number[] = [];
      for (let i = 0; i < ROUNDS; i++) f.push(await floorLike(docker, n, template));
      results[`engine floor: ${n} of berth's containers, 8 in flight`] = fmtS(median(f));
    }
    await push(remote, berth, { 'svc.yaml': service('web', 10) });
    await until(async () => (await runningCount(docker, [`berth.instance=${instance}`])) === 10, '10 running');
    const r: number[] = [];
    for (let i = 0; i < 5; i++) r.push(await berthReplace(instance, 10));
    results['berth: removed by hand -> replaced'] = fmtS(median(r));
  } finally {
    await berth.stop();
    await cleanup(instance);
    await remote.close();
  }
  if (process.env.BENCH_SWARM !== '0') await withSwarm(docker, async () => {
    for (const n of [10, 30]) {
      const s: number[] = [];
      for (let i = 0; i < ROUNDS; i++) {
        s.push(await swarmConverge(n));
        if (n === 10 && i === ROUNDS - 1) results['swarm: removed by hand -> replaced'] = fmtS(await swarmReplace(10));
        await swarmRemove(n);
      }
      results[`swarm: service create -> ${n} running`] = fmtS(median(s));
    }
  });
}

async function idleCost(results: Record<string, string>): Promise<void> {
  const instance = `bench-idle-${process.pid}`;
  const files: Record<string, string> = {};
  for (let i = 0; i < 200; i++) files[`services/svc-${i}.yaml`] = service(`svc-${i}`, 0);
  const remote = await makeRemote(files);
  const berth = await startBerth(['--repo', remote.url, '--instance', instance, '--interval', '200ms', '--state-dir', await stateDir()], 17_172);
  try {
    await until(async () => (await metric(berth.url, 'berth_pass_duration_seconds_count', berth.auth)) > 5, 'first passes');
    const [c0, p0, d0] = [await berth.cpuSeconds(), await metric(berth.url, 'berth_pass_duration_seconds_count', berth.auth), await metric(berth.url, 'berth_pass_duration_seconds_sum', berth.auth)];
    await new Promise((r) => setTimeout(r, 10_000));
    const [c1, p1, d1] = [await berth.cpuSeconds(), await metric(berth.url, 'berth_pass_duration_seconds_count', berth.auth), await metric(berth.url, 'berth_pass_duration_seconds_sum', berth.auth)];
    results['berth: CPU per poll, no change, 200 services'] = `${(((c1 - c0) / (p1 - p0)) * 1000).toFixed(1)} ms (${p1 - p0} polls; wall ${(((d1 - d0) / (p1 - p0)) * 1000).toFixed(1)} ms each)`;
  } finally {
    await berth.stop();
    await cleanup(instance);
    await remote.close();
  }
}

async function rss(results: Record<string, string>): Promise<void> {
  const instance = `bench-rss-${process.pid}`;
  const files: Record<string, string> = {};
  for (let i = 0; i < 20; i++) files[`svc-${i}.yaml`] = service(`svc-${i}`, 5);
  const remote = await makeRemote(files);
  const t0 = performance.now();
  const berth = await startBerth(['--repo', remote.url, '--instance', instance, '--interval', '5s', '--state-dir', await stateDir()], 17_173, {
    onLog: (e) => { if (process.env.BENCH_PASSES && (e.level !== 'debug' || process.env.BENCH_PASSES === 'debug') || e.msg === 'pass timeline') console.error(`bench: +${Math.round(performance.now() - t0)} ms ${e.msg} ${e.msg === 'pass timeline' ? e.ms : ''}`); },
  });
  let stopped = false;
  try {
    await until(async () => (await runningCount(docker, [`berth.instance=${instance}`])) === 100, '100 running', 300_000, 100);
    results['berth: process start -> 100 replicas running (20 services)'] = fmtS(performance.now() - t0);
    await new Promise((r) => setTimeout(r, 12_000));
    results['berth: RSS with 100 managed containers'] = `${((await berth.rssBytes()) / 1024 / 1024).toFixed(0)} MB`;
    // The floor for the same 100: berth stopped, its containers removed, its network kept for the copies.
    const [one] = await docker.listContainers({ filters: { label: [`berth.instance=${instance}`] } });
    const template = await docker.getContainer(one!.Id).inspect();
    await berth.stop();
    stopped = true;
    const mine = await docker.listContainers({ all: true, filters: { label: [`berth.instance=${instance}`] } });
    await Promise.all(mine.map((c) => docker.getContainer(c.Id).remove({ force: true })));
    results["engine floor: 100 of berth's containers, 8 in flight"] = fmtS(await floorLike(docker, 100, template));
  } finally {
    if (!stopped) await berth.stop();
    await cleanup(instance);
    await remote.close();
  }
}

/** Each figure printed as soon as it is measured (a later failure keeps what came before) and again at the end. */
const results = new Proxy<Record<string, string>>({}, {
  set(target, key, value: string) {
    target[key as string] = value;
    console.error(`bench: ${String(key)}: ${value}`);
    return true;
  },
});
const only = process.env.BENCH_ONLY; // converge | idle | rss: one part (while working on it)
if (!only || only === 'converge') await convergeAndReplace(results);
if (!only || only === 'idle') await idleCost(results);
if (!only || only === 'rss') await rss(results);
await Promise.all(stateDirs.map((d) => fs.rm(d, { recursive: true, force: true })));
console.log('\nberth core loop vs Docker Swarm (same engine, same image, this machine)');
for (const [k, v] of Object.entries(results)) console.log(`  ${k.padEnd(52)} ${v}`);
console.log('\nberth pass timelines (ms since the webhook; repeated marks: first..last):');
for (const t of timelines) console.log(`  ${t}`);
