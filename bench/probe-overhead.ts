/**
 * Operator-side cost of health probes: N busybox httpd containers probed through runProbe at a fixed total rate
 * (default 20 containers x 5 probes/s = 100 replica-probes per second for 20 s), for http (shared keep-alive agents),
 * tcp, and (at a lower rate) exec through the engine. Reports this process's CPU as % of one core, latency mean/p50/p99,
 * and for exec the engine's CPU too. Goal: http/tcp under 5 % of one core per 100 replica-probes per second.
 * Run: npx tsx bench/probe-overhead.ts [--containers 20] [--rate 100] [--seconds 20]
 * Everything it creates carries berth.instance=<a unique instance> and is removed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import type Dockerode from 'dockerode';
import type { ProbeSpec } from '../operator/model/manifest.ts';
import { createProbeAgents, runProbe, type ProbeDeps, type ProbeTarget } from '../operator/health/probes.ts';
import { mapLimit } from '../operator/runtime/docker-observe.ts';
import { createDockerRuntime } from '../operator/runtime/docker.ts';
import { engineCpuMs } from './lib.ts';
import { cleanupInstance, testDocker, TEST_IMAGE, uniqueInstance, waitFor } from '../test/helpers/docker.ts';

/** One measured phase. */
export interface ProbePhaseResult {
  name: string;
  probes: number;
  failures: number;
  /** Achieved probes per second. */
  rate: number;
  /** This process's CPU (user + system) over the phase, as % of one core. */
  cpuPercent: number;
  /** The system (kernel) part of cpuPercent: connection setup over the bridge is mostly kernel time. */
  sysPercent: number;
  /** dockerd + containerd CPU over the phase, as % of one core (when /proc shows them). */
  engineCpuPercent?: number;
  meanMs: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

interface Options {
  containers: number;
  rate: number;
  seconds: number;
}

const HTTPD = 'mkdir -p /www && echo ok > /www/index.html && exec httpd -f -p 8080 -h /www';
/** busybox httpd closes every connection; this Node server (its own process, not measured) keeps them alive. */
const KEEP_ALIVE_SERVER = `const s = require('node:http').createServer({ keepAliveTimeout: 30000 }, (q, r) => r.end('ok'));
s.listen(0, '127.0.0.1', () => console.log(s.address().port));`;

/** Starts the keep-alive server; resolves its process and port. */
async function keepAliveServer(): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, ['-e', KEEP_ALIVE_SERVER], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout?.once('data', (d: Buffer) => resolve(Number(String(d).trim())));
    child.once('exit', (code) => reject(new Error(`keep-alive server exited with ${code}`)));
  });
  return { child, port };
}

function spec(over: Partial<ProbeSpec>): ProbeSpec {
  return { intervalMs: 1000, timeoutMs: 1000, initialDelayMs: 0, failureThreshold: 3, successThreshold: 1, ...over };
}


function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
}

/** How one phase fires its probes. */
interface Load {
  /** Probes per second, round-robin over the targets. */
  rate: number;
  seconds: number;
  /** Probes due within one tick fire together (one timer wake-up); 1000/rate spreads them evenly. */
  tickMs: number;
}

/**
 * Fires `load.rate` probes per second (none for a baseline) round-robin over `targets` without awaiting them, grouped in
 * ticks of `load.tickMs`, for `load.seconds`; then waits for the last one.
 */
async function phase(name: string, probe: ProbeSpec | undefined, targets: ProbeTarget[], deps: ProbeDeps, load: Load): Promise<ProbePhaseResult> {
  const { rate, seconds, tickMs } = load;
  const latencies: number[] = [];
  let failures = 0;
  const inFlight = new Set<Promise<void>>();
  const [engine0, cpu0, t0] = [await engineCpuMs(), process.cpuUsage(), performance.now()];
  const total = Math.round(rate * seconds);
  for (let i = 0; i < total; i++) {
    const due = t0 + Math.ceil((i * 1000) / rate / tickMs) * tickMs;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
    const target = targets[i % targets.length] as ProbeTarget;
    const outcome = probe ? runProbe(probe, target, deps) : Promise.resolve({ ok: true, message: 'no-op', ms: 0 });
    const run = outcome.then((o) => {
      latencies.push(o.ms);
      if (!o.ok) failures += 1;
    });
    inFlight.add(run);
    void run.finally(() => inFlight.delete(run));
  }
  await Promise.all(inFlight);
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const engine1 = await engineCpuMs();
  const sorted = [...latencies].sort((a, b) => a - b);
  const engine = engine0 !== undefined && engine1 !== undefined ? { engineCpuPercent: ((engine1 - engine0) / wallMs) * 100 } : {};
  return {
    name, probes: latencies.length, failures, rate: latencies.length / (wallMs / 1000),
    cpuPercent: ((cpu.user + cpu.system) / 1000 / wallMs) * 100, sysPercent: (cpu.system / 1000 / wallMs) * 100, ...engine,
    meanMs: sorted.reduce((a, b) => a + b, 0) / Math.max(1, sorted.length),
    p50Ms: percentile(sorted, 50), p99Ms: percentile(sorted, 99), maxMs: sorted.at(-1) ?? NaN,
  };
}

async function startReplicas(docker: Dockerode, instance: string, count: number): Promise<string[]> {
  return mapLimit(Array.from({ length: count }, (_, i) => i), 5, async (i) => {
    const c = await docker.createContainer({
      name: `${instance}.web${i}`, Image: TEST_IMAGE, Cmd: ['sh', '-c', HTTPD],
      Labels: { 'berth.managed': 'true', 'berth.instance': instance, 'berth.replica': String(i) },
      HostConfig: { Init: true, RestartPolicy: { Name: 'no', MaximumRetryCount: 0 } },
    });
    await c.start();
    return c.id;
  });
}

/** Starts the replicas, runs the phases, removes everything. */
export async function runProbeOverhead(opts: Options): Promise<ProbePhaseResult[]> {
  const docker = testDocker();
  const runtime = createDockerRuntime(docker);
  const instance = uniqueInstance('probe-bench');
  const agents = createProbeAgents();
  const deps: ProbeDeps = { runtime, scriptDir: '/tmp', agents };
  const server = await keepAliveServer();
  try {
    await startReplicas(docker, instance, opts.containers);
    const targets: ProbeTarget[] = (await runtime.observe(instance, [])).containers.map((c) => ({
      containerId: c.id, name: c.name, ...(c.address ? { address: c.address } : {}), readFile: async () => Buffer.alloc(0),
    }));
    const tcp = spec({ tcp: { port: 8080 } });
    const http = spec({ http: { path: '/', port: 8080, scheme: 'http', headers: {} } });
    for (const t of targets) await waitFor(async () => (await runProbe(http, t, deps)).ok, { what: `httpd in ${t.name}` });
    const spread: Load = { rate: opts.rate, seconds: opts.seconds, tickMs: 1000 / opts.rate };
    const ticked: Load = { ...spread, tickMs: 100 };
    await phase('warm-up', http, targets, deps, { ...spread, seconds: 2 });
    const results: ProbePhaseResult[] = [];
    for (const [label, load] of [['spread evenly', spread], ['in 100 ms ticks', ticked]] as const) {
      results.push(await phase(`baseline: schedule loop, no probe, ${label}`, undefined, targets, deps, load));
      results.push(await phase(`http GET /, ${label}`, http, targets, deps, load));
      results.push(await phase(`tcp connect, ${label}`, tcp, targets, deps, load));
    }
    const local: ProbeTarget[] = [{ containerId: 'local', name: 'local', address: '127.0.0.1', readFile: async () => Buffer.alloc(0) }];
    const keepAlive = spec({ http: { path: '/', port: server.port, scheme: 'http', headers: {} } });
    results.push(await phase('http GET /, keep-alive server, in 100 ms ticks', keepAlive, local, deps, ticked));
    results.push(await phase('exec true via engine, 10/s for 10 s', spec({ exec: { command: ['true'] } }), targets, deps, { rate: 10, seconds: 10, tickMs: 100 }));
    return results;
  } finally {
    server.child.kill();
    agents.destroy();
    await cleanupInstance(docker, instance);
  }
}

function print(opts: Options, results: ProbePhaseResult[]): void {
  console.log(`${opts.containers} httpd replicas, ${opts.rate} probes/s for ${opts.seconds} s per phase (CPU: this process, % of one core)`);
  for (const r of results) {
    const engine = r.engineCpuPercent === undefined ? '' : `  engine ${r.engineCpuPercent.toFixed(1)} %`;
    console.log(`${r.name.padEnd(46)} ${r.probes} probes (${r.rate.toFixed(1)}/s, ${r.failures} failed)  CPU ${r.cpuPercent.toFixed(2)} % of a core (sys ${r.sysPercent.toFixed(2)})${engine}  ` +
      `latency mean ${r.meanMs.toFixed(2)} ms p50 ${r.p50Ms.toFixed(2)} p99 ${r.p99Ms.toFixed(2)} max ${r.maxMs.toFixed(2)}`);
  }
}

function parseArgs(argv: string[]): Options {
  const value = (flag: string, fallback: number): number => {
    const at = argv.indexOf(flag);
    const n = at >= 0 ? Number(argv[at + 1]) : fallback;
    if (!Number.isFinite(n) || n <= 0) throw new Error(`${flag} needs a positive number`);
    return n;
  };
  return { containers: value('--containers', 20), rate: value('--rate', 100), seconds: value('--seconds', 20) };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const opts = parseArgs(process.argv.slice(2));
  runProbeOverhead(opts).then((results) => print(opts, results), (err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
}
