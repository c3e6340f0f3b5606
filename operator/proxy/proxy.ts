/**
 * The embedded proxy: one listener on the operator host forwarding to a service's ready endpoints,
 * either as a TCP pipe or HTTP-aware (per-request picks keyed on a header, cookie or path). A failed connect moves on
 * to the next endpoint; `update` drains removed endpoints (no new picks, open connections finish); `configure`
 * switches the algorithm or hash key on the same listener. ProxyManager (proxies.ts) opens one per Service that
 * publishes a port and calls `update` with its ready replicas from the registry. Routes (many services behind
 * host/path rules) are served by router.ts. With `wake` (a service that may be at zero), what finds no endpoint is
 * held (wake.ts) until `update` brings one.
 */
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { BerthError } from '../model/errors.ts';
import type { HashKey, LbAlgorithm } from '../model/manifest.ts';
import type { ConnectionGate } from '../server/conn-guard.ts';
import { accessTable } from './access-stats.ts';
import type { Endpoint } from './lb/types.ts';
import { serveConnection, type ForwardCounters, type RequestHead } from './http-connection.ts';
import type { ProxyContext } from './proxy-context.ts';
import { extractKey, needsHttp, validateHashKey } from './proxy-key.ts';
import { UpstreamPool } from './proxy-pool.ts';
import { handleTcpConnection } from './proxy-tcp.ts';
import { serveUpgrade } from './upgrade.ts';
import { wakeProblem, WakeHold, type WakeSettings } from './wake.ts';

/** Default time allowed for a TCP connect to an upstream before the next one is tried. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 2_000;
/** Default HTTP request body limit, nginx's client_max_body_size default (1 MiB); larger bodies get 413. */
export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;
/**
 * Default inactivity timeout of a proxied connection (HAProxy's `timeout client` / `timeout server`, as one): no byte
 * either way for this long and both sides are closed.
 */
export const DEFAULT_IDLE_TIMEOUT_MS = 5 * 60_000;

export interface ProxyOptions {
  host: string;
  /** 0 picks a free port; read it back from `Proxy.port`. */
  port: number;
  algorithm: LbAlgorithm;
  mode: 'tcp' | 'http';
  /** Key for consistent hashing; header/cookie/path need mode 'http', client-ip works in both. */
  hashKey?: HashKey;
  /** Bounded-load factor for consistent hashing (>= 1, e.g. 1.25); absent = unbounded. */
  boundedLoad?: number;
  /** Upstreams; address is "host:port". */
  endpoints: Endpoint[];
  connectTimeoutMs?: number;
  /** HTTP mode: request bodies larger than this get 413. */
  maxBodyBytes?: number;
  /** Inactivity timeout of a client connection (both directions); default DEFAULT_IDLE_TIMEOUT_MS. */
  idleTimeoutMs?: number;
  /** Admission of client connections (the operator's shared connection budget); absent = unbounded. */
  gate?: ConnectionGate;
  /** The service (`ns/name`) behind the listener, for the access counters (access-stats.ts); default ''. */
  service?: string;
  /**
   * The service may be at zero replicas: with no endpoint, connections (TCP) and requests (HTTP) are held in a queue
   * of `queue` for at most `timeoutMs` and the wake noted (wake.ts), instead of being refused. Absent = refused.
   */
  wake?: WakeSettings;
  log?: (msg: string, fields?: object) => void;
}

/**
 * Counters since start: `active` and `total` count client connections in TCP mode and requests in HTTP mode;
 * `failedConnects` counts upstream connect attempts that failed (refused, unreachable or timed out).
 */
export type ProxyStats = ForwardCounters;

/** What `Proxy.configure` may change without a new listener. */
export interface ProxyConfig {
  algorithm: LbAlgorithm;
  hashKey?: HashKey;
  boundedLoad?: number;
  /** Hold-and-wake (ProxyOptions.wake); absent turns it off (what is held is released to the normal path). */
  wake?: WakeSettings;
}

export interface Proxy {
  /** The port actually listened on. */
  port: number;
  /** Replaces the upstreams; removed ones drain. Throws BerthError E_CONFIG on a bad address (nothing changes then). */
  update(endpoints: Endpoint[]): void;
  /**
   * Switches algorithm, hash key and bounded load for the next picks; open connections and keep-alive sockets stay.
   * Throws BerthError E_CONFIG for a bad key or option, or a header/cookie/path key in TCP mode (nothing changes then).
   */
  configure(config: ProxyConfig): void;
  /** Counters since start. */
  stats(): ProxyStats;
  /** Connections (tcp) or requests (http) open now to upstream `address` ("host:port"), current or draining. */
  openTo(address: string): number;
  /** Stops listening and closes every open connection, client and upstream. */
  close(): Promise<void>;
}

/**
 * Starts a proxy listening on host:port. Rejects with BerthError E_CONFIG for a bad hash key, a header/cookie/path key
 * in TCP mode or a bad endpoint address, and with the listen error (e.g. EADDRINUSE) when the port cannot be opened.
 */
export async function startProxy(opts: ProxyOptions): Promise<Proxy> {
  const ctx = buildContext(opts);
  const sockets = ctx.sockets;
  const server = opts.mode === 'tcp'
    ? net.createServer({ allowHalfOpen: true }, (client) => handleTcpConnection(client, ctx, sockets))
    : net.createServer((client) => serveConnection(client, ctx));
  opts.gate?.protect(server);
  await listen(server, opts.host, opts.port).catch((err: unknown) => {
    opts.gate?.dispose();
    throw err;
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : opts.port;
  // known once listening (port 0); no request is read before this continuation runs
  ctx.access = accessTable.listener(`${opts.host}:${port}`, opts.mode)?.service(opts.service ?? '');
  const service = opts.service ?? '';
  const setWake = (wake: WakeSettings | undefined): void => {
    if (!wake) {
      const held = ctx.hold;
      ctx.hold = undefined;
      held?.release(); // the normal path: refused while there is no endpoint
      return;
    }
    if (ctx.hold) return ctx.hold.configure(wake);
    ctx.hold = new WakeHold(service, wake);
    ctx.hold.gauge = ctx.access;
    if (ctx.access) ctx.access.wakes = true;
  };
  setWake(opts.wake);
  return {
    port,
    update: (endpoints) => {
      ctx.pool.update(endpoints);
      if (ctx.pool.size > 0) ctx.hold?.release();
    },
    configure: (config) => {
      checkHashKey(config.hashKey, opts.mode);
      checkWake(config.wake); // before anything changes
      ctx.pool.configure(config);
      ctx.hashKey = config.hashKey;
      setWake(config.wake);
    },
    stats: () => ({ ...ctx.counters }),
    openTo: (address) => ctx.pool.openTo(address),
    close: () => {
      ctx.hold?.close();
      const closed = closeServer(server, sockets);
      ctx.pool.close();
      opts.gate?.dispose();
      return closed;
    },
  };
}

/** The hash key of an HTTP request (or upgrade), as configured. */
function requestKey(req: RequestHead, ctx: ProxyContext): string | undefined {
  return ctx.hashKey === undefined ? undefined : extractKey(ctx.hashKey, { clientIp: req.socket.remoteAddress, headers: req.headers, url: req.url });
}

function checkHashKey(hashKey: HashKey | undefined, mode: ProxyOptions['mode']): void {
  validateHashKey(hashKey);
  if (mode === 'tcp' && needsHttp(hashKey)) {
    throw new BerthError('E_CONFIG', `hashKey ${hashKey} needs mode http; a TCP listener can only hash on client-ip`);
  }
}

function buildContext(opts: ProxyOptions): ProxyContext {
  checkHashKey(opts.hashKey, opts.mode);
  checkWake(opts.wake);
  const connectTimeoutMs = checkConnectTimeout(opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS);
  const maxBodyBytes = checkMaxBody(opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES);
  const ctx: ProxyContext = {
    pool: new UpstreamPool({ algorithm: opts.algorithm, boundedLoad: opts.boundedLoad }, opts.endpoints, opts.mode === 'http', connectTimeoutMs),
    counters: { active: 0, total: 0, failedConnects: 0 },
    hashKey: opts.hashKey,
    connectTimeoutMs,
    idleTimeoutMs: checkIdleTimeout(opts.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS),
    maxBodyBytes,
    log: opts.log ?? (() => {}),
    sockets: new Set(),
    choose: (req) => (ctx.hold && ctx.pool.size === 0 ? { hold: ctx.hold } : { pool: ctx.pool, key: requestKey(req, ctx) }),
    upgrade: (req, socket, rest) => serveUpgrade(req, socket, rest, ctx),
  };
  return ctx;
}

/** Checks a wake block; throws BerthError E_CONFIG. */
function checkWake(wake: WakeSettings | undefined): void {
  const problem = wake === undefined ? null : wakeProblem(wake);
  if (problem) throw new BerthError('E_CONFIG', problem);
}

/** Checks a connect timeout; throws BerthError E_CONFIG unless it is a positive number. */
export function checkConnectTimeout(ms: number): number {
  if (!(ms > 0)) throw new BerthError('E_CONFIG', `connectTimeoutMs must be > 0, got ${ms}`);
  return ms;
}

/** Checks an idle timeout; throws BerthError E_CONFIG unless it is a positive number. */
export function checkIdleTimeout(ms: number): number {
  if (!(ms > 0)) throw new BerthError('E_CONFIG', `idleTimeoutMs must be > 0, got ${ms}`);
  return ms;
}

/** Checks a body limit; throws BerthError E_CONFIG unless it is a number >= 0. */
export function checkMaxBody(bytes: number): number {
  if (!(bytes >= 0)) throw new BerthError('E_CONFIG', `maxBodyBytes must be >= 0, got ${bytes}`);
  return bytes;
}

/** Listens on host:port; rejects with the listen error (e.g. EADDRINUSE). */
export function listen(server: net.Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      server.on('error', () => {});
      resolve();
    });
  });
}

/**
 * Stops listening and destroys every client connection (`sockets`: every connection and tunnel of a proxy or router
 * listener; a node HTTP server's own connections are closed too).
 */
export function closeServer(server: net.Server, sockets: ReadonlySet<net.Socket> = new Set()): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    if (server instanceof http.Server || server instanceof https.Server) server.closeAllConnections();
    for (const s of sockets) s.destroy();
  });
}
