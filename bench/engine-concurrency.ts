/**
 * How many container creates and starts in flight this engine takes best (bench for #20: the apply's concurrency is
 * chosen by measurement). N containers like berth's (a user-defined bridge network, an init, labels) are created and
 * started with K in flight, K = 1, 2, 4, 8, 16, 32, each way: create+start per slot (what berth does), and all creates
 * first then starts K at a time. Prints min / median / max of BENCH_ROUNDS (3) per setting. Cleans up what it made.
 */
import Docker from 'dockerode';
import { fmtS, median } from './lib.ts';

const docker = new Docker();
const IMAGE = 'berth-local/busybox:1';
const N = Number(process.env.BENCH_N ?? 30);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const NETWORK = `berth-bench-conc-${process.pid}`;
const LABEL = { 'berth-bench.concurrency': String(process.pid) };

function options(i: number): Docker.ContainerCreateOptions {
  return {
    name: `berth-bench-conc-${process.pid}-${i}`, Image: IMAGE, Cmd: ['sleep', '3600'], Labels: { ...LABEL, 'berth.replica': String(i) },
    HostConfig: { Init: true, NetworkMode: NETWORK, RestartPolicy: { Name: 'no' }, LogConfig: { Type: 'json-file', Config: { 'max-size': '10m', 'max-file': '3' } } },
  };
}

async function pool<T>(k: number, items: T[], fn: (x: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(k, items.length) }, async () => {
    while (next < items.length) await fn(items[next++]!);
  }));
}

async function cleanup(): Promise<void> {
  const list = await docker.listContainers({ all: true, filters: { label: [`berth-bench.concurrency=${process.pid}`] } });
  await Promise.all(list.map((c) => docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined)));
}

async function perSlot(k: number): Promise<number> {
  const t0 = performance.now();
  await pool(k, [...Array(N).keys()], async (i) => { const c = await docker.createContainer(options(i)); await c.start(); });
  const ms = performance.now() - t0;
  await cleanup();
  return ms;
}

async function createsFirst(k: number): Promise<number> {
  const t0 = performance.now();
  const made: Docker.Container[] = [];
  await pool(k, [...Array(N).keys()], async (i) => { made.push(await docker.createContainer(options(i))); });
  await pool(k, made, async (c) => { await c.start(); });
  const ms = performance.now() - t0;
  await cleanup();
  return ms;
}

await docker.createNetwork({ Name: NETWORK, Labels: LABEL });
try {
  console.log(`${N} containers like berth's (network, init), min / median / max of ${ROUNDS}:`);
  for (const k of [1, 2, 4, 8, 16, 32]) {
    for (const [name, fn] of [['create+start per slot', perSlot], ['creates first, then starts', createsFirst]] as const) {
      const t: number[] = [];
      for (let r = 0; r < ROUNDS; r++) t.push(await fn(k));
      console.log(`  ${String(k).padStart(2)} in flight, ${name.padEnd(27)} ${fmtS(Math.min(...t))} / ${fmtS(median(t))} / ${fmtS(Math.max(...t))}`);
    }
  }
} finally {
  await cleanup();
  await docker.getNetwork(NETWORK).remove().catch(() => undefined);
}
