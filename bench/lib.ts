/** Shared pieces of the benchmarks: timing, waiting, the berth process, and docker polling. */
import type { StatusDoc } from '../operator/status/report.ts';
import { createInterface } from 'node:readline';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import fs from 'node:fs/promises';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import type Docker from 'dockerode';

export const ROOT = path.resolve(import.meta.dirname, '..');
/** berth as a user runs it: the bundle in dist/ while it is fresh, the sources through tsx otherwise. */
const BERTH_BIN = path.join(ROOT, 'bin/berth.js');

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor((s.length - 1) / 2)]! : NaN;
}

/** Polls `fn` every `intervalMs` until truthy; throws after `timeoutMs`. */
export async function until<T>(fn: () => Promise<T | undefined | false>, what: string, timeoutMs = 120_000, intervalMs = 20): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`bench: timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** Number of running containers carrying all `labels`. */
export async function runningCount(docker: Docker, labels: string[]): Promise<number> {
  const list = await docker.listContainers({ filters: { label: labels, status: ['running'] } });
  return list.length;
}

export interface BerthProcess {
  child: ChildProcess;
  url: string;
  /** The Authorization header of the API's admin token (the cli-token berth run writes into its --state-dir). */
  auth: Record<string, string>;
  /** GET /v1/status with the token. */
  status(): Promise<StatusDoc>;
  /** CPU seconds (user+system) the process used so far. */
  cpuSeconds(): Promise<number>;
  rssBytes(): Promise<number>;
  stop(): Promise<void>;
}

/** Starts `berth run` as its own process (as a user runs it) and waits until its API answers. */
export async function startBerth(args: string[], port: number, opts: { onLog?: (entry: Record<string, unknown>) => void } = {}): Promise<BerthProcess> {
  // With onLog: debug-level JSON lines, each parsed and handed over (warnings and errors still printed).
  const logArgs = opts.onLog ? ['--log-level', 'debug', '--log-format', 'json'] : ['--log-level', 'warn'];
  const child = spawn(BERTH_BIN, ['run', '--listen', `127.0.0.1:${port}`, ...logArgs, ...args], { cwd: ROOT, stdio: ['ignore', 'ignore', opts.onLog ? 'pipe' : 'inherit'] });
  if (opts.onLog && child.stderr) {
    const onLog = opts.onLog;
    createInterface({ input: child.stderr }).on('line', (line) => {
      try {
        const entry = JSON.parse(line) as Record<string, unknown>;
        if (entry.level === 'warn' || entry.level === 'error') process.stderr.write(`${line}\n`);
        onLog(entry);
      } catch {
        process.stderr.write(`${line}\n`);
      }
    });
  }
  const url = `http://127.0.0.1:${port}`;
  const stateDir = args[args.indexOf('--state-dir') + 1];
  if (!args.includes('--state-dir') || !stateDir) throw new Error('startBerth needs --state-dir (the API token is read from it)');
  const auth: Record<string, string> = {};
  await until(async () => {
    const token = await fs.readFile(path.join(stateDir, 'cli-token'), 'utf8').then((t) => t.trim(), () => undefined);
    if (!token) return false;
    auth.authorization = `Bearer ${token}`;
    return fetch(`${url}/v1/status`, { headers: auth }).then((r) => r.ok, () => false);
  }, 'berth API');
  const stat = async () => (await fs.readFile(`/proc/${child.pid}/stat`, 'utf8')).split(') ')[1]!.split(' ');
  return {
    child, url, auth,
    async status() { return (await (await fetch(`${url}/v1/status`, { headers: auth })).json()) as StatusDoc; },
    async cpuSeconds() { const f = await stat(); return (Number(f[11]) + Number(f[12])) / 100; },
    async rssBytes() { const s = await fs.readFile(`/proc/${child.pid}/status`, 'utf8'); return Number(/VmRSS:\s+(\d+)/.exec(s)![1]) * 1024; },
    async stop() {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
      // the proxy process (the data plane) outlives berth run by design; a bench ends it too
      const flag = (name: string) => { const i = args.indexOf(name); return i >= 0 ? [name, args[i + 1]!] : []; };
      await promisify(execFile)(BERTH_BIN, ['proxy', '--stop', ...flag('--state-dir'), ...flag('--instance')], { cwd: ROOT }).catch(() => undefined);
    },
  };
}

/** Reads a counter from berth's /metrics. */
export async function metric(url: string, name: string, auth: Record<string, string> = {}): Promise<number> {
  const text = await (await fetch(`${url}/metrics`, { headers: auth })).text();
  const m = new RegExp(`^${name} ([0-9.e+-]+)$`, 'm').exec(text);
  return m ? Number(m[1]) : NaN;
}

export function fmtS(ms: number): string {
  return `${(ms / 1000).toFixed(2)} s`;
}

/** Runs `fn` with this engine in Swarm mode, leaving Swarm afterwards if it was not active before. */
export async function withSwarm<T>(docker: Docker, fn: () => Promise<T>): Promise<T> {
  const sh = promisify(execFile);
  const mine = (await docker.info()).Swarm?.LocalNodeState !== 'active';
  if (mine) await sh('docker', ['swarm', 'init', '--advertise-addr', '127.0.0.1']);
  try {
    return await fn();
  } finally {
    if (mine) await sh('docker', ['swarm', 'leave', '--force']).catch(() => undefined);
  }
}

/** CPU ms used so far by dockerd and containerd (from /proc), or undefined when they are not visible. */
export async function engineCpuMs(): Promise<number | undefined> {
  let total = 0;
  let found = false;
  for (const pid of (await readdir('/proc')).filter((p) => /^\d+$/.test(p))) {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
    const name = /\(([^)]*)\)/.exec(stat)?.[1];
    if (name !== 'dockerd' && name !== 'containerd') continue;
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    total += Number(fields[11]) + Number(fields[12]); // utime, stime
    found = true;
  }
  return found ? (total * 1000) / 100 : undefined; // /proc counts in clock ticks of 1/100 s
}

/** Spawns a node child that prints its port on the first stdout line; resolves with the child and that port. */
export function spawnWithPort(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ child: ChildProcess; port: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'], env });
    let out = '';
    const timer = setTimeout(() => reject(new Error(`bench: ${args.join(' ')} did not print a port`)), 15_000);
    child.stdout!.on('data', (d) => {
      out += d.toString();
      const m = /^(\d+)\n/.exec(out);
      if (!m) return;
      clearTimeout(timer);
      resolve({ child, port: Number(m[1]) });
    });
    child.once('exit', (code) => reject(new Error(`bench: child exited early (${code})`)));
  });
}

/** `min / median / max` of `xs` in whole ms, e.g. `812 / 845 / 910 ms`. */
export function fmtSpread(xs: number[]): string {
  return `${Math.round(Math.min(...xs))} / ${Math.round(median(xs))} / ${Math.round(Math.max(...xs))} ms`;
}

/** Creates and starts N containers (options of the i-th) on `docker` with 8 in flight; the time it took, then removes them. */
export async function createAndStart(docker: Docker, n: number, options: (i: number) => Docker.ContainerCreateOptions): Promise<number> {
  const t0 = performance.now();
  let next = 0;
  const ids: string[] = [];
  await Promise.all(Array.from({ length: 8 }, async () => {
    while (next < n) {
      const c = await docker.createContainer(options(next++));
      await c.start();
      ids.push(c.id);
    }
  }));
  const ms = performance.now() - t0;
  await Promise.all(ids.map((id) => docker.getContainer(id).remove({ force: true })));
  return ms;
}

/**
 * The floor for berth's own containers: N copies of one of them on `docker` (its image, command, host config and
 * network, as the engine reports it; labels of our own so berth leaves them alone).
 */
export function floorLike(docker: Docker, n: number, template: Docker.ContainerInspectInfo): Promise<number> {
  const network = Object.keys(template.NetworkSettings.Networks)[0]!;
  // Podman reports ulimits as RLIMIT_NOFILE, a name its create refuses
  const ulimits = template.HostConfig.Ulimits?.map((u) => ({ ...u, Name: (u.Name ?? '').replace(/^RLIMIT_/, '').toLowerCase() }));
  const hostConfig = { ...template.HostConfig, ...(ulimits ? { Ulimits: ulimits } : {}) };
  return createAndStart(docker, n, (i) => ({
    name: `berth-bench-like-${process.pid}-${i}`, Image: template.Config.Image, Cmd: template.Config.Cmd, Env: template.Config.Env,
    Labels: { 'berth-bench.floor': String(process.pid) }, HostConfig: hostConfig, NetworkingConfig: { EndpointsConfig: { [network]: {} } },
  }));
}
