/**
 * The embedded proxy (issue 4 §3): one listener on the operator host forwarding to a service's ready endpoints,
 * either as a TCP pipe or HTTP-aware (per-request picks keyed on a header, cookie or path). A failed connect moves on
 * to the next endpoint; `update` drains removed endpoints (no new picks, open connections finish). Not wired into
 * the operator yet: the registry will call `update` with the ready replicas.
 */
import http from 'node:http';
import net from 'node:net';
import { BerthError } from '../model/errors.ts';
import type { Algorithm, Endpoint } from './lb/types.ts';
import { handleRequest, handleClientError } from './proxy-http.ts';
import { needsHttp, validateHashKey, type HashKey } from './proxy-key.ts';
import { UpstreamPool } from './proxy-pool.ts';
import { handleTcpConnection } from './proxy-tcp.ts';

export type { HashKey } from './proxy-key.ts';

/** Default time allowed for a TCP connect to an upstream before the next one is tried. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 2_000;
/** Default HTTP request body limit, nginx's client_max_body_size default (1 MiB); larger bodies get 413. */
export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;

export interface ProxyOptions {
  host: string;
  /** 0 picks a free port; read it back from `Proxy.port`. */
  port: number;
  algorithm: Algorithm;
  mode: 'tcp' | 'http';
  /** Key for consistent hashing; header/cookie/path need mode 'http', client-ip works in both. */
  hashKey?: HashKey;
  /** Upstreams; address is "host:port". */
  endpoints: Endpoint[];
  connectTimeoutMs?: number;
  /** HTTP mode: request bodies larger than this get 413. */
  maxBodyBytes?: number;
  log?: (msg: string, fields?: object) => void;
}

export interface ProxyStats {
  /** Client connections (tcp) or requests (http) being proxied now. */
  active: number;
  /** Client connections (tcp) or requests (http) accepted since start. */
  total: number;
  /** Upstream connect attempts that failed (refused, unreachable or timed out). */
  failedConnects: number;
}

export interface Proxy {
  /** The port actually listened on. */
  port: number;
  /** Replaces the upstreams; removed ones drain. Throws BerthError E_CONFIG on a bad address (nothing changes then). */
  update(endpoints: Endpoint[]): void;
  /** Counters since start. */
  stats(): ProxyStats;
  /** Stops listening and closes every open connection, client and upstream. */
  close(): Promise<void>;
}

/** What the TCP and HTTP handlers share. */
export interface ProxyContext {
  pool: UpstreamPool;
  counters: ProxyStats;
  hashKey: HashKey | undefined;
  connectTimeoutMs: number;
  maxBodyBytes: number;
  log: (msg: string, fields?: object) => void;
}

/**
 * Starts a proxy listening on host:port. Rejects with BerthError E_CONFIG for a bad hash key, a header/cookie/path key
 * in TCP mode or a bad endpoint address, and with the listen error (e.g. EADDRINUSE) when the port cannot be opened.
 */
export async function startProxy(opts: ProxyOptions): Promise<Proxy> {
  const ctx = buildContext(opts);
  const sockets = new Set<net.Socket>();
  const server = opts.mode === 'tcp'
    ? net.createServer({ allowHalfOpen: true }, (client) => handleTcpConnection(client, ctx, sockets))
    : createHttpServer(ctx);
  await listen(server, opts.host, opts.port);
  const address = server.address();
  return {
    port: typeof address === 'object' && address ? address.port : opts.port,
    update: (endpoints) => ctx.pool.update(endpoints),
    stats: () => ({ ...ctx.counters }),
    close: () => closeServer(server, sockets, ctx.pool),
  };
}

function buildContext(opts: ProxyOptions): ProxyContext {
  validateHashKey(opts.hashKey);
  if (opts.mode === 'tcp' && needsHttp(opts.hashKey)) {
    throw new BerthError('E_CONFIG', `hashKey ${opts.hashKey} needs mode http; a TCP listener can only hash on client-ip`);
  }
  const connectTimeoutMs = opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
  if (!(connectTimeoutMs > 0)) throw new BerthError('E_CONFIG', `connectTimeoutMs must be > 0, got ${connectTimeoutMs}`);
  const maxBodyBytes = opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  if (!(maxBodyBytes >= 0)) throw new BerthError('E_CONFIG', `maxBodyBytes must be >= 0, got ${maxBodyBytes}`);
  return {
    pool: new UpstreamPool(opts.algorithm, opts.endpoints, opts.mode === 'http'),
    counters: { active: 0, total: 0, failedConnects: 0 },
    hashKey: opts.hashKey,
    connectTimeoutMs,
    maxBodyBytes,
    log: opts.log ?? (() => {}),
  };
}

function createHttpServer(ctx: ProxyContext): http.Server {
  const server = http.createServer({ keepAlive: true }, (req, res) => handleRequest(req, res, ctx));
  server.on('clientError', (err, socket) => handleClientError(err, socket, ctx));
  return server;
}

function listen(server: net.Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      server.on('error', () => {});
      resolve();
    });
  });
}

function closeServer(server: net.Server, sockets: Set<net.Socket>, pool: UpstreamPool): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    if (server instanceof http.Server) server.closeAllConnections();
    for (const s of sockets) s.destroy();
    pool.close();
  });
}
