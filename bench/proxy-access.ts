/**
 * The cost of the proxy's access counters (operator/proxy/access-stats.ts): the same build of berth's HTTP-mode
 * proxy, round-robin over 3 local Node backends (bench/proxy.ts's HTTP round-robin scenario), with recording on and
 * off (BERTH_ACCESS_STATS=0 in the proxy process). wrk -t2 -c50 -d10s on loopback after a 2 s warmup; RUNS runs per
 * side, alternated (off, on, off, on, ...) so both sides see the same drift of background load; medians compared.
 * Goal: recording costs under 3 % of requests/s. Run: npx tsx bench/proxy-access.ts [runs]
 * Needs wrk (apt-get install -y wrk).
 */
import { execFile, execFileSync, type ChildProcess } from 'node:child_process';
import os from 'node:os';
import { promisify } from 'node:util';
import { accessSnapshot, ServiceAccess } from '../operator/proxy/access-stats.ts';
import { startProxy } from '../operator/proxy/proxy.ts';
import { median, spawnWithPort } from './lib.ts';

const run = promisify(execFile);
const WRK_ARGS = ['-t2', '-c50', '-d10s', '--latency'];
const WARMUP_ARGS = ['-t2', '-c50', '-d2s'];
const GOAL_COST = 0.03;

/** A keep-alive backend answering a small fixed body (as bench/proxy.ts's). */
const BACKEND_SRC = `
import http from 'node:http';
const body = Buffer.from('hello from ' + process.argv[1] + '\\n');
const server = http.createServer((req, res) => { req.resume(); res.writeHead(200, { 'content-type': 'text/plain', 'content-length': body.length }).end(body); });
server.keepAliveTimeout = 65_000;
server.listen(0, '127.0.0.1', () => console.log(server.address().port));
`;


async function measure(port: number): Promise<{ rps: number; p99Ms: number }> {
  await run('wrk', [...WARMUP_ARGS, `http://127.0.0.1:${port}/`], { maxBuffer: 1 << 20 });
  const { stdout } = await run('wrk', [...WRK_ARGS, `http://127.0.0.1:${port}/`], { maxBuffer: 1 << 20 });
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(stdout)?.[1] ?? NaN);
  const p99 = /\s99%\s+([\d.]+)(us|ms|s)/.exec(stdout);
  const scale = { us: 0.001, ms: 1, s: 1000 } as const;
  return { rps, p99Ms: p99 ? Number(p99[1]) * scale[p99[2] as keyof typeof scale] : NaN };
}

/** Child mode: the HTTP round-robin proxy over the given ports; prints its port, and on SIGTERM how many requests it counted and served. */
async function serveProxy(ports: number[]): Promise<void> {
  const p = await startProxy({
    host: '127.0.0.1', port: 0, mode: 'http', algorithm: 'round-robin', service: 'bench/web',
    endpoints: ports.map((port, i) => ({ id: `b${i}`, address: `127.0.0.1:${port}`, weight: 1 })),
  });
  console.log(p.port);
  process.on('SIGTERM', () => {
    const counted = accessSnapshot().listeners.flatMap((l) => l.services).reduce((n, s) => n + s.duration.count, 0);
    console.error(`proxy (recording ${process.env.BERTH_ACCESS_STATS === '0' ? 'off' : 'on'}): ${counted} requests counted, ${p.stats().total} served`);
    void p.close().then(() => process.exit(0));
  });
}

/**
 * The recording's own CPU time per request, measured in process (what wrk cannot resolve on a loaded host): the two
 * clock reads and the record() call a request makes, against rotating statuses, durations and 3 endpoints.
 */
function recordNs(): number {
  const s = new ServiceAccess('bench/web');
  const endpoints = ['127.0.0.1:1', '127.0.0.1:2', '127.0.0.1:3'];
  const statuses = [200, 200, 200, 404, 502];
  const n = 2_000_000;
  let best = Infinity;
  for (let round = 0; round < 5; round++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) {
      const start = performance.now();
      s.inFlight++;
      s.inFlight--;
      s.record(statuses[i % 5]!, 'upstream', performance.now() - start + (i % 64), 0, 27, endpoints[i % 3]);
    }
    best = Math.min(best, Number(process.hrtime.bigint() - t0) / n);
  }
  return best;
}

async function main(): Promise<void> {
  const ns = recordNs();
  console.log(`recording per request: ${ns.toFixed(0)} ns of CPU (best of 5 x 2M, in process)`);
  try {
    execFileSync('sh', ['-c', 'command -v wrk'], { stdio: 'ignore' });
  } catch {
    console.log('bench/proxy-access: needs wrk on PATH. Install it (as root): apt-get install -y wrk');
    return;
  }
  const runs = Number(process.argv[2] ?? 3);
  const children: ChildProcess[] = [];
  try {
    const backends = await Promise.all([0, 1, 2].map((i) => spawnWithPort(['--input-type=module', '-e', BACKEND_SRC, `b${i}`])));
    children.push(...backends.map((b) => b.child));
    const ports = backends.map((b) => b.port).join(',');
    const proxy = async (recording: boolean) => {
      const p = await spawnWithPort(['--import', 'tsx', import.meta.filename, '--serve-proxy', ports], { ...process.env, BERTH_ACCESS_STATS: recording ? '1' : '0' });
      children.push(p.child);
      return p.port;
    };
    const off = await proxy(false);
    const on = await proxy(true);
    const results = { off: [] as number[], on: [] as number[], offP99: [] as number[], onP99: [] as number[] };
    for (let i = 0; i < runs; i++) {
      const a = await measure(off);
      const b = await measure(on);
      results.off.push(a.rps);
      results.offP99.push(a.p99Ms);
      results.on.push(b.rps);
      results.onP99.push(b.p99Ms);
      console.log(`run ${i + 1}: off ${a.rps.toFixed(0)} req/s (p99 ${a.p99Ms.toFixed(2)} ms), on ${b.rps.toFixed(0)} req/s (p99 ${b.p99Ms.toFixed(2)} ms)`);
    }
    const mOff = median(results.off);
    const mOn = median(results.on);
    const cost = 1 - mOn / mOff;
    console.log(`proxy access counters: wrk ${WRK_ARGS.join(' ')}, http round-robin over 3 Node backends, ${runs} alternated runs per side, ${os.cpus().length} CPUs`);
    console.log(`median off ${mOff.toFixed(0)} req/s (p99 ${median(results.offP99).toFixed(2)} ms), on ${mOn.toFixed(0)} req/s (p99 ${median(results.onP99).toFixed(2)} ms)`);
    console.log(`cost ${(100 * cost).toFixed(1)} % of requests/s (goal < ${GOAL_COST * 100} %): ${cost < GOAL_COST ? 'met' : 'NOT met'}`);
    // the proxy is one thread: at R req/s each request has 1/R s of it; the recording takes `ns` of that
    console.log(`recording = ${((ns * mOn) / 1e7).toFixed(2)} % of the proxy thread's time per request at ${mOn.toFixed(0)} req/s`);
  } finally {
    for (const c of children) c.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 300));
  }
}

const at = process.argv.indexOf('--serve-proxy');
if (at >= 0) await serveProxy((process.argv[at + 1] ?? '').split(',').map(Number));
else await main();
