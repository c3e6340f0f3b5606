/**
 * Operator-side cost of health probes: N busybox httpd containers probed through runProbe at a fixed total rate
 * (default 20 containers x 5 probes/s = 100 replica-probes per second for 20 s), for http (shared keep-alive agents),
 * tcp, and (at a lower rate) exec through the engine. Reports this process's CPU as % of one core, latency mean/p50/p99,
 * and for exec the engine's CPU too. Goal: http/tcp under 5 % of one core per 100 replica-probes per second.
 * Run: npx tsx bench/probe-overhead.ts [--containers 20] [--rate 100] [--seconds 20]
 * Everything it creates carries berth.instance=<a unique instance> and is removed.
 */
import { readdir, readFile } from 'node:fs/promises';
import { pathToFileURL } from 'node:url';
import type Dockerode from 'dockerode';
import type { ProbeSpec } from '../operator/model/manifest.ts';
import { createProbeAgents, runProbe, type ProbeDeps, type ProbeTarget } from '../operator/health/probes.ts';
import { mapLimit } from '../operator/runtime/docker-observe.ts';
import { createDockerRuntime } from '../operator/runtime/docker.ts';
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

const TICKS_PER_SECOND = 100;
const HTTPD = 'mkdir -p /www && echo ok > /www/index.html && exec httpd -f -p 8080 -h /www';

function spec(over: Partial<ProbeSpec>): ProbeSpec {
  return { intervalMs: 1000, timeoutMs: 1000, initialDelayMs: 0, failureThreshold: 3, successThreshold: 1, ...over };
}

async function engineCpuMs(): Promise<number | undefined> {
  let total = 0;
  let found = false;
  for (const pid of (await readdir('/proc')).filter((p) => /^\d+$/.test(p))) {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
    const name = /\(([^)]*)\)/.exec(stat)?.[1];
    if (name !== 'dockerd' && name !== 'containerd') continue;
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    total += Number(fields[11]) + Number(fields[12]);
    found = true;
  }
  return found ? (total * 1000) / TICKS_PER_SECOND : undefined;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
}

/** Fires one probe every 1000/rate ms (round-robin over `targets`, not awaiting) for `seconds`, then waits for the last. */
async function phase(name: string, probe: ProbeSpec, targets: ProbeTarget[], deps: ProbeDeps, rate: number, seconds: number): Promise<ProbePhaseResult> {
  const latencies: number[] = [];
  let failures = 0;
  const inFlight = new Set<Promise<void>>();
  const [engine0, cpu0, t0] = [await engineCpuMs(), process.cpuUsage(), performance.now()];
  const total = Math.round(rate * seconds);
  for (let i = 0; i < total; i++) {
    const due = t0 + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
    const target = targets[i % targets.length] as ProbeTarget;
    const run = runProbe(probe, target, deps).then((o) => {
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
    cpuPercent: ((cpu.user + cpu.system) / 1000 / wallMs) * 100, ...engine,
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
  try {
    await startReplicas(docker, instance, opts.containers);
    const targets: ProbeTarget[] = (await runtime.observe(instance, [])).containers.map((c) => ({
      containerId: c.id, name: c.name, ...(c.address ? { address: c.address } : {}), readFile: async () => Buffer.alloc(0),
    }));
    const tcp = spec({ tcp: { port: 8080 } });
    const http = spec({ http: { path: '/', port: 8080, scheme: 'http', headers: {} } });
    for (const t of targets) await waitFor(async () => (await runProbe(http, t, deps)).ok, { what: `httpd in ${t.name}` });
    await phase('warm-up', http, targets, deps, opts.rate, 2);
    const per = `${opts.containers} replicas, ${opts.rate}/s, ${opts.seconds} s`;
    return [
      await phase(`http GET / (${per})`, http, targets, deps, opts.rate, opts.seconds),
      await phase(`tcp connect (${per})`, tcp, targets, deps, opts.rate, opts.seconds),
      await phase(`exec true via engine (${opts.containers} replicas, 10/s, 10 s)`, spec({ exec: { command: ['true'] } }), targets, deps, 10, 10),
    ];
  } finally {
    agents.destroy();
    await cleanupInstance(docker, instance);
  }
}

function print(results: ProbePhaseResult[]): void {
  for (const r of results) {
    const engine = r.engineCpuPercent === undefined ? '' : `  engine ${r.engineCpuPercent.toFixed(1)} %`;
    console.log(`${r.name.padEnd(58)} ${r.probes} probes (${r.rate.toFixed(1)}/s, ${r.failures} failed)  CPU ${r.cpuPercent.toFixed(2)} % of a core${engine}  ` +
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
  runProbeOverhead(parseArgs(process.argv.slice(2))).then(print, (err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
}
