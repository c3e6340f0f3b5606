/**
 * berth's embedded proxy versus nginx, side by side in one run on the same 3 local Node HTTP backends (keep-alive),
 * each pair with the same algorithm:
 *   1. HTTP round-robin: berth http mode (startProxy) vs nginx http round-robin, keep-alive to the upstreams;
 *   2. Route 90/10: berth's Route router (startRouter: one rule, service A 90 over backends 0 and 1, service B 10 over
 *      backend 2) vs nginx http with `weight=45/45/10` (nginx's smooth weighted round-robin, the same split);
 *   3. consistent hash on a header: berth http `header:x-user` vs nginx `hash $http_x_user consistent`, wrk sending
 *      1000 distinct X-User values (a wrk Lua script);
 *   4. TCP round-robin: berth tcp mode vs nginx `stream {}` (per connection).
 * Each scenario runs with "one worker each" (berth's listeners in one process; nginx worker_processes 1) and "all cores
 * each" (nginx worker_processes auto; berth with os.availableParallelism() node:cluster workers sharing the listeners,
 * SCHED_NONE, as `berth proxy --proxy-workers N` runs them: operator/dataplane/workers.ts). Access counters are on,
 * as in the proxy process.
 * Per pair: wrk -t2 -c50 -d10s --latency on loopback after a 2 s warmup, berth and nginx back to back (which goes
 * first alternates between runs). Reported: requests/s, p99, CPU per request (utime+stime of the proxy's whole process
 * tree from /proc, sampled right before and after the measured wrk run, divided by the requests wrk counted) and the
 * ratios to nginx. Goals: HTTP scenarios >= 90 % of nginx's requests/s with p99 <= 1.5x; TCP >= 100 % of nginx stream.
 * Everything (wrk, backends, proxies) shares this machine's cores.
 * Run: npx tsx bench/proxy.ts [--runs N (default 3)] [--duration 10s]: every run's table, then the medians over runs.
 * Needs wrk and nginx (apt-get install -y wrk nginx libnginx-mod-stream); prints how to install them when missing.
 */
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import cluster from 'node:cluster';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs, promisify } from 'node:util';
import type { Endpoint } from '../operator/proxy/lb/types.ts';
import { startProxy } from '../operator/proxy/proxy.ts';
import { startRouter } from '../operator/proxy/router.ts';
import { freePort } from '../test/helpers/net.ts';
import { spawnWithPort } from './lib.ts';
import { treeCpuSeconds, treePids } from './proxy-cpu.ts';

const run = promisify(execFile);
const GOAL_RPS_HTTP = 0.9;
const GOAL_P99_HTTP = 1.5;
const GOAL_RPS_TCP = 1;

/** Source of one backend process: a keep-alive HTTP server answering a small fixed body. */
const BACKEND_SRC = `
import http from 'node:http';
const body = Buffer.from('hello from ' + process.argv[1] + '\\n');
const server = http.createServer((req, res) => { req.resume(); res.writeHead(200, { 'content-type': 'text/plain', 'content-length': body.length }).end(body); });
server.keepAliveTimeout = 65_000;
server.listen(0, '127.0.0.1', () => console.log(server.address().port));
`;

/** wrk script: each request carries one of 1000 X-User values, so consistent hashing spreads over every backend. */
const USERS_LUA = `
local n = 0
request = function()
  n = n + 1
  return wrk.format(nil, nil, { ["X-User"] = "user-" .. (n % 1000) })
end
`;

type Scenario = 'http' | 'weighted' | 'hash' | 'tcp';
const SCENARIOS: readonly Scenario[] = ['http', 'weighted', 'hash', 'tcp'];
const LABEL: Record<Scenario, string> = {
  http: 'HTTP round-robin',
  weighted: 'Route 90/10 vs weight=',
  hash: 'hash header x-user',
  tcp: 'TCP rr vs nginx stream',
};
type Ports = Record<Scenario, number>;

/** What a berth child serves: the backends' ports, its listeners' ports and how many cluster workers (1: none). */
interface ServeSpec {
  backends: number[];
  ports: Ports;
  workers: number;
}

interface WrkResult {
  rps: number;
  p99Ms: number;
  requests: number;
  /** CPU of the proxy's process tree per request over the measured run, in microseconds. */
  cpuUs: number;
  errors: string;
}

interface Target {
  name: string;
  /** Root of the process tree whose CPU is counted. */
  pid: number;
  ports: Partial<Ports>;
}

interface Row {
  scenario: Scenario;
  /** Workers each side ran with (nginx: 1 or worker_processes auto). */
  workers: number;
  berth: WrkResult;
  nginx: WrkResult;
}

function has(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

// ---- child mode: berth's listeners (in this process, or in node:cluster workers sharing them) ----

/** Opens the four listeners over the backends; resolves with their close. */
async function openListeners(spec: ServeSpec): Promise<() => Promise<void>> {
  const host = '127.0.0.1';
  const endpoints: Endpoint[] = spec.backends.map((port, i) => ({ id: `b${i}`, address: `127.0.0.1:${port}`, weight: 1 }));
  const http = await startProxy({ host, port: spec.ports.http, mode: 'http', algorithm: 'round-robin', endpoints, service: 'bench/http' });
  const hash = await startProxy({ host, port: spec.ports.hash, mode: 'http', algorithm: 'consistent-hash', hashKey: 'header:x-user', endpoints, service: 'bench/hash' });
  const tcp = await startProxy({ host, port: spec.ports.tcp, mode: 'tcp', algorithm: 'round-robin', endpoints, service: 'bench/tcp' });
  const router = await startRouter({ host, port: spec.ports.weighted });
  router.update(
    [{ pathPrefix: '/', backends: [{ service: 'bench/a', weight: 90 }, { service: 'bench/b', weight: 10 }], source: 'bench/route rule 0' }],
    { 'bench/a': { algorithm: 'round-robin', endpoints: endpoints.slice(0, 2) }, 'bench/b': { algorithm: 'round-robin', endpoints: endpoints.slice(2) } },
  );
  return async () => {
    await Promise.all([http.close(), hash.close(), tcp.close(), router.close()]);
  };
}

/** Child mode: serves the listeners (workers = 1: itself; more: node:cluster workers) and prints the http port once all listen. */
async function serve(spec: ServeSpec): Promise<void> {
  if (cluster.isWorker) {
    const close = await openListeners(spec);
    const stop = () => void close().finally(() => process.exit(0));
    process.once('disconnect', stop); // the primary died: nobody supervises this worker
    process.once('SIGTERM', stop);
    process.send!('ready');
    return;
  }
  if (spec.workers <= 1) {
    const close = await openListeners(spec);
    console.log(spec.ports.http);
    process.once('SIGTERM', () => void close().finally(() => process.exit(0)));
    return;
  }
  // As operator/dataplane/workers.ts: the kernel spreads connections over the workers accepting on the shared sockets.
  if (!process.env.NODE_CLUSTER_SCHED_POLICY) cluster.schedulingPolicy = cluster.SCHED_NONE;
  let ready = 0;
  let stopping = false;
  for (let i = 0; i < spec.workers; i++) {
    const w = cluster.fork(); // runs this file with the same arguments (and --import tsx from execArgv)
    w.on('message', (m) => {
      if (m === 'ready' && ++ready === spec.workers) console.log(spec.ports.http);
    });
    w.once('exit', (code, signal) => {
      if (stopping) return;
      console.error(`bench: berth worker ${w.process.pid} exited (${code ?? signal}); stopping`);
      stopping = true;
      for (const o of Object.values(cluster.workers ?? {})) o?.process.kill('SIGTERM');
      process.exit(1);
    });
  }
  process.once('SIGTERM', () => {
    stopping = true;
    const workers = Object.values(cluster.workers ?? {}).filter((w) => w !== undefined);
    let left = workers.length;
    if (!left) process.exit(0);
    for (const w of workers) {
      w.once('exit', () => { if (--left === 0) process.exit(0); });
      w.process.kill('SIGTERM');
    }
    setTimeout(() => process.exit(0), 5_000).unref();
  });
}

// ---- nginx ----

/** The stream module to load: from `nginx -V` (built in, or a .so under --modules-path); undefined when absent. */
function streamModule(): { load: string } | undefined {
  const flags = execFileSync('sh', ['-c', 'nginx -V 2>&1'], { encoding: 'utf8' }); // nginx prints -V on stderr
  if (/--with-stream(\s|$)/.test(flags)) return { load: '' };
  if (!flags.includes('--with-stream=dynamic')) return undefined;
  const dirs = [/--modules-path=(\S+)/.exec(flags)?.[1], '/usr/lib/nginx/modules', '/usr/share/nginx/modules', '/usr/lib64/nginx/modules', '/etc/nginx/modules'];
  for (const dir of dirs) {
    const so = dir && path.join(dir, 'ngx_stream_module.so');
    if (so && existsSync(so)) return { load: `load_module ${so};` };
  }
  return undefined;
}

async function freePorts(withTcp: boolean): Promise<Partial<Ports>> {
  return { http: await freePort(), weighted: await freePort(), hash: await freePort(), tcp: withTcp ? await freePort() : undefined };
}

/** Polls GET / on every port until each answers 200. */
async function waitAnswering(ports: Partial<Ports>, what: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  for (const port of Object.values(ports)) {
    if (port === undefined) continue;
    while (!(await fetch(`http://127.0.0.1:${port}/`).then((r) => r.ok, () => false))) {
      if (Date.now() > deadline) throw new Error(`bench: ${what} did not answer on ${port}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/** Writes an nginx config (`workers`: worker_processes; stream, http round-robin, weighted and hash listeners) and starts it. */
async function startNginx(dir: string, upstreams: number[], workers: '1' | 'auto', stream: { load: string } | undefined): Promise<{ target: Target; child: ChildProcess }> {
  await mkdir(dir, { recursive: true });
  const ports = await freePorts(stream !== undefined);
  const servers = upstreams.map((p) => `server 127.0.0.1:${p};`).join(' ');
  const weights = [45, 45, 10]; // service A (90) spread over backends 0 and 1, service B (10) on backend 2
  const weighted = upstreams.map((p, i) => `server 127.0.0.1:${p} weight=${weights[i] ?? 1};`).join(' ');
  const location = (upstream: string) => `location / { proxy_pass http://${upstream}; proxy_http_version 1.1; proxy_set_header Connection ""; }`;
  const conf = `${stream?.load ?? ''}
worker_processes ${workers};
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 4096; }
${stream ? `stream {
  upstream s_backends { ${servers} }
  server { listen 127.0.0.1:${ports.tcp}; proxy_pass s_backends; }
}` : ''}
http {
  access_log off;
  client_body_temp_path ${dir}/body; proxy_temp_path ${dir}/proxy; fastcgi_temp_path ${dir}/fcgi; uwsgi_temp_path ${dir}/uwsgi; scgi_temp_path ${dir}/scgi;
  upstream rr { ${servers} keepalive 64; }
  upstream weighted { ${weighted} keepalive 64; }
  upstream hashed { hash $http_x_user consistent; ${servers} keepalive 64; }
  server { listen 127.0.0.1:${ports.http}; ${location('rr')} }
  server { listen 127.0.0.1:${ports.weighted}; ${location('weighted')} }
  server { listen 127.0.0.1:${ports.hash}; ${location('hashed')} }
}
`;
  await writeFile(path.join(dir, 'nginx.conf'), conf);
  const child = spawn('nginx', ['-c', path.join(dir, 'nginx.conf'), '-p', dir], { stdio: ['ignore', 'ignore', 'inherit'] });
  if (!child.pid) throw new Error('bench: nginx did not start');
  try {
    await waitAnswering(ports, `nginx (see ${dir}/error.log)`);
  } catch (err) {
    await stopTree(child, 'SIGQUIT');
    throw err;
  }
  return { target: { name: `nginx ${workers}`, pid: child.pid, ports }, child };
}

/** Sends `signal` to `child` (by pid), waits up to 5 s for it to exit, then SIGKILLs whatever of its tree is left. */
async function stopTree(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  const pid = child.pid;
  if (pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const tree = await treePids(pid);
  const exited = new Promise((r) => child.once('exit', r));
  try {
    process.kill(pid, signal);
  } catch {
    return; // already gone
  }
  await Promise.race([exited, new Promise((r) => setTimeout(r, 5_000))]);
  await new Promise((r) => setTimeout(r, 100)); // workers leave right after their primary
  for (const p of tree) {
    try {
      process.kill(p, 'SIGKILL');
    } catch {
      // exited
    }
  }
}

// ---- measuring ----

let interrupted = false;

/** Runs wrk (warmup, then the measured run) against `port`, sampling the CPU of the tree at `pid` around the measured run. */
async function measure(pid: number, port: number, wrkArgs: string[], script?: string): Promise<WrkResult> {
  if (interrupted) throw new Error('bench: interrupted');
  const extra = script ? ['-s', script] : [];
  const url = `http://127.0.0.1:${port}/`;
  await run('wrk', ['-t2', '-c50', '-d2s', ...extra, url], { maxBuffer: 1 << 20 });
  const cpuBefore = await treeCpuSeconds(pid);
  const { stdout } = await run('wrk', [...wrkArgs, ...extra, url], { maxBuffer: 1 << 20 });
  const cpuAfter = await treeCpuSeconds(pid);
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(stdout)?.[1] ?? NaN);
  const requests = Number(/(\d+) requests in/.exec(stdout)?.[1] ?? NaN);
  const p99 = /\s99%\s+([\d.]+)(us|ms|s)/.exec(stdout);
  const scale = { us: 0.001, ms: 1, s: 1000 } as const;
  const p99Ms = p99 ? Number(p99[1]) * scale[p99[2] as keyof typeof scale] : NaN;
  const errors = [/Socket errors:.*/.exec(stdout)?.[0], /Non-2xx or 3xx responses:.*/.exec(stdout)?.[0]].filter(Boolean).join('; ');
  return { rps, p99Ms, requests, cpuUs: ((cpuAfter - cpuBefore) * 1e6) / requests, errors: errors || 'none' };
}

/** Which backends answer `n` sequential requests on `port` (checks the 90/10 route and nginx's weights split alike). */
async function split(port: number, n = 200): Promise<string> {
  const counts = [0, 0, 0];
  for (let i = 0; i < n; i++) {
    const body = await (await fetch(`http://127.0.0.1:${port}/`)).text();
    const b = Number(/hello from b(\d)/.exec(body)?.[1] ?? -1);
    if (b >= 0 && b < counts.length) counts[b]!++;
  }
  return counts.map((c) => `${Math.round((100 * c) / n)}`).join('/');
}

function parseCli(): { runs: number; wrkArgs: string[]; only?: Scenario[] } {
  const usage = (why: string): never => {
    console.error(`bench/proxy: ${why}\nusage: npx tsx bench/proxy.ts [--runs N] [--duration 10s] [--only http,weighted,hash,tcp]`);
    process.exit(2);
  };
  let values: { runs: string; duration: string; only?: string } = { runs: '3', duration: '10s' };
  try {
    values = parseArgs({ options: { runs: { type: 'string', default: '3' }, duration: { type: 'string', default: '10s' }, only: { type: 'string' } } }).values;
  } catch (err) {
    usage((err as Error).message);
  }
  const runs = Number(values.runs);
  if (!Number.isInteger(runs) || runs < 1) usage(`--runs must be a positive integer, got ${values.runs}`);
  const duration = /^\d+$/.test(values.duration) ? `${values.duration}s` : values.duration;
  if (!/^\d+[sm]$/.test(duration) || parseInt(duration, 10) < 1) usage(`--duration must be like 10s or 1m, got ${values.duration}`);
  const only = values.only?.split(',').map((x) => x.trim()) as Scenario[] | undefined;
  const unknown = only?.find((x) => !SCENARIOS.includes(x));
  if (unknown !== undefined) usage(`--only takes ${SCENARIOS.join(', ')}; got ${unknown}`);
  return { runs, wrkArgs: ['-t2', '-c50', `-d${duration}`, '--latency'], ...(only ? { only } : {}) };
}

async function main(): Promise<void> {
  const cli = parseCli();
  if (!has('wrk') || !has('nginx')) {
    console.log('bench/proxy: needs wrk and nginx on PATH. Install them (as root): apt-get install -y wrk nginx libnginx-mod-stream');
    return;
  }
  const stream = streamModule();
  const scenarios = SCENARIOS.filter((s) => (s !== 'tcp' || stream !== undefined) && (!cli.only || cli.only.includes(s)));
  const cores = os.availableParallelism();
  const settings = [1, cores];
  const dir = await mkdtemp(path.join(os.tmpdir(), 'berth-bench-proxy-'));
  const backends: ChildProcess[] = [];
  const berthChildren: ChildProcess[] = [];
  const nginxChildren: ChildProcess[] = [];
  process.on('SIGINT', () => { interrupted = true; }); // wrk gets it too and fails; the finally below cleans up
  try {
    const bs = await Promise.all([0, 1, 2].map((i) => spawnWithPort(['--input-type=module', '-e', BACKEND_SRC, `b${i}`])));
    backends.push(...bs.map((b) => b.child));
    const upstreams = bs.map((b) => b.port);
    const berth: Target[] = [];
    const nginx: Target[] = [];
    for (const workers of settings) {
      const ports = await freePorts(true) as Ports;
      const spec: ServeSpec = { backends: upstreams, ports, workers };
      const p = await spawnWithPort(['--import', 'tsx', import.meta.filename, '--serve', JSON.stringify(spec)]);
      berthChildren.push(p.child);
      await waitAnswering(ports, `berth (${workers} workers)`);
      berth.push({ name: `berth ${workers}`, pid: p.child.pid!, ports });
      const ng = await startNginx(path.join(dir, `nginx-${workers === 1 ? '1' : 'auto'}`), upstreams, workers === 1 ? '1' : 'auto', stream);
      nginxChildren.push(ng.child);
      nginx.push(ng.target);
    }
    const users = path.join(dir, 'users.lua');
    await writeFile(users, USERS_LUA);

    console.log(`proxy bench: wrk ${cli.wrkArgs.join(' ')} on loopback (2 s warmup each), 3 Node backends, ${cores} cores (shared by wrk, backends and proxies), ${cli.runs} run(s)`);
    console.log(`workers: "1" = berth's listeners in one process, nginx worker_processes 1; "${cores}" = berth ${cores} node:cluster workers (SCHED_NONE), nginx worker_processes auto`);
    if (!stream) console.log('nginx stream module not found (apt-get install -y libnginx-mod-stream): the TCP scenario is left out');
    const splits = await Promise.all(settings.map(async (_, i) => `berth ${await split(berth[i]!.ports.weighted!)}, nginx ${await split(nginx[i]!.ports.weighted!)}`));
    console.log(`weighted split over backends b0/b1/b2, % of 200 sequential requests: ${settings.map((w, i) => `${w} worker(s): ${splits[i]}`).join('; ')} (expected 45/45/10)`);

    const runs: Row[][] = [];
    for (let r = 0; r < cli.runs; r++) {
      const rows: Row[] = [];
      for (const [i, workers] of settings.entries()) {
        for (const s of scenarios) {
          const script = s === 'hash' ? users : undefined;
          const side = async (t: Target) => measure(t.pid, t.ports[s]!, cli.wrkArgs, script);
          // Each pair runs back to back, so both sides see the same background load; who goes first alternates.
          let b: WrkResult, n: WrkResult;
          if (r % 2 === 0) {
            b = await side(berth[i]!);
            n = await side(nginx[i]!);
          } else {
            n = await side(nginx[i]!);
            b = await side(berth[i]!);
          }
          rows.push({ scenario: s, workers, berth: b, nginx: n });
        }
      }
      runs.push(rows);
      printTable(`run ${r + 1} of ${cli.runs}`, rows);
      for (const row of rows) {
        if (row.berth.errors !== 'none' || row.nginx.errors !== 'none') console.log(`  errors in "${LABEL[row.scenario]}" (${row.workers} workers): berth ${row.berth.errors}; nginx ${row.nginx.errors}`);
      }
    }
    if (cli.runs > 1) printTable(`medians of ${cli.runs} runs (each number the median over runs)`, medianRows(runs));
    console.log(`goals: HTTP scenarios berth >= ${GOAL_RPS_HTTP * 100} % of nginx's requests/s and p99 <= ${GOAL_P99_HTTP}x nginx's; TCP >= ${GOAL_RPS_TCP * 100} % of nginx stream's requests/s`);
  } finally {
    for (const c of nginxChildren) await stopTree(c, 'SIGQUIT');
    for (const c of berthChildren) await stopTree(c, 'SIGTERM');
    for (const c of backends) await stopTree(c, 'SIGTERM');
    await rm(dir, { recursive: true, force: true });
  }
}

// ---- output ----

/** A row's numbers, ratios included (the median table takes the median of each). */
interface Numbers {
  bRps: number; bP99: number; bCpu: number;
  nRps: number; nP99: number; nCpu: number;
  rpsRatio: number; p99Ratio: number; cpuRatio: number;
}

function numbers(r: Row): Numbers {
  return {
    bRps: r.berth.rps, bP99: r.berth.p99Ms, bCpu: r.berth.cpuUs,
    nRps: r.nginx.rps, nP99: r.nginx.p99Ms, nCpu: r.nginx.cpuUs,
    rpsRatio: r.berth.rps / r.nginx.rps, p99Ratio: r.berth.p99Ms / r.nginx.p99Ms, cpuRatio: r.berth.cpuUs / r.nginx.cpuUs,
  };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

interface TableRow {
  scenario: Scenario;
  workers: number;
  n: Numbers;
}

function medianRows(runs: Row[][]): TableRow[] {
  return runs[0]!.map((first, i) => {
    const all = runs.map((rows) => numbers(rows[i]!));
    const n = Object.fromEntries(Object.keys(all[0]!).map((k) => [k, median(all.map((x) => x[k as keyof Numbers]))])) as unknown as Numbers;
    return { scenario: first.scenario, workers: first.workers, n };
  });
}

function goalMet(s: Scenario, n: Numbers): string {
  if (s === 'tcp') return n.rpsRatio >= GOAL_RPS_TCP ? 'met' : 'NOT met';
  return n.rpsRatio >= GOAL_RPS_HTTP && n.p99Ratio <= GOAL_P99_HTTP ? 'met' : 'NOT met';
}

function printTable(title: string, rows: Array<Row | TableRow>): void {
  console.log(`\n${title}:`);
  const cols: Array<[string, number]> = [['scenario', 24], ['workers', 7], ['berth req/s', 11], ['p99 ms', 7], ['us/req', 7], ['nginx req/s', 11], ['p99 ms', 7], ['us/req', 7], ['req/s %', 8], ['p99 x', 6], ['cpu x', 6], ['goal', 8]];
  const line = (cells: string[]) => console.log(cells.map((c, i) => (i === 0 ? c.padEnd(cols[i]![1]) : c.padStart(cols[i]![1]))).join('  '));
  line(cols.map(([h]) => h));
  for (const r of rows) {
    const n = 'n' in r ? r.n : numbers(r);
    line([
      LABEL[r.scenario], String(r.workers),
      n.bRps.toFixed(0), n.bP99.toFixed(2), n.bCpu.toFixed(1),
      n.nRps.toFixed(0), n.nP99.toFixed(2), n.nCpu.toFixed(1),
      `${(100 * n.rpsRatio).toFixed(0)} %`, n.p99Ratio.toFixed(2), n.cpuRatio.toFixed(2), goalMet(r.scenario, n),
    ]);
  }
}

const at = process.argv.indexOf('--serve');
if (at >= 0) {
  await serve(JSON.parse(process.argv[at + 1] ?? '{}') as ServeSpec);
} else {
  await main().catch((err: unknown) => {
    console.error(interrupted ? 'bench/proxy: interrupted; proxies, backends and the temp dir are cleaned up' : err);
    process.exitCode = 1;
  });
}
