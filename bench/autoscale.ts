/**
 * Benchmark (#16), on the real engine:
 *  1. What reading CPU and memory of 100 replicas costs per sync period (15 s): one-shot stats reads (what berth does)
 *     against one stats stream per container, in the operator's CPU and in the engine's (dockerd + containerd).
 *  2. A load step (idle -> about 5x one replica's capacity) through berth's proxy: the timeline from the load's start
 *     to the metric above its target, the decision, the replicas running and ready.
 *  3. The first request after scale to zero -> its response (readiness probe every 100 ms).
 * Run: npx tsx bench/autoscale.ts. Cleans up its own containers and repositories.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import Docker from 'dockerode';
import { makeRemote } from '../test/helpers/git.ts';
import { createDockerRuntime } from '../operator/runtime/docker.ts';
import { engineCpuMs, median, startBerth, until } from './lib.ts';

const docker = new Docker();
const IMAGE = 'berth-local/busybox:1';
const PERIOD_MS = 15_000;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);

async function statsCost(n: number): Promise<void> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const c = await docker.createContainer({ Image: IMAGE, Cmd: ['sleep', '3600'], Labels: { 'berth.bench.autoscale': String(process.pid) }, HostConfig: { NanoCpus: 1e8 } });
    await c.start();
    ids.push(c.id);
  }
  try {
    const rt = createDockerRuntime(docker);
    await rt.containerStats(ids); // warm the connection pool
    const oneShot: { wall: number; cpu: number; engine: number }[] = [];
    for (let r = 0; r < 5; r++) {
      const cpu0 = process.cpuUsage();
      const e0 = (await engineCpuMs()) ?? 0;
      const t0 = performance.now();
      const got = await rt.containerStats(ids);
      const wall = performance.now() - t0;
      const cpu = process.cpuUsage(cpu0);
      if (Object.keys(got).length !== n) throw new Error(`stats of ${Object.keys(got).length} of ${n} containers`);
      oneShot.push({ wall, cpu: (cpu.user + cpu.system) / 1000, engine: ((await engineCpuMs()) ?? 0) - e0 });
    }
    const m = (k: 'wall' | 'cpu' | 'engine') => median(oneShot.map((x) => x[k]));
    console.log(`stats of ${n} containers, one-shot reads once per ${PERIOD_MS / 1000} s: ${m('wall').toFixed(0)} ms wall, operator CPU ${m('cpu').toFixed(1)} ms (${(m('cpu') / PERIOD_MS * 100).toFixed(2)} % of a core), engine CPU ${m('engine').toFixed(0)} ms (${(m('engine') / PERIOD_MS * 100).toFixed(2)} % of a core)`);
    // One stream per container for one period: the engine samples every second for each of them.
    const cpu0 = process.cpuUsage();
    const e0 = (await engineCpuMs()) ?? 0;
    const streams = await Promise.all(ids.map(async (id) => (await docker.getContainer(id).stats({ stream: true })) as unknown as NodeJS.ReadableStream & { destroy(): void }));
    let frames = 0;
    for (const s of streams) s.on('data', () => { frames++; });
    await new Promise((r) => setTimeout(r, PERIOD_MS));
    for (const s of streams) s.destroy();
    const cpu = process.cpuUsage(cpu0);
    const engine = ((await engineCpuMs()) ?? 0) - e0;
    console.log(`stats of ${n} containers, one stream each for ${PERIOD_MS / 1000} s (${frames} frames): operator CPU ${((cpu.user + cpu.system) / 1000).toFixed(0)} ms (${((cpu.user + cpu.system) / 1000 / PERIOD_MS * 100).toFixed(2)} % of a core), engine CPU ${engine.toFixed(0)} ms (${(engine / PERIOD_MS * 100).toFixed(1)} % of a core)`);
  } finally {
    await Promise.all(ids.map((id) => docker.getContainer(id).remove({ force: true }).catch(() => undefined)));
  }
}

const cgi = (script: string) => JSON.stringify(`#!/bin/sh\nprintf 'Content-Type: text/plain\\r\\n\\r\\n'\n${script}\necho done\n`);
function service(name: string, port: number, script: string, autoscale: string): string {
  return `apiVersion: berth/v1
kind: Service
metadata: { name: ${name}, namespace: bench }
spec:
  image: ${IMAGE}
  command: [sh, -c, "mkdir -p /www && echo ok > /www/index.html && exec httpd -f -p 80 -h /www"]
  files: [{ content: ${cgi(script)}, target: /www/cgi-bin/run, mode: "0755" }]
  ports: [{ port: 80 }]
  resources: { cpu: 0.1, memory: 32Mi }
  health: { readiness: { tcp: { port: 80 }, interval: 100ms, timeout: 100ms } }
  loadBalancer: { publish: { port: ${port}, host: 127.0.0.1 } }
  update: { monitor: 0s }
  autoscale: ${autoscale}
`;
}


async function loadStep(): Promise<void> {
  const state = await fs.mkdtemp(path.join(os.tmpdir(), 'berth-bench-'));
  const instance = `bench-ascale-${process.pid}`;
  const port = 17_300 + (process.pid % 500);
  const zeroPort = port + 1;
  const remote = await makeRemote({
    'burn.yaml': service('burn', port, 'i=0; while [ $i -lt 30000 ]; do i=$((i+1)); done', '{ min: 1, max: 6, metrics: [{ cpu: 50% }], behavior: { scaleDown: { stabilization: 5s } } }'),
    // no spec.files here (copying files into a new container costs the engine more at create): the page is index.html
    'idle.yaml': service('idle', zeroPort, 'true', '{ min: 0, max: 2, metrics: [{ concurrency: 10 }], scaleToZero: { after: 2s } }').replace(/  files: .*\n/, ''),
    'busy.yaml': service('busy', port + 2, 'sleep 1', '{ min: 1, max: 6, metrics: [{ concurrency: 1 }], behavior: { scaleDown: { stabilization: 5s } } }'),
  });
  const berth = await startBerth(['--repo', remote.url, '--instance', instance, '--interval', '2s', '--state-dir', state, '--proxy-host', '127.0.0.1'], 17_182);
  try {
    await until(async () => (await berth.status()).services['bench/burn']?.ready === 1, 'burn ready', 120_000, 100);
    await until(async () => (await berth.status()).services['bench/busy']?.ready === 1, 'busy ready', 120_000, 100);
    for (let round = 0; round < (skipConcurrency ? 0 : ROUNDS); round++) {
      // concurrency 1 per replica, 5 clients each keeping a 1 s request in flight: 5 replicas in one decision
      const t0 = performance.now();
      const marks: Record<string, number> = {};
      let running = true;
      const clients = Array.from({ length: 5 }, async () => {
        while (running) await fetch(`http://127.0.0.1:${port + 2}/cgi-bin/run`).then((r) => r.text()).catch(() => undefined);
      });
      await until(async () => {
        const s = (await berth.status()).services['bench/busy'];
        const at = performance.now() - t0;
        if (marks.decision === undefined && (s?.autoscale?.replicas ?? 1) >= 5) marks.decision = at;
        if (marks.running === undefined && (s?.running ?? 0) >= 5) marks.running = at;
        if (marks.ready === undefined && (s?.ready ?? 0) >= 5) marks.ready = at;
        return marks.ready !== undefined;
      }, 'busy at 5 ready replicas', 120_000, 50);
      running = false;
      await Promise.all(clients);
      console.log(`concurrency load step round ${round + 1} (1 -> 5 replicas): decision ${fmt(marks.decision)}, 5 running ${fmt(marks.running)}, 5 ready ${fmt(marks.ready)} (sync period 15 s)`);
      await until(async () => (await berth.status()).services['bench/busy']?.desired === 1 && (await berth.status()).services['bench/busy']?.ready === 1, 'busy back at 1', 180_000, 200);
    }
    for (let round = 0; round < (skipCpu ? 0 : ROUNDS); round++) {
      // 5 clients in a loop: each replica (0.1 core, ~1 s of CPU time per request) is saturated by about one
      const t0 = performance.now();
      const marks: Record<string, number> = {};
      let running = true;
      const clients = Array.from({ length: 5 }, async () => {
        while (running) await fetch(`http://127.0.0.1:${port}/cgi-bin/run`).then((r) => r.text()).catch(() => undefined);
      });
      await until(async () => {
        const s = (await berth.status()).services['bench/burn'];
        const at = performance.now() - t0;
        const cpu = s?.autoscale?.metrics.find((m) => m.metric === 'cpu')?.value;
        if (marks.metric === undefined && cpu !== null && cpu !== undefined && cpu > 50) marks.metric = at;
        if (marks.decision === undefined && (s?.autoscale?.replicas ?? 1) > 1) marks.decision = at;
        if (marks.running === undefined && (s?.running ?? 0) >= 3) marks.running = at;
        if (marks.ready === undefined && (s?.ready ?? 0) >= 3) marks.ready = at;
        return marks.ready !== undefined;
      }, 'burn at 3 ready replicas', 120_000, 50);
      running = false;
      await Promise.all(clients);
      console.log(`load step round ${round + 1}: cpu above target ${fmt(marks.metric)}, scale decision ${fmt(marks.decision)}, 3 running ${fmt(marks.running)}, 3 ready ${fmt(marks.ready)} (sync period 15 s)`);
      await until(async () => (await berth.status()).services['bench/burn']?.ready === 1 && (await berth.status()).services['bench/burn']?.desired === 1, 'burn back at 1', 180_000, 200);
    }
    const wakes: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      await until(async () => (await berth.status()).services['bench/idle']?.desired === 0 && (await berth.status()).services['bench/idle']?.running === 0, 'idle at zero', 120_000, 100);
      const t0 = performance.now();
      const res = await fetch(`http://127.0.0.1:${zeroPort}/index.html`, { signal: AbortSignal.timeout(30_000) });
      const body = await res.text();
      const ms = performance.now() - t0;
      if (res.status !== 200 || !body.includes('ok')) throw new Error(`woken request answered ${res.status}: ${body.slice(0, 100)}`);
      wakes.push(ms);
    }
    console.log(`first request after scale to zero -> response: ${wakes.map((w) => `${w.toFixed(0)} ms`).join(', ')} (median ${median(wakes).toFixed(0)} ms; goal < 500 ms)`);
    console.log(`operator CPU over the run: ${(await berth.cpuSeconds()).toFixed(1)} s`);
  } finally {
    await berth.stop();
    await remote.close();
    const left = await docker.listContainers({ all: true, filters: { label: [`berth.instance=${instance}`] } });
    await Promise.all(left.map((c) => docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined)));
    await fs.rm(state, { recursive: true, force: true });
  }
}

const fmt = (ms: number | undefined): string => (ms === undefined ? 'n/a' : `${(ms / 1000).toFixed(2)} s`);

const only = process.argv[2];
const skipCpu = process.argv.includes('--no-cpu-step');
const skipConcurrency = process.argv.includes('--no-concurrency-step');
if (!only || only === 'stats') await statsCost(100);
if (!only || only === 'load') await loadStep();
