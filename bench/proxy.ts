/**
 * berth's embedded proxy versus nginx (goal: >= 70 % of nginx's requests/s, p99 within 2x), side by
 * side in one run on the same 3 local Node HTTP backends, each pair with the same algorithm:
 *   - round-robin, TCP: berth tcp mode vs nginx `stream {}` (per-connection round-robin, like berth's TCP mode);
 *   - round-robin: berth tcp mode vs nginx http round-robin (the issue's original comparison);
 *   - round-robin, per request: berth http mode vs nginx http round-robin;
 *   - consistent hash on a header: berth http `header:x-user` vs nginx `hash $http_x_user consistent`, wrk sending
 *     1000 distinct X-User values (a wrk Lua script).
 * wrk -t2 -c50 -d10s --latency on loopback after a 2 s warmup per target; keep-alive to the upstreams in both; nginx
 * runs one worker, like berth's single-threaded proxy. Run: npx tsx bench/proxy.ts
 * Needs wrk and nginx (apt-get install -y wrk nginx libnginx-mod-stream); prints how to install them when missing.
 */
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { HashKey, LbAlgorithm } from '../operator/model/manifest.ts';
import { startProxy } from '../operator/proxy/proxy.ts';
import { freePort } from '../test/helpers/net.ts';
import { spawnWithPort } from './lib.ts';

const run = promisify(execFile);
const WRK_ARGS = ['-t2', '-c50', '-d10s', '--latency'];
const WARMUP_ARGS = ['-t2', '-c50', '-d2s'];
const GOAL_RPS = 0.7;
const GOAL_P99 = 2;

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

interface WrkResult {
  rps: number;
  p99Ms: number;
  errors: string;
}

interface BerthTarget {
  mode: 'tcp' | 'http';
  algorithm: LbAlgorithm;
  hashKey?: HashKey;
}

function has(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}


/** Child mode: runs berth's proxy over the given upstream ports and prints its port. */
async function serveProxy(ports: number[], target: BerthTarget): Promise<void> {
  const p = await startProxy({
    host: '127.0.0.1', port: 0, ...target,
    endpoints: ports.map((port, i) => ({ id: `b${i}`, address: `127.0.0.1:${port}`, weight: 1 })),
  });
  console.log(p.port);
  process.on('SIGTERM', () => void p.close().then(() => process.exit(0)));
}

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

interface NginxPorts {
  stream?: number;
  httpRoundRobin: number;
  httpHash: number;
}

/** Writes an nginx config (one worker; stream round-robin, http round-robin and http hash listeners) and starts it. */
async function startNginx(dir: string, upstreams: number[]): Promise<{ ports: NginxPorts; child: ChildProcess }> {
  const stream = streamModule();
  const ports: NginxPorts = { stream: stream ? await freePort() : undefined, httpRoundRobin: await freePort(), httpHash: await freePort() };
  const servers = upstreams.map((p) => `server 127.0.0.1:${p};`).join(' ');
  const conf = `${stream?.load ?? ''}
worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 4096; }
${stream ? `stream {
  upstream s_backends { ${servers} }
  server { listen 127.0.0.1:${ports.stream}; proxy_pass s_backends; }
}` : ''}
http {
  access_log off;
  client_body_temp_path ${dir}/body; proxy_temp_path ${dir}/proxy; fastcgi_temp_path ${dir}/fcgi; uwsgi_temp_path ${dir}/uwsgi; scgi_temp_path ${dir}/scgi;
  upstream rr { ${servers} keepalive 64; }
  upstream hashed { hash $http_x_user consistent; ${servers} keepalive 64; }
  server {
    listen 127.0.0.1:${ports.httpRoundRobin};
    location / { proxy_pass http://rr; proxy_http_version 1.1; proxy_set_header Connection ""; }
  }
  server {
    listen 127.0.0.1:${ports.httpHash};
    location / { proxy_pass http://hashed; proxy_http_version 1.1; proxy_set_header Connection ""; }
  }
}
`;
  await writeFile(path.join(dir, 'nginx.conf'), conf);
  const child = spawn('nginx', ['-c', path.join(dir, 'nginx.conf'), '-p', dir], { stdio: ['ignore', 'ignore', 'inherit'] });
  const deadline = Date.now() + 10_000;
  for (const port of [ports.stream, ports.httpRoundRobin, ports.httpHash]) {
    if (port === undefined) continue;
    while (!(await fetch(`http://127.0.0.1:${port}/`).then((r) => r.ok, () => false))) {
      if (Date.now() > deadline) throw new Error(`bench: nginx did not answer on ${port} (see ${dir}/error.log)`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return { ports, child };
}

/** Runs wrk (warmup, then the measured run) against `port` and parses requests/s, p99 and any error lines. */
async function measure(port: number, script?: string): Promise<WrkResult> {
  const extra = script ? ['-s', script] : [];
  await run('wrk', [...WARMUP_ARGS, ...extra, `http://127.0.0.1:${port}/`], { maxBuffer: 1 << 20 });
  const { stdout } = await run('wrk', [...WRK_ARGS, ...extra, `http://127.0.0.1:${port}/`], { maxBuffer: 1 << 20 });
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(stdout)?.[1] ?? NaN);
  const p99 = /\s99%\s+([\d.]+)(us|ms|s)/.exec(stdout);
  const scale = { us: 0.001, ms: 1, s: 1000 } as const;
  const p99Ms = p99 ? Number(p99[1]) * scale[p99[2] as keyof typeof scale] : NaN;
  const errors = [/Socket errors:.*/.exec(stdout)?.[0], /Non-2xx or 3xx responses:.*/.exec(stdout)?.[0]].filter(Boolean).join('; ');
  return { rps, p99Ms, errors: errors || 'none' };
}

async function stopNginx(dir: string, child: ChildProcess): Promise<void> {
  const pid = Number((await readFile(path.join(dir, 'nginx.pid'), 'utf8').catch(() => '')).trim());
  const exited = new Promise((r) => child.once('exit', r));
  if (pid > 0) process.kill(pid, 'SIGQUIT');
  else child.kill('SIGQUIT');
  await Promise.race([exited, new Promise((r) => setTimeout(r, 5_000))]);
}

interface Row {
  scenario: string;
  berth: WrkResult;
  nginx: WrkResult;
}

async function main(): Promise<void> {
  if (!has('wrk') || !has('nginx')) {
    console.log('bench/proxy: needs wrk and nginx on PATH. Install them (as root): apt-get install -y wrk nginx libnginx-mod-stream');
    return;
  }
  const children: ChildProcess[] = [];
  const dir = await mkdtemp(path.join(os.tmpdir(), 'berth-bench-proxy-'));
  let nginx: ChildProcess | undefined;
  try {
    const backends = await Promise.all([0, 1, 2].map((i) => spawnWithPort(['--input-type=module', '-e', BACKEND_SRC, `b${i}`])));
    children.push(...backends.map((b) => b.child));
    const ports = backends.map((b) => b.port).join(',');
    const berth = async (t: BerthTarget) => {
      const p = await spawnWithPort(['--import', 'tsx', import.meta.filename, '--serve-proxy', ports, t.mode, t.algorithm, t.hashKey ?? '']);
      children.push(p.child);
      return p.port;
    };
    const berthTcp = await berth({ mode: 'tcp', algorithm: 'round-robin' });
    const berthHttp = await berth({ mode: 'http', algorithm: 'round-robin' });
    const berthHash = await berth({ mode: 'http', algorithm: 'consistent-hash', hashKey: 'header:x-user' });
    const ng = await startNginx(dir, backends.map((b) => b.port));
    nginx = ng.child;
    const users = path.join(dir, 'users.lua');
    await writeFile(users, USERS_LUA);
    // Each pair runs back to back, so both sides see the same background load.
    const tcp = await measure(berthTcp);
    const rows: Row[] = [];
    if (ng.ports.stream !== undefined) rows.push({ scenario: 'round-robin: berth tcp vs nginx stream', berth: tcp, nginx: await measure(ng.ports.stream) });
    const nginxHttp = await measure(ng.ports.httpRoundRobin);
    rows.push({ scenario: 'round-robin: berth tcp vs nginx http', berth: tcp, nginx: nginxHttp });
    rows.push({ scenario: 'round-robin: berth http vs nginx http', berth: await measure(berthHttp), nginx: nginxHttp });
    rows.push({ scenario: 'hash header x-user: berth http vs nginx', berth: await measure(berthHash, users), nginx: await measure(ng.ports.httpHash, users) });
    print(rows, ng.ports.stream !== undefined);
  } finally {
    if (nginx) await stopNginx(dir, nginx);
    for (const c of children) c.kill('SIGTERM');
    await rm(dir, { recursive: true, force: true });
  }
}

function print(rows: Row[], hasStream: boolean): void {
  console.log(`proxy bench: wrk ${WRK_ARGS.join(' ')} on loopback (2 s warmup each), 3 Node backends, nginx 1 worker, ${os.cpus().length} CPUs`);
  if (!hasStream) console.log('nginx stream module not found (apt-get install -y libnginx-mod-stream): TCP compared with nginx http only');
  const head = ['scenario'.padEnd(42), 'berth req/s'.padStart(11), 'p99 ms'.padStart(8), 'nginx req/s'.padStart(11), 'p99 ms'.padStart(8), 'req/s %'.padStart(8), 'p99 x'.padStart(6), '  goal met'];
  console.log(head.join(' '));
  for (const r of rows) {
    const ratio = r.berth.rps / r.nginx.rps;
    const p99x = r.berth.p99Ms / r.nginx.p99Ms;
    const met = ratio >= GOAL_RPS && p99x <= GOAL_P99 ? 'yes' : 'no';
    console.log([
      r.scenario.padEnd(42), r.berth.rps.toFixed(0).padStart(11), r.berth.p99Ms.toFixed(2).padStart(8), r.nginx.rps.toFixed(0).padStart(11),
      r.nginx.p99Ms.toFixed(2).padStart(8), `${(100 * ratio).toFixed(0)} %`.padStart(8), `${p99x.toFixed(2)}`.padStart(6), `  ${met}`,
    ].join(' '));
  }
  console.log(`goal: berth >= ${GOAL_RPS * 100} % of nginx's requests/s and p99 <= ${GOAL_P99}x nginx's, same algorithm`);
  for (const r of rows) {
    if (r.berth.errors !== 'none' || r.nginx.errors !== 'none') console.log(`errors in "${r.scenario}": berth ${r.berth.errors}; nginx ${r.nginx.errors}`);
  }
}

const at = process.argv.indexOf('--serve-proxy');
if (at >= 0) {
  const [ports = '', mode = 'http', algorithm = 'round-robin', hashKey = ''] = process.argv.slice(at + 1);
  await serveProxy(ports.split(',').map(Number), { mode: mode as BerthTarget['mode'], algorithm: algorithm as LbAlgorithm, hashKey: (hashKey || undefined) as HashKey | undefined });
} else {
  await main();
}
