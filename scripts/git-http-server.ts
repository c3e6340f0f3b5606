/**
 * A small git smart-HTTP server: node:http in front of Debian git's CGI `git-http-backend`.
 * Used by the integration tests, the benchmarks and `npm start` (a local "remote" to push manifests to).
 *
 * CLI: `tsx scripts/git-http-server.ts --root DIR [--port N] [--host H] [--init NAME]`
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { timingSafeEqual } from 'node:crypto';
import { createGunzip } from 'node:zlib';
import type { AddressInfo } from 'node:net';
import type { Readable } from 'node:stream';

const execFileAsync = promisify(execFile);
const BACKEND = '/usr/lib/git-core/git-http-backend';

/** What the server tells an `onRequest` hook about each request before serving it. */
export interface GitRequestInfo {
  method: string;
  /** Path below the root, e.g. `/repo.git/info/refs`. */
  path: string;
  query: string;
  /** The `Git-Protocol` request header (`version=2` for protocol v2), or '' when absent. */
  gitProtocol: string;
}

export interface GitServerOptions {
  /** Directory holding the bare repositories (GIT_PROJECT_ROOT). */
  root: string;
  /** Default 127.0.0.1. */
  host?: string;
  /** 0 (default) picks a free port. */
  port?: number;
  /** Called with the repository name (path below root, e.g. `repo.git`) after a `git-receive-pack` POST finished. */
  onPush?: (repo: string) => void;
  /** Awaited before each request is served; lets tests observe or interleave requests. */
  onRequest?: (info: GitRequestInfo) => void | Promise<void>;
  /** When set, every request needs HTTP basic auth with these credentials (401 otherwise). */
  auth?: { username: string; password: string };
}

export interface GitServer {
  /** `http://host:port` (append `/<repo>.git`). */
  url: string;
  port: number;
  /** Stops listening, ends open connections and running CGI processes. */
  close(): Promise<void>;
}

/** Starts the server; resolves once it listens. */
export async function startGitServer(opts: GitServerOptions): Promise<GitServer> {
  const host = opts.host ?? '127.0.0.1';
  const root = resolve(opts.root);
  const children = new Set<ChildProcess>();
  const server = createServer((req, res) => {
    handle(req, res, { ...opts, root }, children).catch((err: unknown) => fail(res, 500, String(err)));
  });
  server.keepAliveTimeout = 2_000;
  await new Promise<void>((ok, ko) => {
    server.once('error', ko);
    server.listen(opts.port ?? 0, host, () => ok());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    port,
    close: async () => {
      for (const child of children) child.kill('SIGKILL');
      const closed = new Promise<void>((ok) => server.close(() => ok()));
      server.closeAllConnections();
      await closed;
    },
  };
}

/** Creates `root/name` as a bare repository whose HEAD points at `branch`, with pushes over HTTP enabled. Returns its path. */
export async function initBareRepo(root: string, name: string, branch = 'main'): Promise<string> {
  const dir = join(resolve(root), name);
  await mkdir(dir, { recursive: true });
  await execFileAsync('git', ['init', '--quiet', '--bare', `--initial-branch=${branch}`, dir]);
  await execFileAsync('git', ['-C', dir, 'config', 'http.receivepack', 'true']);
  return dir;
}

async function handle(req: IncomingMessage, res: ServerResponse, opts: GitServerOptions & { root: string }, children: Set<ChildProcess>): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const path = decodeURIComponent(url.pathname);
  if (path.split('/').includes('..')) return fail(res, 400, 'bad path');
  if (opts.auth && !authorized(req, opts.auth)) {
    res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="git"', 'Content-Type': 'text/plain' });
    res.end('authentication required\n');
    return;
  }
  const info: GitRequestInfo = { method: req.method ?? 'GET', path, query: url.search.slice(1), gitProtocol: header(req, 'git-protocol') };
  await opts.onRequest?.(info);
  const ok = await runBackend(req, res, info, opts.root, children);
  if (ok && info.method === 'POST' && path.endsWith('/git-receive-pack')) {
    opts.onPush?.(path.slice(1, -'/git-receive-pack'.length));
  }
}

/** Runs one CGI request; resolves true when the backend exited 0 and answered 2xx. */
function runBackend(req: IncomingMessage, res: ServerResponse, info: GitRequestInfo, root: string, children: Set<ChildProcess>): Promise<boolean> {
  const gzip = header(req, 'content-encoding').toLowerCase() === 'gzip';
  const length = header(req, 'content-length');
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    GIT_PROJECT_ROOT: root,
    GIT_HTTP_EXPORT_ALL: '1',
    REMOTE_USER: 'berth',
    REMOTE_ADDR: req.socket.remoteAddress ?? '127.0.0.1',
    GATEWAY_INTERFACE: 'CGI/1.1',
    REQUEST_METHOD: info.method,
    QUERY_STRING: info.query,
    PATH_INFO: info.path,
    CONTENT_TYPE: header(req, 'content-type'),
    GIT_PROTOCOL: info.gitProtocol,
    GIT_CONFIG_NOSYSTEM: '1',
    HOME: root,
  };
  if (length && !gzip) env.CONTENT_LENGTH = length;
  const child = spawn(BACKEND, [], { env, stdio: ['pipe', 'pipe', 'ignore'] });
  children.add(child);
  child.stdin.on('error', () => {});
  const body: Readable = gzip ? req.pipe(createGunzip()) : req;
  body.on('error', () => child.kill('SIGKILL'));
  body.pipe(child.stdin);
  return new Promise((done) => {
    let status = 0;
    relayCgiOutput(child.stdout, res, (code) => { status = code; });
    child.on('error', (err) => {
      children.delete(child);
      fail(res, 500, String(err));
      done(false);
    });
    child.on('close', (code) => {
      children.delete(child);
      if (!res.headersSent) fail(res, 502, 'git-http-backend produced no response');
      else res.end();
      done(code === 0 && status >= 200 && status < 300);
    });
  });
}

/** Parses the CGI header block (`Status:` line → status code) and streams the body. */
function relayCgiOutput(out: Readable, res: ServerResponse, onStatus: (code: number) => void): void {
  let head: Buffer = Buffer.alloc(0);
  let inBody = false;
  out.on('data', (chunk: Buffer) => {
    if (inBody) {
      res.write(chunk);
      return;
    }
    head = Buffer.concat([head, chunk]);
    const split = findHeaderEnd(head);
    if (!split) return;
    inBody = true;
    const { status, headers } = parseCgiHeaders(head.subarray(0, split.at).toString('latin1'));
    onStatus(status);
    res.writeHead(status, headers);
    const rest = head.subarray(split.at + split.len);
    if (rest.length > 0) res.write(rest);
  });
}

function findHeaderEnd(buf: Buffer): { at: number; len: number } | null {
  const crlf = buf.indexOf('\r\n\r\n');
  const lf = buf.indexOf('\n\n');
  if (crlf >= 0 && (lf < 0 || crlf < lf)) return { at: crlf, len: 4 };
  if (lf >= 0) return { at: lf, len: 2 };
  return null;
}

function parseCgiHeaders(text: string): { status: number; headers: Record<string, string> } {
  let status = 200;
  const headers: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim();
    const value = line.slice(colon + 1).trim();
    if (name.toLowerCase() === 'status') status = Number.parseInt(value, 10) || 500;
    else headers[name] = value;
  }
  return { status, headers };
}

function authorized(req: IncomingMessage, auth: { username: string; password: string }): boolean {
  const got = Buffer.from(header(req, 'authorization'));
  const want = Buffer.from(`Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}`);
  return got.length === want.length && timingSafeEqual(got, want);
}

function header(req: IncomingMessage, name: string): string {
  const value = req.headers[name];
  return Array.isArray(value) ? (value[0] ?? '') : (value ?? '');
}

function fail(res: ServerResponse, status: number, message: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(status, { 'Content-Type': 'text/plain' });
  res.end(`${message}\n`);
}

function parseArgs(argv: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i];
    const value = argv[i + 1];
    if (key?.startsWith('--') && value !== undefined) out[key.slice(2)] = value;
  }
  return out;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (!args.root) throw new Error('usage: git-http-server.ts --root DIR [--port N] [--host H] [--init NAME]');
  if (args.init) await initBareRepo(args.root, args.init);
  const server = await startGitServer({ root: args.root, host: args.host, port: Number(args.port ?? 0) });
  process.stdout.write(`${server.url}\n`);
  const stop = (): void => void server.close().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(new URL(import.meta.url).pathname)) {
  main().catch((err: unknown) => {
    process.stderr.write(`${String(err)}\n`);
    process.exit(1);
  });
}
