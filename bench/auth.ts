/**
 * What the API's authentication costs:
 *   (a) Guard.check per request: the cached path (a token verified once: a SHA-256 and a map lookup) in µs, median over
 *       20k calls on a fake request, and the first, uncached check (scrypt, N=16384) in ms;
 *   (b) GET /v1/status through startServer on loopback without a guard vs with a Guard and a bearer token (keep-alive,
 *       5000 sequential requests, median and p99);
 *   (c) the same over berth's HTTPS server vs a bare node:https server with the same certificate (openssl-made, RSA
 *       2048) answering the same JSON, with keep-alive and with a new TLS connection per request (handshake included).
 * Run: npx tsx bench/auth.ts
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Guard } from '../operator/auth/guard.ts';
import { TokenStore } from '../operator/auth/tokens.ts';
import { Metrics } from '../operator/server/metrics.ts';
import { startServer, type Server } from '../operator/server/server.ts';
import type { StatusDoc } from '../operator/status/report.ts';
import { silentLogger } from '../operator/util/log.ts';
import { median } from './lib.ts';

const run = promisify(execFile);
const GUARD_CALLS = 20_000;
const FIRST_CHECKS = 7;
const REQUESTS = 5_000;
const NEW_CONN_REQUESTS = 500;
const WARMUP = 300;

/** A small status document, the same bytes from every server. */
const STATUS = { apiVersion: 'berth/v1', kind: 'Status', instance: 'bench', revision: { latest: 'a'.repeat(40), applied: 'a'.repeat(40) }, conditions: [{ type: 'Ready', status: 'True', reason: 'Converged' }], services: {} } as unknown as StatusDoc;

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
}

const nowUs = (): number => Number(process.hrtime.bigint()) / 1000;

/** One GET, body read; resolves with its status. */
function get(url: string, opts: https.RequestOptions): Promise<number> {
  const mod = url.startsWith('https') ? https : http;
  return new Promise((resolve, reject) => {
    const req = mod.get(url, opts, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
  });
}

interface Row { what: string; n: number; medianUs: number; p99Us: number; rps: number }

/** `n` sequential requests (after a warmup); latency of each in µs. */
async function measure(what: string, url: string, opts: https.RequestOptions, n: number): Promise<Row> {
  for (let i = 0; i < Math.min(WARMUP, n); i++) {
    const s = await get(url, opts);
    if (s !== 200) throw new Error(`bench: ${what}: HTTP ${s}`);
  }
  const lat: number[] = [];
  const start = nowUs();
  for (let i = 0; i < n; i++) {
    const t = nowUs();
    const s = await get(url, opts);
    lat.push(nowUs() - t);
    if (s !== 200) throw new Error(`bench: ${what}: HTTP ${s}`);
  }
  const total = nowUs() - start;
  return { what, n, medianUs: median(lat), p99Us: pct(lat, 99), rps: (n * 1e6) / total };
}

async function main(): Promise<void> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'berth-bench-auth-'));
  const closers: (() => Promise<void>)[] = [];
  try {
    // (a) the guard alone
    const store = TokenStore.open(dir);
    const { token } = await store.create({ name: 'bench', role: 'viewer' });
    const guard = new Guard({ tokens: store });
    const fakeReq = (t: string) => ({ method: 'GET', url: '/v1/status', headers: { authorization: `Bearer ${t}` }, socket: { remoteAddress: '127.0.0.1' } }) as unknown as http.IncomingMessage;
    const firstMs: number[] = [];
    for (let i = 0; i < FIRST_CHECKS; i++) {
      const fresh = new Guard({ tokens: TokenStore.open(dir) }); // a new store: nothing cached
      const t = nowUs();
      const v = await fresh.check(fakeReq(token), '/v1/status');
      firstMs.push((nowUs() - t) / 1000);
      if (!v.ok) throw new Error('bench: the token did not verify');
    }
    const req = fakeReq(token);
    await guard.check(req, '/v1/status'); // verified once: cached from now on
    const cachedUs: number[] = [];
    for (let i = 0; i < GUARD_CALLS; i++) {
      const t = nowUs();
      const v = await guard.check(req, '/v1/status');
      cachedUs.push(nowUs() - t);
      if (!v.ok) throw new Error('bench: cached check failed');
    }
    const openUs: number[] = [];
    const healthz = fakeReq(token);
    for (let i = 0; i < GUARD_CALLS; i++) {
      const t = nowUs();
      await guard.check(healthz, '/healthz');
      openUs.push(nowUs() - t);
    }

    // (b) and (c): servers
    await run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem'), '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost']);
    const cert = await readFile(path.join(dir, 'cert.pem'));
    const key = await readFile(path.join(dir, 'key.pem'));
    const base = { log: silentLogger, metrics: new Metrics(), status: () => STATUS, trigger: () => undefined };
    const serve = async (deps: Partial<Parameters<typeof startServer>[2]>): Promise<Server> => {
      const s = await startServer('127.0.0.1', 0, { ...base, ...deps });
      closers.push(() => s.close());
      return s;
    };
    const open = await serve({});
    const guarded = await serve({ guard });
    const tlsGuarded = await serve({ guard, tls: { cert, key } });
    const tlsOpen = await serve({ tls: { cert, key } });
    const body = JSON.stringify(STATUS) + '\n';
    const bare = https.createServer({ cert, key, minVersion: 'TLSv1.2' }, (r, res) => {
      r.resume();
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(body);
    });
    await new Promise<void>((resolve) => bare.listen(0, '127.0.0.1', resolve));
    closers.push(() => new Promise((resolve) => { bare.closeAllConnections(); bare.close(() => resolve()); }));
    const bareUrl = `https://127.0.0.1:${(bare.address() as AddressInfo).port}/v1/status`;

    const auth = { authorization: `Bearer ${token}` };
    const httpAgent = () => new http.Agent({ keepAlive: true, maxSockets: 1 });
    const httpsAgent = () => new https.Agent({ keepAlive: true, maxSockets: 1, ca: cert });
    const rows: Row[] = [];
    rows.push(await measure('http  berth, no guard', `${open.url}/v1/status`, { agent: httpAgent() }, REQUESTS));
    rows.push(await measure('http  berth, guard + token', `${guarded.url}/v1/status`, { agent: httpAgent(), headers: auth }, REQUESTS));
    rows.push(await measure('https bare node:https, keep-alive', bareUrl, { agent: httpsAgent() }, REQUESTS));
    rows.push(await measure('https berth, no guard, keep-alive', `${tlsOpen.url}/v1/status`, { agent: httpsAgent() }, REQUESTS));
    rows.push(await measure('https berth, guard + token, keep-alive', `${tlsGuarded.url}/v1/status`, { agent: httpsAgent(), headers: auth }, REQUESTS));
    // agent: false = a new connection and a full TLS handshake (no session resumption) per request
    rows.push(await measure('https bare node:https, new conn each', bareUrl, { agent: false, ca: cert }, NEW_CONN_REQUESTS));
    rows.push(await measure('https berth, guard + token, new conn each', `${tlsGuarded.url}/v1/status`, { agent: false, ca: cert, headers: auth }, NEW_CONN_REQUESTS));

    console.log(`auth bench: node ${process.version}, ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? '?'}), loopback, sequential requests`);
    console.log(`guard, cached token:   median ${median(cachedUs).toFixed(2)} µs, p99 ${pct(cachedUs, 99).toFixed(2)} µs (${GUARD_CALLS} calls, fake request)`);
    console.log(`guard, open route:     median ${median(openUs).toFixed(2)} µs (/healthz, no credential looked at)`);
    console.log(`guard, first check:    median ${median(firstMs).toFixed(2)} ms, min ${Math.min(...firstMs).toFixed(2)} ms (scrypt N=16384 r=8, ${FIRST_CHECKS} fresh stores)`);
    console.log(['request'.padEnd(44), 'n'.padStart(5), 'median µs'.padStart(10), 'p99 µs'.padStart(9), 'req/s'.padStart(8)].join(' '));
    for (const r of rows) console.log([r.what.padEnd(44), String(r.n).padStart(5), r.medianUs.toFixed(0).padStart(10), r.p99Us.toFixed(0).padStart(9), r.rps.toFixed(0).padStart(8)].join(' '));
    const [plain, withGuard] = [rows[0]!, rows[1]!];
    console.log(`guard cost end to end (keep-alive http): ${(withGuard.medianUs - plain.medianUs).toFixed(1)} µs median per request`);
    store.close();
  } finally {
    for (const c of closers) await c();
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
