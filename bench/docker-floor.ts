/**
 * The Docker engine floor, measured through berth's adapter: create+start of 1, 20 sequential, 20 with 5 and 10 in
 * flight, and observe() of 100 containers cold (no subscription) vs warm (subscription up, nothing changed).
 * Run: npx tsx bench/docker-floor.ts. Everything it creates carries berth.instance=<a unique instance> and is removed.
 */
import { pathToFileURL } from 'node:url';
import type Dockerode from 'dockerode';
import { createDockerRuntime } from '../operator/runtime/docker.ts';
import { mapLimit } from '../operator/runtime/docker-observe.ts';
import type { ContainerRuntime, RuntimeEvent } from '../operator/runtime/runtime.ts';
import { engineCpuMs } from './lib.ts';
import { cleanupInstance, INSPECT_CONTAINER, LIST_CONTAINERS, logRequests, testDocker, TEST_IMAGE, uniqueInstance, waitFor } from '../test/helpers/docker.ts';

/** One measured step. */
export interface FloorResult {
  name: string;
  /** Wall-clock milliseconds. */
  ms: number;
  /** CPU milliseconds of this process (user + system). */
  cpuMs: number;
  /** CPU milliseconds of dockerd + containerd, when /proc shows them. */
  engineCpuMs?: number;
  note?: string;
}



/** Runs `fn` and measures wall time, this process's CPU and the engine's CPU. */
async function measure(name: string, fn: () => Promise<string | void>): Promise<FloorResult> {
  const [cpu0, engine0, t0] = [process.cpuUsage(), await engineCpuMs(), performance.now()];
  const note = await fn();
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const engine1 = await engineCpuMs();
  const engineCpu = engine0 !== undefined && engine1 !== undefined ? { engineCpuMs: engine1 - engine0 } : {};
  return { name, ms: Math.round(ms), cpuMs: Math.round((cpu.user + cpu.system) / 1000), ...engineCpu, ...(note ? { note } : {}) };
}

function starter(runtime: ContainerRuntime, instance: string): (n: number) => Promise<string> {
  return async (n) => {
    const id = await runtime.createContainer({
      name: `${instance}.c${n}`, image: TEST_IMAGE, command: ['sleep', '3600'], env: { N: String(n) }, exposedPorts: [],
      labels: { 'berth.managed': 'true', 'berth.instance': instance, 'berth.replica': String(n) }, restartPolicy: 'no', mounts: [],
    });
    await runtime.startContainer(id);
    return id;
  };
}

async function startMany(runtime: ContainerRuntime, instance: string, from: number, count: number, inFlight: number): Promise<string[]> {
  const start = starter(runtime, instance);
  return mapLimit(Array.from({ length: count }, (_, i) => from + i), inFlight, start);
}

async function observeCosts(runtime: ContainerRuntime, docker: Dockerode, instance: string, label: string): Promise<FloorResult> {
  const log = logRequests(docker);
  const runs: number[] = [];
  const result = await measure(label, async () => {
    for (let i = 0; i < 5; i++) {
      const t0 = performance.now();
      const state = await runtime.observe(instance, [TEST_IMAGE]);
      runs.push(performance.now() - t0);
      if (state.containers.length !== 100) throw new Error(`observed ${state.containers.length} containers, expected 100`);
    }
    return undefined;
  });
  runs.sort((a, b) => a - b);
  const perCall = `median ${runs[2]!.toFixed(1)} ms per observe; ${log.count(LIST_CONTAINERS) / 5} list + ${log.count(INSPECT_CONTAINER) / 5} inspects per observe`;
  return { ...result, note: `5 calls; ${perCall}` };
}

/** Runs every step and removes what it created; returns the results in order. */
export async function runDockerFloor(): Promise<FloorResult[]> {
  const docker = testDocker();
  const runtime = createDockerRuntime(docker);
  const instance = uniqueInstance('floor');
  const results: FloorResult[] = [];
  const reset = () => cleanupInstance(docker, instance);
  try {
    await runtime.ping();
    await startMany(runtime, instance, 900, 1, 1); // warm the engine's image and layer caches
    await reset();
    results.push(await measure('create+start 1 container', async () => void (await startMany(runtime, instance, 0, 1, 1))));
    await reset();
    for (const inFlight of [1, 5, 10]) {
      const name = inFlight === 1 ? 'create+start 20 sequentially' : `create+start 20, ${inFlight} in flight`;
      results.push(await measure(name, async () => void (await startMany(runtime, instance, 0, 20, inFlight))));
      await reset();
    }
    results.push(await measure('create+start 100, 10 in flight (setup of observe)', async () => void (await startMany(runtime, instance, 0, 100, 10))));
    results.push(await observeCosts(runtime, docker, instance, 'observe() x5 of 100 containers, cold (no subscription)'));
    results.push(await warmObserve(docker, instance));
  } finally {
    await reset();
  }
  return results;
}

async function warmObserve(docker: Dockerode, instance: string): Promise<FloorResult> {
  const runtime = createDockerRuntime(docker);
  const events: RuntimeEvent[] = [];
  const off = runtime.subscribe(instance, (e) => events.push(e));
  try {
    const [one] = (await runtime.observe(instance, [])).containers;
    if (!one) throw new Error('no container to poke');
    await waitFor(async () => {
      const before = events.length;
      await docker.getContainer(one.id).update({ RestartPolicy: { Name: 'no', MaximumRetryCount: 0 } });
      return waitFor(() => events.length > before, { timeoutMs: 1_000, intervalMs: 10 }).then(() => true, () => false);
    }, { what: 'event subscription up', intervalMs: 0 });
    await runtime.observe(instance, [TEST_IMAGE]); // fills the cache
    return await observeCosts(runtime, docker, instance, 'observe() x5 of 100 containers, warm (subscribed, no change)');
  } finally {
    off();
  }
}

function print(results: FloorResult[]): void {
  for (const r of results) {
    const engine = r.engineCpuMs === undefined ? '' : `  engine CPU ${Math.round(r.engineCpuMs)} ms`;
    console.log(`${r.name.padEnd(60)} ${String(r.ms).padStart(6)} ms  CPU ${String(r.cpuMs).padStart(5)} ms${engine}${r.note ? `  (${r.note})` : ''}`);
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  runDockerFloor().then(print, (err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
}
