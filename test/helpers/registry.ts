/**
 * A real image registry for integration tests and benches: Debian's `docker-registry` (CNCF distribution 2.8), with
 * TLS (a CA of its own, trusted by this host's engines through /etc/docker/certs.d/HOST:PORT/ca.crt) and htpasswd
 * (bcrypt) basic auth, both on by default. Usable from a vitest file (`beforeAll(() => startTestRegistry())`,
 * `afterAll(() => reg.stop())`) and from a bench script.
 *
 * Why 10.98.0.1: dockerd treats registries on 127.0.0.0/8 as insecure (it skips TLS verification and falls back to
 * plain HTTP), so a TLS registry the engines really verify must listen on another address of this host. The helper
 * adds 10.98.0.1/32 to `lo` when it is absent (the kernel here has no dummy module) and leaves it there: several test
 * files share it, it is reachable only from this host, and it survives nothing beyond a reboot.
 * Without TLS (`tls: false`) the registry listens on 127.0.0.1, which every engine speaks plain HTTP to.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The non-loopback address of this host that TLS registries listen on (added to `lo`, left in place). */
export const REGISTRY_ADDRESS = '10.98.0.1';
/** CA and server certificate of test registries: generated once with openssl, reused across runs. */
export const REGISTRY_TLS_DIR = '/var/lib/berth-registry/tls';
/** Where this host's engines look for a registry's CA. */
export const DOCKER_CERTS_DIR = '/etc/docker/certs.d';
/** Base image of pushSized (built locally by scripts/provision.sh / test/global-setup.ts). */
const BASE_IMAGE = 'berth-local/busybox:1';
const MAX_REQUESTS = 10_000;
/** Path of settledRequests()'s marker requests (left out of requests()). */
const MARKER = '/v2/?berth-log-marker=';

export interface RegistryRequest {
  method: string;
  /** The request URI as logged: path and query, e.g. `/v2/shop/api/manifests/1`. */
  path: string;
  status: number;
}

export interface TestRegistry {
  /** `HOST:PORT` as used in image refs, e.g. `10.98.0.1:40123` (`127.0.0.1:PORT` without TLS). */
  host: string;
  username: string;
  /** Distinctive (`reg-pw-<hex>`): tests grep logs and errors for it. */
  password: string;
  /** PEM of the CA that signed the registry's certificate (also there without TLS, unused then). */
  caFile: string;
  tls: boolean;
  auth: boolean;
  /** Tags main-engine image `localImage` as `${host}/${repoTag}`, pushes it, removes that tag again; the manifest digest. */
  push(localImage: string, repoTag: string): Promise<string>;
  /** Builds FROM berth-local/busybox:1 plus one layer of `megabytes` MB of random bytes, pushes it as repoTag; its digest. */
  pushSized(repoTag: string, megabytes: number): Promise<string>;
  /** The requests the registry served, from its own access log, oldest first (the last 10,000). */
  requests(): RegistryRequest[];
  /**
   * requests() once the registry has logged everything answered so far: it sends a marker request (GET /v2/ with a
   * query, left out of the list) and waits for its access-log line (the log line of a request follows its answer).
   */
  settledRequests(): Promise<RegistryRequest[]>;
  /** The registry's output so far (its last 2,000 lines), for debugging a failing test. */
  log(): string;
  /** Kills the registry (by pid), removes its storage dir and its /etc/docker/certs.d/HOST:PORT dir. */
  stop(): Promise<void>;
}

export interface TestRegistryOptions {
  /** htpasswd basic auth (default true). */
  auth?: boolean;
  /** TLS on 10.98.0.1 (default true); false: plain HTTP on 127.0.0.1. */
  tls?: boolean;
}

export async function startTestRegistry(opts: TestRegistryOptions = {}): Promise<TestRegistry> {
  const auth = opts.auth ?? true;
  const tls = opts.tls ?? true;
  const address = tls ? REGISTRY_ADDRESS : '127.0.0.1';
  if (tls) await ensureAddress();
  const certs = await ensureTls();
  const dir = await mkdtemp(path.join(os.tmpdir(), 'berth-registry-'));
  const dockerConfig = path.join(dir, 'docker-config');
  await mkdir(dockerConfig, { mode: 0o700 });
  const username = 'berth-test';
  const password = `reg-pw-${randomBytes(12).toString('hex')}`;
  let child: ChildProcess | undefined;
  let certsDir: string | undefined;
  const lines: string[] = [];
  const requests: RegistryRequest[] = [];
  const markers = new Set<string>();
  let markerCount = 0;
  try {
    if (auth) await writeFile(path.join(dir, 'htpasswd'), await runWithInput('htpasswd', ['-Bin', username], password), { mode: 0o600 });
    const port = await freePortOn(address);
    const host = `${address}:${port}`;
    await writeFile(path.join(dir, 'config.yml'), config({ dir, host, tls: tls ? certs : undefined, auth }));
    if (tls) {
      certsDir = path.join(DOCKER_CERTS_DIR, host);
      await mkdir(certsDir, { recursive: true });
      await writeFile(path.join(certsDir, 'ca.crt'), await readFile(certs.ca));
    }
    child = spawn('docker-registry', ['serve', path.join(dir, 'config.yml')], { stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = new Promise<string>((resolve) => {
      child!.once('exit', (code, signal) => resolve(`docker-registry exited (${signal ?? code})`));
      child!.once('error', (err) => resolve(`docker-registry did not start: ${err.message}`));
    });
    for (const stream of [child.stdout!, child.stderr!]) {
      readline.createInterface({ input: stream }).on('line', (line) => {
        lines.push(line);
        if (lines.length > 2_000) lines.splice(0, lines.length - 2_000);
        const request = parseAccessLine(line);
        if (request?.path.startsWith(MARKER)) {
          markers.add(request.path);
        } else if (request) {
          requests.push(request);
          if (requests.length > MAX_REQUESTS) requests.splice(0, requests.length - MAX_REQUESTS);
        }
      });
    }
    await waitReady(host, tls, certs.ca, auth ? 401 : 200, exited, () => lines.slice(-20).join('\n'));
    const proc = child;
    // A bench or worker that exits without stop() must not leave the registry running (its temp dirs stay behind).
    const killOnExit = (): void => {
      try {
        if (proc.pid !== undefined && proc.exitCode === null) process.kill(proc.pid, 'SIGKILL');
      } catch { /* gone */ }
    };
    process.once('exit', killOnExit);
    const docker = (args: string[], input?: string): Promise<string> => runWithInput('docker', ['--config', dockerConfig, ...args], input);
    let loggedIn: Promise<unknown> | undefined;
    const login = (): Promise<unknown> => {
      if (!auth) return Promise.resolve();
      loggedIn ??= docker(['login', host, '-u', username, '--password-stdin'], password).catch((err) => {
        loggedIn = undefined;
        throw err;
      });
      return loggedIn;
    };
    const pushTagged = async (target: string): Promise<string> => {
      await login();
      const out = await docker(['push', target]);
      const digest = /digest: (sha256:[a-f0-9]{64}) size:/.exec(out)?.[1];
      if (!digest) throw new Error(`docker push ${target}: no digest in its output:\n${out}`);
      return digest;
    };
    let stopped = false;
    return {
      host,
      username,
      password,
      caFile: certs.ca,
      tls,
      auth,
      async push(localImage, repoTag) {
        const target = `${host}/${repoTag}`;
        await docker(['tag', localImage, target]);
        try {
          return await pushTagged(target);
        } finally {
          await docker(['rmi', target]).catch(() => undefined);
        }
      },
      async pushSized(repoTag, megabytes) {
        const target = `${host}/${repoTag}`;
        const ctx = await mkdtemp(path.join(dir, 'ctx-'));
        try {
          await writeFile(path.join(ctx, 'payload'), randomBytes(Math.round(megabytes * 1024 * 1024)));
          await writeFile(path.join(ctx, 'Dockerfile'), `FROM ${BASE_IMAGE}\nCOPY payload /payload\n`);
          await docker(['build', '-q', '-t', target, ctx]);
          return await pushTagged(target);
        } finally {
          await docker(['rmi', target]).catch(() => undefined);
          await rm(ctx, { recursive: true, force: true });
        }
      },
      requests: () => requests.slice(),
      async settledRequests() {
        const marker = `${MARKER}${++markerCount}`;
        await probe(host, tls, await readFile(certs.ca), marker);
        const deadline = Date.now() + 5_000;
        while (!markers.has(marker)) {
          if (Date.now() > deadline) throw new Error(`docker-registry on ${host} did not log ${marker} within 5 s`);
          await new Promise((resolve) => setTimeout(resolve, 5));
        }
        markers.delete(marker);
        return requests.slice();
      },
      log: () => lines.join('\n'),
      async stop() {
        if (stopped) return;
        stopped = true;
        process.removeListener('exit', killOnExit);
        await kill(proc, exited);
        await cleanup(dir, certsDir);
      },
    };
  } catch (err) {
    if (child) await kill(child, new Promise((resolve) => (child!.exitCode !== null || child!.signalCode !== null ? resolve(undefined) : child!.once('exit', resolve))));
    await cleanup(dir, certsDir);
    throw err;
  }
}

function config(o: { dir: string; host: string; tls?: TlsMaterial; auth: boolean }): string {
  const q = (s: string): string => JSON.stringify(s);
  return [
    'version: 0.1',
    'log:',
    '  level: info',
    '  formatter: text',
    '  accesslog:',
    '    disabled: false',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${q(path.join(o.dir, 'data'))}`,
    '  delete:',
    '    enabled: true',
    'http:',
    `  addr: ${q(o.host)}`,
    `  secret: ${q(randomBytes(16).toString('hex'))}`,
    ...(o.tls ? ['  tls:', `    certificate: ${q(o.tls.cert)}`, `    key: ${q(o.tls.key)}`] : []),
    ...(o.auth ? ['auth:', '  htpasswd:', '    realm: berth-test-registry', `    path: ${q(path.join(o.dir, 'htpasswd'))}`] : []),
    '',
  ].join('\n');
}

/**
 * One request from distribution's access log (gorilla's combined log format, one line per request on stdout):
 * `127.0.0.1 - - [02/Dec/2026:15:42:11 +0000] "GET /v2/x/manifests/y HTTP/1.1" 404 91 "" "curl/7.88.1"`.
 * The logrus lines (`msg="response completed" ... http.response.status=200`) are skipped: the 401s of the auth
 * challenge appear only in the access log.
 */
export function parseAccessLine(line: string): RegistryRequest | undefined {
  const m = /^\S+ \S+ \S+ \[[^\]]*\] "([A-Z]+) (\S+) HTTP\/[0-9.]+" ([0-9]{3}) /.exec(line);
  if (!m) return undefined;
  return { method: m[1]!, path: m[2]!, status: Number(m[3]) };
}

async function kill(child: ChildProcess, exited: Promise<unknown>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  try {
    process.kill(child.pid, 'SIGTERM');
  } catch {
    return;
  }
  const timer = setTimeout(() => {
    try {
      process.kill(child.pid!, 'SIGKILL');
    } catch { /* gone */ }
  }, 5_000);
  await exited;
  clearTimeout(timer);
}

async function cleanup(dir: string, certsDir: string | undefined): Promise<void> {
  await rm(dir, { recursive: true, force: true });
  if (certsDir) await rm(certsDir, { recursive: true, force: true });
}

/** Adds REGISTRY_ADDRESS/32 to `lo` unless some interface has it (concurrent callers: "File exists" is fine). */
async function ensureAddress(): Promise<void> {
  const has = async (): Promise<boolean> => (await run('ip', ['-4', '-o', 'addr', 'show'])).stdout.includes(` ${REGISTRY_ADDRESS}/`);
  if (await has()) return;
  try {
    await run('ip', ['addr', 'add', `${REGISTRY_ADDRESS}/32`, 'dev', 'lo']);
  } catch (err) {
    if (!(await has())) throw new Error(`could not add ${REGISTRY_ADDRESS}/32 to lo (needs root): ${(err as { stderr?: string }).stderr ?? (err as Error).message}`);
  }
}

/** A TCP port free on `address` right now. */
async function freePortOn(address: string): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, address, resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

interface TlsMaterial {
  ca: string;
  cert: string;
  key: string;
}

/**
 * The CA and the server certificate (SAN IP:10.98.0.1, IP:127.0.0.1, DNS:localhost) under REGISTRY_TLS_DIR, made once.
 * Test files racing to make them each write a temp dir and rename it into place: the first rename wins, the others
 * find the directory there and discard theirs.
 */
async function ensureTls(): Promise<TlsMaterial> {
  const files: TlsMaterial = { ca: path.join(REGISTRY_TLS_DIR, 'ca.pem'), cert: path.join(REGISTRY_TLS_DIR, 'server.pem'), key: path.join(REGISTRY_TLS_DIR, 'server-key.pem') };
  const complete = async (): Promise<boolean> => (await Promise.all(Object.values(files).map((f) => stat(f).then(() => true, () => false)))).every(Boolean);
  if (await complete()) return files;
  const parent = path.dirname(REGISTRY_TLS_DIR);
  await mkdir(parent, { recursive: true });
  const tmp = await mkdtemp(path.join(parent, 'tls-tmp-'));
  try {
    const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
    const openssl = (args: string[]): Promise<unknown> => run('openssl', args, { cwd: tmp });
    await openssl(['req', '-x509', ...ec, '-keyout', 'ca-key.pem', '-out', 'ca.pem', '-days', '3650', '-subj', '/CN=berth test registry CA',
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
    await openssl(['req', '-new', ...ec, '-keyout', 'server-key.pem', '-out', 'server.csr', '-subj', '/CN=berth-test-registry']);
    await writeFile(path.join(tmp, 'server.ext'), `subjectAltName=IP:${REGISTRY_ADDRESS},IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature,keyEncipherment\n`);
    await openssl(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca-key.pem', '-CAcreateserial', '-days', '3650', '-extfile', 'server.ext', '-out', 'server.pem']);
    await Promise.all(['server.csr', 'server.ext', 'ca.srl'].map((f) => rm(path.join(tmp, f), { force: true })));
    await Promise.all([chmod(tmp, 0o755), chmod(path.join(tmp, 'ca-key.pem'), 0o600), chmod(path.join(tmp, 'server-key.pem'), 0o600)]);
    try {
      await rename(tmp, REGISTRY_TLS_DIR);
    } catch (err) {
      // Another test file won the race (ENOTEMPTY/EEXIST), or a partial dir is in the way.
      if (!(await complete())) throw err;
    }
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  if (!(await complete())) throw new Error(`${REGISTRY_TLS_DIR} is incomplete: remove it and run again`);
  return files;
}

/** Polls GET /v2/ until it answers `status`, within 20 s. */
async function waitReady(host: string, tls: boolean, caFile: string, status: number, exited: Promise<string>, tail: () => string): Promise<void> {
  const ca = await readFile(caFile);
  const deadline = Date.now() + 20_000;
  let gone: string | undefined;
  void exited.then((why) => (gone = why));
  let last = '';
  while (Date.now() < deadline) {
    if (gone) throw new Error(`${gone} before answering on ${host}:\n${tail()}`);
    try {
      const got = await probe(host, tls, ca);
      if (got === status) return;
      last = `GET /v2/ answered ${got}, expected ${status}`;
    } catch (err) {
      last = (err as Error).message;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`docker-registry on ${host} not ready within 20 s (${last}):\n${tail()}`);
}

function probe(host: string, tls: boolean, ca: Buffer, target = '/v2/'): Promise<number> {
  const [hostname, port] = host.split(':') as [string, string];
  return new Promise((resolve, reject) => {
    const options = { hostname, port: Number(port), path: target, method: 'GET', agent: false as const, timeout: 2_000 };
    const req = tls ? https.request({ ...options, ca }) : http.request(options);
    req.on('response', (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

/** Runs a command with `input` on its stdin; its stdout (rejects with stdout+stderr on a non-zero exit). */
function runWithInput(cmd: string, args: string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolve(out);
      else reject(new Error(`${cmd} ${args.filter((a) => !a.startsWith('reg-pw-')).join(' ')} exited ${code}: ${(err || out).trim().slice(-2_000)}`));
    });
    child.stdin.end(input ?? '');
  });
}
