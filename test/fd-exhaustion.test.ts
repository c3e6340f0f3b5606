/**
 * A true descriptor-exhaustion attempt: berth's API server and a TCP proxy run in a child process whose
 * RLIMIT_NOFILE is 512 (prlimit). 1,500 connections to the proxy and 300 SSE watchers do not exhaust its descriptors:
 * /healthz answers and the operator's own work (100 probe connections, 20 files at once) still gets descriptors.
 * Loopback only; the flood is bounded in count and the child ends with the test.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const NOFILE = 512;
const CHILD = fileURLToPath(new URL('./helpers/fd-child.ts', import.meta.url));
let child: ChildProcessWithoutNullStreams;
let next: () => Promise<Record<string, unknown>>;
let ports: { api: number; proxy: number; limits: Record<string, number> };
const sockets: net.Socket[] = [];

/** Opens a connection and resolves once it is connected, refused or closed (at most 2 s). */
const connectOnce = (port: number, localAddress: string) => new Promise<void>((resolve) => {
  const s = net.connect({ port, host: '127.0.0.1', localAddress });
  sockets.push(s);
  const t = setTimeout(resolve, 2_000);
  const done = () => { clearTimeout(t); resolve(); };
  s.on('error', done).once('connect', done).once('close', done);
  s.resume();
});

beforeAll(async () => {
  child = spawn('prlimit', [`--nofile=${NOFILE}:${NOFILE}`, '--', process.execPath, '--import', 'tsx', CHILD], { cwd: fileURLToPath(new URL('..', import.meta.url)) });
  child.stderr.on('data', (d) => process.stderr.write(`fd-child: ${String(d)}`));
  const out = readline.createInterface({ input: child.stdout });
  const queue: string[] = [];
  const waiters: ((line: string) => void)[] = [];
  out.on('line', (line) => (waiters.length ? waiters.shift()!(line) : queue.push(line)));
  next = () => new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('fd-child did not answer')), 20_000);
    const take = (line: string) => { clearTimeout(t); resolve(JSON.parse(line) as Record<string, unknown>); };
    if (queue.length) take(queue.shift()!);
    else waiters.push(take);
  });
  ports = (await next()) as unknown as typeof ports;
}, 60_000);

afterAll(() => {
  for (const s of sockets) s.destroy();
  child?.stdin.end();
  child?.kill();
});

describe('descriptor exhaustion under RLIMIT_NOFILE 512', () => {
  it('derives the budget from the limit', () => {
    expect(ports.limits).toMatchObject({ noFile: NOFILE, maxConnections: 128 });
  });

  it('keeps /healthz and the operator\'s own descriptors available under a flood of proxy connections and watchers', async () => {
    const addresses = ['127.0.0.2', '127.0.0.3', '127.0.0.4'];
    for (let i = 0; i < 1_500; i += 100) {
      await Promise.all(Array.from({ length: 100 }, (_, j) => connectOnce(ports.proxy, addresses[(i + j) % addresses.length]!)));
    }
    const watchers = await Promise.all(Array.from({ length: 300 }, (_, i) => new Promise<number>((resolve) => {
      const req = http.get({ host: '127.0.0.1', port: ports.api, path: '/v1/watch', localAddress: addresses[i % 3], agent: false }, (res) => resolve(res.statusCode ?? 0));
      req.on('error', () => resolve(-1));
      req.setTimeout(5_000, () => { req.destroy(); resolve(-2); });
    })));
    const health = await fetch(`http://127.0.0.1:${ports.api}/healthz`);
    expect(health.status).toBe(200);
    child.stdin.write('probe\n');
    expect(await next()).toEqual({ connected: 100, files: 20, errors: [] });
    // the watchers got 200 up to the caps and 503 / 429 (or a closed connection) beyond
    expect(watchers.filter((s) => s === 200).length).toBeLessThanOrEqual(Number(ports.limits.maxWatchers));
    expect(watchers.filter((s) => s === 503 || s === 429).length).toBeGreaterThan(0);
  }, 60_000);
});
