/**
 * berth on Docker and on Podman, side by side in one run, same image, same machine:
 *  - each engine's floor: 10 copies of berth's own container (its host config and network), create+start, 8 in flight
 *  - berth run --docker <engine>: commit pushed (webhook) -> 10 replicas running
 *  - a replica removed by hand -> replaced
 * Goal (#21): berth adds no more over Podman's floor than over Docker's. Medians of BENCH_ROUNDS (default 3).
 * Run: npx tsx bench/engines.ts. Starts Podman's service with scripts/podman.sh if it is not running (and leaves it);
 * removes its own containers, networks and repositories.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import Docker from 'dockerode';
import { makeRemote, type Remote } from '../test/helpers/git.ts';
import { loadImage } from '../test/helpers/engines.ts';
import { PODMAN_SOCKET } from '../test/helpers/docker.ts';
import { floorLike, fmtS, median, ROOT, runningCount, startBerth, until, type BerthProcess } from './lib.ts';

const IMAGE = 'berth-local/busybox:1';
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
/** The timeline of the pass that created the 10 replicas (last round), per engine. */
const timelines: string[] = [];
const ENGINES = [
  { name: 'docker', socket: '/var/run/docker.sock' },
  { name: 'podman', socket: PODMAN_SOCKET },
] as const;

function service(replicas: number): string {
  return `apiVersion: berth/v1\nkind: Service\nmetadata: { name: web, namespace: bench }\nspec:\n  image: ${IMAGE}\n  command: [sleep, "3600"]\n  replicas: ${replicas}\n`;
}

async function push(remote: Remote, berth: BerthProcess, replicas: number): Promise<number> {
  await remote.commit({ 'svc.yaml': service(replicas) }, 'bench');
  const t0 = performance.now();
  await fetch(`${berth.url}/hooks/git`, { method: 'POST', body: '{}', headers: berth.auth });
  return t0;
}

async function cleanup(engine: Docker, instance: string): Promise<void> {
  const filters = { label: [`berth.instance=${instance}`] };
  const list = await engine.listContainers({ all: true, filters });
  await Promise.all(list.map((c) => engine.getContainer(c.Id).remove({ force: true }).catch(() => undefined)));
  const networks = await engine.listNetworks({ filters });
  await Promise.all(networks.map((n) => engine.getNetwork(n.Id).remove().catch(() => undefined)));
}

async function onEngine(name: string, socket: string, port: number, results: Record<string, string>): Promise<void> {
  const engine = new Docker({ socketPath: socket });
  const instance = `bench-eng-${name}-${process.pid}`;
  const labels = [`berth.instance=${instance}`];
  const remote = await makeRemote({ 'svc.yaml': service(0) });
  const stateDir = await fs.mkdtemp(path.join(os.tmpdir(), 'berth-bench-engines-'));
  const passes: string[] = [];
  const berth = await startBerth(['--repo', remote.url, '--instance', instance, '--docker', `unix://${socket}`, '--interval', '30s', '--state-dir', stateDir], port, {
    onLog: (e) => {
      if (e.msg === 'pass timeline') passes.push(String(e.ms));
      if (process.env.BENCH_PASSES && (e.msg === 'pass timeline' || e.msg === 'pass done')) console.error(`bench: ${name} ${e.msg} ${e.trigger ?? ''} ${e.ms}`);
    },
  });
  try {
    const converge: number[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      passes.length = 0;
      const t0 = await push(remote, berth, 10);
      await until(async () => (await runningCount(engine, labels)) === 10, `10 replicas on ${name}`);
      converge.push(performance.now() - t0);
      await push(remote, berth, 0);
      await until(async () => (await engine.listContainers({ all: true, filters: { label: labels } })).length === 0, `scale to 0 on ${name}`);
      const creating = passes.find((t) => t.includes('(x10)')); // logged when that pass ended
      if (i === ROUNDS - 1 && creating) timelines.push(`${name}, round ${i + 1}: ${creating}`);
    }
    await push(remote, berth, 1);
    await until(async () => (await runningCount(engine, labels)) === 1, `1 replica on ${name}`);
    const [one] = await engine.listContainers({ filters: { label: labels } });
    const template = await engine.getContainer(one!.Id).inspect();
    const floor: number[] = [];
    for (let i = 0; i < ROUNDS; i++) floor.push(await floorLike(engine, 10, template));
    await push(remote, berth, 10);
    await until(async () => (await runningCount(engine, labels)) === 10, `10 replicas on ${name}`);
    const replace: number[] = [];
    for (let i = 0; i < 5; i++) {
      const [victim] = await engine.listContainers({ filters: { label: labels } });
      const t0 = performance.now();
      await engine.getContainer(victim!.Id).remove({ force: true });
      await until(async () => (await runningCount(engine, labels)) === 10, `replacement on ${name}`);
      replace.push(performance.now() - t0);
    }
    const [b, f] = [median(converge), median(floor)];
    results[`${name}: floor, 10 of berth's containers, 8 in flight`] = fmtS(f);
    results[`${name}: berth push -> 10 running`] = `${fmtS(b)} (floor + ${((b - f) / 1000).toFixed(2)} s)`;
    results[`${name}: removed by hand -> replaced`] = fmtS(median(replace));
  } finally {
    await berth.stop();
    await cleanup(engine, instance);
    await remote.close();
    await fs.rm(stateDir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  await promisify(execFile)('bash', [path.join(ROOT, 'scripts/podman.sh'), 'start'], { timeout: 60_000 });
  await loadImage(new Docker({ socketPath: PODMAN_SOCKET }), IMAGE);
  const results: Record<string, string> = {};
  let port = 17_181;
  for (const e of ENGINES) {
    await onEngine(e.name, e.socket, port++, results);
    console.error(`bench: ${e.name} done`);
  }
  const w = Math.max(...Object.keys(results).map((k) => k.length)) + 2;
  console.log(`\nberth on Docker and on Podman (same image, this machine; medians of ${ROUNDS} rounds, 5 replacements)`);
  for (const [k, v] of Object.entries(results)) console.log(`  ${k.padEnd(w)} ${v}`);
  console.log('\nberth pass timelines (ms since the webhook; repeated marks: first..last):');
  for (const t of timelines) console.log(`  ${t}`);
}

await main();
