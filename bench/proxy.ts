/**
 * berth's embedded proxy versus nginx (issue 4, Performance): the same 3 local Node HTTP backends, round-robin,
 * keep-alive to the upstreams in both; wrk -t2 -c50 -d10s --latency on loopback against each, side by side.
 * nginx runs with one worker, like berth's single-threaded proxy. Run: npx tsx bench/proxy.ts
 * Needs wrk and nginx (apt-get install -y wrk nginx); prints how to install them when missing.
 */
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { startProxy } from '../operator/registry/proxy.ts';

const run = promisify(execFile);
const WRK_ARGS = ['-t2', '-c50', '-d10s', '--latency'];
const WARMUP_ARGS = ['-t2', '-c50', '-d2s'];

/** Source of one backend process: a keep-alive HTTP server answering a small fixed body. */
const BACKEND_SRC = `
import http from 'node:http';
const body = Buffer.from('hello from ' + process.argv[1] + '\\n');
const server = http.createServer((req, res) => { req.resume(); res.writeHead(200, { 'content-type': 'text/plain', 'content-length': body.length }).end(body); });
server.keepAliveTimeout = 65_000;
server.listen(0, '127.0.0.1', () => console.log(server.address().port));
`;

interface WrkResult {
  rps: number;
  p99Ms: number;
  errors: string;
}

function has(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Spawns a child that prints its port on the first stdout line; resolves with the child and that port. */
function spawnWithPort(args: string[]): Promise<{ child: ChildProcess; port: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
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

/** Child mode: runs berth's proxy (http, round-robin) over the given upstream ports and prints its port. */
async function serveProxy(ports: number[]): Promise<void> {
  const p = await startProxy({
    host: '127.0.0.1', port: 0, algorithm: 'round-robin', mode: 'http',
    endpoints: ports.map((port, i) => ({ id: `b${i}`, address: `127.0.0.1:${port}`, weight: 1 })),
  });
  console.log(p.port);
  process.on('SIGTERM', () => void p.close().then(() => process.exit(0)));
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise((r) => server.close(r));
  return port;
}

/** Writes an nginx config (round-robin upstream, keep-alive, one worker, files in `dir`) and starts it. */
async function startNginx(dir: string, upstreams: number[]): Promise<{ port: number; child: ChildProcess }> {
  const port = await freePort();
  const conf = `worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${dir}/body; proxy_temp_path ${dir}/proxy; fastcgi_temp_path ${dir}/fcgi; uwsgi_temp_path ${dir}/uwsgi; scgi_temp_path ${dir}/scgi;
  upstream backends { ${upstreams.map((p) => `server 127.0.0.1:${p};`).join(' ')} keepalive 64; }
  server {
    listen 127.0.0.1:${port};
    location / { proxy_pass http://backends; proxy_http_version 1.1; proxy_set_header Connection ""; }
  }
}
`;
  await writeFile(path.join(dir, 'nginx.conf'), conf);
  const child = spawn('nginx', ['-c', path.join(dir, 'nginx.conf'), '-p', dir], { stdio: ['ignore', 'ignore', 'inherit'] });
  const deadline = Date.now() + 10_000;
  while (!(await fetch(`http://127.0.0.1:${port}/`).then((r) => r.ok, () => false))) {
    if (Date.now() > deadline) throw new Error(`bench: nginx did not answer (see ${dir}/error.log)`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return { port, child };
}

/** Runs wrk against `port` and parses requests/s, p99 and any error lines. */
async function wrk(port: number, args = WRK_ARGS): Promise<WrkResult> {
  const { stdout } = await run('wrk', [...args, `http://127.0.0.1:${port}/`], { maxBuffer: 1 << 20 });
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

async function main(): Promise<void> {
  if (!has('wrk') || !has('nginx')) {
    console.log('bench/proxy: needs wrk and nginx on PATH. Install them (as root): apt-get install -y wrk nginx');
    return;
  }
  const children: ChildProcess[] = [];
  const dir = await mkdtemp(path.join(os.tmpdir(), 'berth-bench-proxy-'));
  let nginx: ChildProcess | undefined;
  try {
    const backends = await Promise.all([0, 1, 2].map((i) => spawnWithPort(['--input-type=module', '-e', BACKEND_SRC, `b${i}`])));
    children.push(...backends.map((b) => b.child));
    const ports = backends.map((b) => b.port);
    const berth = await spawnWithPort(['--import', 'tsx', import.meta.filename, '--serve-proxy', ports.join(',')]);
    children.push(berth.child);
    const ng = await startNginx(dir, ports);
    nginx = ng.child;
    const results: Record<string, WrkResult> = {};
    for (const [name, port] of [['berth', berth.port], ['nginx', ng.port]] as const) {
      await wrk(port, WARMUP_ARGS);
      results[name] = await wrk(port);
    }
    print(results.berth!, results.nginx!);
  } finally {
    if (nginx) await stopNginx(dir, nginx);
    for (const c of children) c.kill('SIGTERM');
    await rm(dir, { recursive: true, force: true });
  }
}

function print(berth: WrkResult, nginx: WrkResult): void {
  console.log(`proxy bench: wrk ${WRK_ARGS.join(' ')} on loopback, 3 Node backends, round-robin, ${os.cpus().length} CPUs`);
  console.log(`${'target'.padEnd(8)} ${'req/s'.padStart(10)} ${'p99 ms'.padStart(8)}  errors`);
  for (const [name, r] of [['berth', berth], ['nginx', nginx]] as const) {
    console.log(`${name.padEnd(8)} ${r.rps.toFixed(0).padStart(10)} ${r.p99Ms.toFixed(2).padStart(8)}  ${r.errors}`);
  }
  console.log(`berth/nginx: throughput ${(100 * berth.rps / nginx.rps).toFixed(0)} % (goal >= 70 %), p99 ${(berth.p99Ms / nginx.p99Ms).toFixed(2)}x (goal <= 2x)`);
}

const at = process.argv.indexOf('--serve-proxy');
if (at >= 0) await serveProxy((process.argv[at + 1] ?? '').split(',').map(Number));
else await main();
