/**
 * Benchmark (#18), on the real engine:
 *  1. Ingest: REPLICAS containers print LINES lines each (busybox seq through sed, as fast as the engine takes
 *     them); then `berth run` (its own process) starts on a fresh log store and reads everything from the engines.
 *     Lines/s from its start to the last line stored, and the CPU it used meanwhile (the goal: >= 50,000 lines/s
 *     under 1 core); side by side, `docker logs --timestamps` of the same containers, all at once, to /dev/null.
 *  2. Query: a synthetic store of STORE_MB (default 1024) MiB (20 services x 5 replicas, ~120-byte lines), then the
 *     last 1,000 lines of one service (goal < 100 ms) and a full-text search (goal < 1 s), median of 5.
 *  3. Idle: `berth run` with IDLE (100) sleeping containers, converged: its CPU over 60 s (goal < 2 % of a core).
 * Run: npx tsx bench/logs.ts [ingest] [query] [idle]. Cleans up its containers, repositories and stores.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import Docker from 'dockerode';
import { makeRemote } from '../test/helpers/git.ts';
import { LogStore, storePath, type LogSource, type NewLine } from '../operator/logs/store.ts';
import { median, startBerth, until } from './lib.ts';

const docker = new Docker();
const IMAGE = 'berth-local/busybox:1';
const REPLICAS = Number(process.env.BENCH_REPLICAS ?? 4);
const LINES = Number(process.env.BENCH_LINES ?? 250_000);
const STORE_MB = Number(process.env.BENCH_STORE_MB ?? 1024);
const IDLE = Number(process.env.BENCH_IDLE ?? 100);


const service = (name: string, replicas: number, command: string): string => `apiVersion: berth/v1
kind: Service
metadata: { name: ${name}, namespace: bench }
spec:
  image: ${IMAGE}
  replicas: ${replicas}
  command: [sh, -c, ${JSON.stringify(command)}]
`;

async function cleanup(instance: string): Promise<void> {
  const left = await docker.listContainers({ all: true, filters: { label: [`berth.instance=${instance}`] } });
  await Promise.all(left.map((c) => docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined)));
  const nets = await docker.listNetworks({ filters: { label: [`berth.instance=${instance}`] } });
  await Promise.all(nets.map((n) => docker.getNetwork(n.Id).remove().catch(() => undefined)));
}

function storedLines(file: string): number {
  try {
    const s = LogStore.open(file, { retentionMs: 86_400_000 * 365, maxBytes: 1 << 40 });
    try {
      return s.stats().lines;
    } finally {
      s.close();
    }
  } catch {
    return 0;
  }
}

async function ingest(): Promise<void> {
  const total = REPLICAS * LINES;
  const state = await fs.mkdtemp(path.join(os.tmpdir(), 'berth-bench-logs-'));
  const instance = `bench-logs-${process.pid}`;
  const remote = await makeRemote({ 'print.yaml': service('print', REPLICAS, `seq 1 ${LINES} | sed 's/^/a line of log output, number /'; exec sleep 3600`) });
  const args = ['--repo', remote.url, '--instance', instance, '--interval', '30s', '--state-dir', state];
  try {
    // First run: the containers print everything (into the engine's json-file logs).
    let berth = await startBerth(args, 17_301);
    const ids = await until(async () => {
      const list = await docker.listContainers({ filters: { label: [`berth.instance=${instance}`, 'berth.service=print'], status: ['running'] } });
      return list.length === REPLICAS ? list.map((c) => c.Id) : undefined;
    }, 'the printers running');
    await until(async () => {
      const tops = await Promise.all(ids.map((id) => docker.getContainer(id).top().catch(() => ({ Processes: [] as string[][] }))));
      // Done once the shell exec'd its sleep (the pipeline ended).
      return tops.every((t) => (t.Processes ?? []).some((p: string[]) => p.at(-1) === 'sleep 3600')) || undefined;
    }, 'the printers done', 300_000, 500);
    await berth.stop();
    const file = storePath(state, instance);
    for (const f of [file, `${file}-wal`, `${file}-shm`]) await fs.rm(f, { force: true });

    // docker logs of the same containers, all at once.
    const t0 = performance.now();
    await Promise.all(ids.map((id) => new Promise<void>((resolve, reject) => {
      const child = spawn('docker', ['logs', '--timestamps', id], { stdio: ['ignore', 'ignore', 'ignore'] });
      child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`docker logs exited ${code}`))));
    })));
    const dockerMs = performance.now() - t0;

    // berth on an empty store: reads every line back from the engines.
    const t1 = performance.now();
    berth = await startBerth(args, 17_302);
    const cpu0 = await berth.cpuSeconds();
    const startMs = performance.now() - t1;
    let rss = 0;
    await until(async () => {
      rss = Math.max(rss, await berth.rssBytes());
      return storedLines(file) >= total || undefined;
    }, `${total} lines stored`, 600_000, 250);
    const berthMs = performance.now() - t1 - startMs;
    const cpu = (await berth.cpuSeconds()) - cpu0;
    await berth.stop();
    const size = (await fs.stat(file)).size;
    console.log(`ingest: ${REPLICAS} containers x ${LINES} lines = ${total} lines`);
    console.log(`  berth:       ${Math.round(total / (berthMs / 1000))} lines/s (${(berthMs / 1000).toFixed(1)} s after its start, which took ${(startMs / 1000).toFixed(1)} s), ${(cpu / (berthMs / 1000)).toFixed(2)} cores, peak RSS ${Math.round(rss / 2 ** 20)} MiB, store ${Math.round(size / 2 ** 20)} MiB`);
    console.log(`  docker logs: ${Math.round(total / (dockerMs / 1000))} lines/s (${(dockerMs / 1000).toFixed(1)} s, ${REPLICAS} at once, to /dev/null)`);
  } finally {
    await cleanup(instance);
    await remote.close();
    await fs.rm(state, { recursive: true, force: true });
  }
}

const WORDS = 'alpha beta gamma delta epsilon zeta eta theta iota kappa lambda request response cart checkout user order payment retry timeout connected'.split(' ');

async function query(): Promise<void> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'berth-bench-store-'));
  const store = LogStore.open(path.join(dir, 'logs.db'), { retentionMs: 86_400_000 * 365, maxBytes: 1 << 40 });
  try {
    const sources: LogSource[] = [];
    for (let s = 0; s < 20; s++) for (let r = 1; r <= 5; r++) sources.push({ containerId: `c${s}-${r}`, namespace: 'bench', service: `svc${s}`, kind: 'Service', replica: String(r), container: `berth.bench.svc${s}.${r}`, node: 'local' });
    let ts = Date.parse('2026-12-01T00:00:00Z') * 1000;
    let n = 0;
    let seed = 1;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
    const t0 = performance.now();
    while (store.stats().bytes < STORE_MB * 2 ** 20) {
      const batches = sources.map((source) => {
        const lines: NewLine[] = [];
        for (let i = 0; i < 100; i++) {
          ts += 7;
          n++;
          const words = Array.from({ length: 14 }, () => WORDS[Math.floor(rnd() * WORDS.length)]).join(' ');
          lines.push({ ts, stream: rnd() < 0.1 ? 'stderr' : 'stdout', text: `${new Date(ts / 1000).toISOString()} req=${n} ${words} status=${rnd() < 0.02 ? 500 : 200}` });
        }
        return { source, lines };
      });
      store.appendMany(batches);
    }
    // One rare word to search for, in a few lines near the start.
    store.append(sources[3]!, [{ ts: ts + 1, stream: 'stdout', text: 'xylophone incident 4711 reported' }]);
    const buildS = (performance.now() - t0) / 1000;
    const stats = store.stats();
    console.log(`query: store of ${Math.round(stats.bytes / 2 ** 20)} MiB, ${stats.lines} lines, built in ${buildS.toFixed(0)} s (${Math.round(stats.lines / buildS)} lines/s written with the full-text index)`);
    const time = (fn: () => unknown): number[] => Array.from({ length: 5 }, () => { const t = performance.now(); fn(); return performance.now() - t; });
    const tail = time(() => store.query({ namespace: 'bench', service: 'svc7', tail: 1000 }));
    const search = time(() => store.query({ search: 'xylophone incident', limit: 100 }));
    const common = time(() => store.query({ search: 'checkout timeout', tail: 100 }));
    const grep = time(() => store.query({ namespace: 'bench', service: 'svc7', grep: 'status=500', tail: 100 }));
    const fmt = (xs: number[]) => `${Math.min(...xs).toFixed(1)} / ${median(xs).toFixed(1)} / ${Math.max(...xs).toFixed(1)} ms`;
    console.log(`  last 1,000 lines of one service (of 20):  ${fmt(tail)} (min / median / max of 5)`);
    console.log(`  full-text search, a rare phrase:          ${fmt(search)}`);
    console.log(`  full-text search, two common words, tail 100: ${fmt(common)}`);
    console.log(`  grep status=500 in one service, tail 100: ${fmt(grep)}`);
  } finally {
    store.close();
    await fs.rm(dir, { recursive: true, force: true });
  }
}

async function idle(): Promise<void> {
  const state = await fs.mkdtemp(path.join(os.tmpdir(), 'berth-bench-idle-'));
  const instance = `bench-idle-${process.pid}`;
  const remote = await makeRemote({ 'idle.yaml': service('idle', IDLE, 'echo started; exec sleep 3600') });
  try {
    const berth = await startBerth(['--repo', remote.url, '--instance', instance, '--interval', '30s', '--state-dir', state], 17_303);
    try {
      await until(async () => {
        const s = await berth.status();
        return s.conditions.find((c) => c.type === 'Ready')?.status === 'True' || undefined;
      }, `${IDLE} replicas ready`, 600_000, 1000);
      await new Promise((r) => setTimeout(r, 10_000)); // the start-up's work done
      const c0 = await berth.cpuSeconds();
      await new Promise((r) => setTimeout(r, 60_000));
      const cpu = (await berth.cpuSeconds()) - c0;
      const followed = storedLines(storePath(state, instance));
      console.log(`idle: ${IDLE} containers, each followed (${followed} lines stored): berth used ${(cpu / 60 * 100).toFixed(2)} % of a core over 60 s (interval 30 s, logs on)`);
    } finally {
      await berth.stop();
    }
  } finally {
    await cleanup(instance);
    await remote.close();
    await fs.rm(state, { recursive: true, force: true });
  }
}

const parts = process.argv.slice(2);
const want = (p: string) => parts.length === 0 || parts.includes(p);
if (want('ingest')) await ingest();
if (want('query')) await query();
if (want('idle')) await idle();

