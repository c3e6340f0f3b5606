/**
 * The real `berth proxy` process with --proxy-workers 1 and 2 on a published port, TCP round-robin and HTTP
 * round-robin over 3 local Node HTTP backends: wrk -t2 -c50 -d10s --latency on loopback after a 2 s warmup. A last
 * run puts 2 workers under cluster round-robin scheduling (NODE_CLUSTER_SCHED_POLICY=rr, the primary accepting every
 * connection) to compare with the kernel spreading them (SCHED_NONE, berth's choice). wrk keeps its 50 connections
 * open, so the kernel's spread is fixed for a run. Run: npx tsx bench/proxy-workers.ts (needs wrk).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { controlRequest } from '../operator/dataplane/control-client.ts';
import { freePort } from '../test/helpers/net.ts';

const run = promisify(execFile);
const ROOT = path.resolve(import.meta.dirname, '..');
const BACKEND_SRC = `
import http from 'node:http';
const body = Buffer.from('hello from ' + process.argv[1] + '\\n');
const server = http.createServer((req, res) => { req.resume(); res.writeHead(200, { 'content-type': 'text/plain', 'content-length': body.length }).end(body); });
server.keepAliveTimeout = 65_000;
server.listen(0, '127.0.0.1', () => console.log(server.address().port));
`;

function backend(i: number): Promise<{ child: ChildProcess; port: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', BACKEND_SRC, `b${i}`], { stdio: ['ignore', 'pipe', 'inherit'] });
    child.stdout!.once('data', (d) => resolve({ child, port: Number(String(d).trim()) }));
    child.once('error', reject);
  });
}

async function measure(port: number): Promise<string> {
  const url = `http://127.0.0.1:${port}/`;
  await run('wrk', ['-t2', '-c50', '-d2s', url]);
  const { stdout } = await run('wrk', ['-t2', '-c50', '-d10s', '--latency', url], { maxBuffer: 1 << 20 });
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(stdout)?.[1] ?? NaN);
  const p99 = /\s99%\s+([\d.]+)(us|ms|s)/.exec(stdout);
  const errors = [/Socket errors:.*/.exec(stdout)?.[0], /Non-2xx or 3xx responses:.*/.exec(stdout)?.[0]].filter(Boolean).join('; ') || 'none';
  return `${rps.toFixed(0).padStart(7)} req/s  p99 ${p99 ? `${p99[1]}${p99[2]}` : '?'}  errors: ${errors}`;
}

async function withProxy(workers: number, env: NodeJS.ProcessEnv, ports: number[], fn: (tcp: number, http: number) => Promise<void>): Promise<void> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'bwb-'));
  const [tcp, http] = [await freePort(), await freePort()];
  const lb = (protocol: 'tcp' | 'http', port: number) => ({ algorithm: 'round-robin', protocol, targetPort: 80, weight: 1, publish: { port, host: '127.0.0.1' } });
  const endpoints = ports.map((p, i) => ({ id: `b${i}`, address: '127.0.0.1', port: p, weight: 1, ready: true }));
  const config = { services: [{ key: 'b/tcp', spec: { loadBalancer: lb('tcp', tcp) } }, { key: 'b/http', spec: { loadBalancer: lb('http', http) } }], routes: [], endpoints: { 'b/tcp': endpoints, 'b/http': endpoints } };
  await fs.writeFile(path.join(dir, 'proxy-bench.json'), JSON.stringify(config), { mode: 0o600 });
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'operator/cli.ts'), 'proxy', '--state-dir', dir, '--instance', 'bench', '--proxy-workers', String(workers), '--log-level', 'warn'],
    { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, ...env } });
  try {
    const socket = path.join(dir, 'proxy-bench.sock');
    const deadline = Date.now() + 30_000;
    for (;;) {
      const key = await fs.readFile(path.join(dir, 'proxy-bench.key'), 'utf8').catch(() => '');
      const ok = key && await controlRequest({ socket, key: key.trim() }, 'GET', '/healthz').then((r) => r.status === 200, () => false);
      if (ok) break;
      if (Date.now() > deadline) throw new Error('bench: berth proxy did not answer');
      await new Promise((r) => setTimeout(r, 100));
    }
    await fn(tcp, http);
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    await fs.rm(dir, { recursive: true, force: true });
  }
}

const bs = await Promise.all([0, 1, 2].map(backend));
const ports = bs.map((b) => b.port);
console.log(`cores: ${os.availableParallelism()}; wrk -t2 -c50 -d10s --latency; 3 node backends; everything on this host`);
try {
  for (const [workers, env, label] of [[1, {}, '1 worker      '], [2, {}, '2 workers none'], [2, { NODE_CLUSTER_SCHED_POLICY: 'rr' }, '2 workers rr  ']] as const) {
    await withProxy(workers, env, ports, async (tcp, http) => {
      console.log(`${label}  tcp  round-robin ${await measure(tcp)}`);
      console.log(`${label}  http round-robin ${await measure(http)}`);
    });
  }
} finally {
  for (const b of bs) b.child.kill('SIGTERM');
}
