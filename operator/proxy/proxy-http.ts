/**
 * HTTP forwarding, shared by the embedded proxy's HTTP mode and the Route router: one pick per request from an
 * UpstreamPool, keep-alive agents per upstream, retry on another upstream while nothing of the request reached one,
 * 502 when none works; requests with ambiguous framing are refused first (request-guard.ts). Hot-path notes: headers
 * go through as raw arrays (no object copies), a body-less request is sent at once (nothing to lose on a failed
 * connect), connect deadlines live on new sockets only (UpstreamPool's agent).
 */
import http, { STATUS_CODES, type IncomingMessage, type OutgoingHttpHeaders, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { ServiceAccess } from './access-stats.ts';
import { clientResponseHeaders, upstreamRequestHeaders } from './forwarded.ts';
import type { Endpoint } from './lb/types.ts';
import { wasConnected, type UpstreamPool } from './proxy-pool.ts';
import { framingProblem, refuseConnection, wasRefused } from './request-guard.ts';

/** Counters a listener keeps (proxy or router). */
export interface ForwardCounters {
  /** Requests being proxied now. */
  active: number;
  /** Requests accepted since start. */
  total: number;
  /** Upstream connect attempts that failed (refused, unreachable or timed out). */
  failedConnects: number;
}

/** What forwarding needs from the listener, beyond the pool a request goes to. */
export interface HttpListenerContext {
  counters: ForwardCounters;
  maxBodyBytes: number;
  /** The listener terminates TLS: upstreams get X-Forwarded-Proto https. Absent = false. */
  tls?: boolean;
  log: (msg: string, fields?: object) => void;
  /** Access counters of requests no service was chosen for yet (proxy: its service; router: ''); absent = not recorded. */
  access?: ServiceAccess;
}

/** One client request on its way upstream, across retries. */
export interface Exchange {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly ctx: HttpListenerContext;
  /** False when the request has no body (no Content-Length, no Transfer-Encoding): it can be sent before connecting. */
  readonly hasBody: boolean;
  /** The hash key the pool picks by, if any. */
  key?: string;
  /** Endpoint ids that failed for this request (created on the first failure). */
  tried?: Set<string>;
  /** The upstream headers, built once. */
  headers?: string[];
  hasHost?: boolean;
  bodyBytes: number;
  /** The current upstream request, aborted when the client goes away. */
  up?: http.ClientRequest;
  /** Where the request is counted (moved by `countFor` once a router chose a service). */
  access: ServiceAccess | undefined;
  /** performance.now() at the start, for the duration histogram. */
  start: number;
  /** The endpoint ("host:port") whose answer is relayed; set with the upstream's head, so unset = the proxy answered. */
  endpoint?: string;
  /** Response body bytes relayed from the upstream. */
  outBytes: number;
}

const noop = (): void => {};

/**
 * Refuses a request with ambiguous framing (400, connection closed), then counts it and checks its declared body
 * size (413). Returns the exchange to pass to `forward`, or undefined when the request was already answered (or
 * dropped: pipelined behind a refused one).
 */
export function beginExchange(req: IncomingMessage, res: ServerResponse, ctx: HttpListenerContext): Exchange | undefined {
  if (!admitRequest(req, res, ctx)) return undefined;
  ctx.counters.total++;
  ctx.counters.active++;
  const headers = req.headers;
  const access = ctx.access;
  const x: Exchange = {
    req, res, ctx, hasBody: headers['content-length'] !== undefined || headers['transfer-encoding'] !== undefined, bodyBytes: 0,
    access, start: access ? performance.now() : 0, outBytes: 0,
  };
  if (access) access.inFlight++;
  res.once('close', () => {
    ctx.counters.active--;
    if (!res.writableFinished) x.up?.destroy();
    const a = x.access;
    if (!a) return;
    a.inFlight--;
    const source = x.endpoint === undefined ? 'proxy' : 'upstream';
    a.record(res.headersSent ? res.statusCode : 0, source, performance.now() - x.start, x.bodyBytes, x.outBytes, x.endpoint);
  });
  req.on('error', noop);
  res.on('error', noop);
  if (x.hasBody && Number(headers['content-length'] ?? 0) > ctx.maxBodyBytes) {
    reply(res, 413, 'E_BODY_TOO_LARGE', `request body over ${ctx.maxBodyBytes} bytes`, true);
    return undefined;
  }
  return x;
}

/**
 * The smuggling check of one request: false when it was refused (answered 400 with Connection: close, which makes
 * node close the connection after the answer and assign none of the requests pipelined behind it) or is one of
 * those pipelined requests (left unanswered; the connection is closing).
 */
function admitRequest(req: IncomingMessage, res: ServerResponse, ctx: HttpListenerContext): boolean {
  if (wasRefused(req.socket)) {
    req.resume();
    return false;
  }
  const problem = framingProblem(req);
  if (problem === undefined) return true;
  refuseConnection(req.socket);
  ctx.log('proxy: request refused', { code: 'E_BAD_FRAMING', problem });
  req.on('error', noop);
  res.on('error', noop);
  reply(res, 400, 'E_BAD_FRAMING', problem, true);
  return false;
}

/** Counts the exchange for `access` from now on (a router's chosen service); in flight moves with it. */
export function countFor(x: Exchange, access: ServiceAccess | undefined): void {
  if (!x.access || !access || access === x.access) return;
  x.access.inFlight--;
  access.inFlight++;
  x.access = access;
}

/** Forwards the exchange to an endpoint of `pool` picked for `key`. Never throws. */
export function forward(x: Exchange, pool: UpstreamPool, key: string | undefined): void {
  x.key = key;
  attempt(x, pool);
}

/**
 * Answers a request node's parser rejected: 431 for oversized headers, 408 for a timeout, 400 otherwise, then closes
 * the connection. The answer of an earlier pipelined request still being written goes out first, so the error is not
 * taken for that request's answer. Bytes after a request that closes the connection (Connection: close, HTTP/1.0)
 * are ignored, as nginx does: that request's answer still goes out, then the connection closes.
 */
export function handleClientError(err: NodeJS.ErrnoException, socket: Duplex, ctx: HttpListenerContext): void {
  if (err.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  // a refused request's own answer closes the connection; the parser's complaint about what follows adds nothing
  if (err.code === 'HPE_CLOSED_CONNECTION' || wasRefused(socket)) return;
  const status = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
  ctx.log('proxy: malformed request', { code: err.code, status });
  const body = JSON.stringify({ error: STATUS_CODES[status], code: err.code ?? 'E_BAD_REQUEST' });
  const send = () => socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
  // node's own clientError default reads the same field: the response currently assigned to the connection
  const inFlight = (socket as { _httpMessage?: ServerResponse | null })._httpMessage;
  if (!inFlight || inFlight.writableFinished) return void send();
  if (!inFlight.req.complete) {
    // the error is in the body of the request being answered (e.g. a bad chunk): it can never be answered properly
    if (inFlight.headersSent) socket.destroy();
    else send();
    return;
  }
  inFlight.once('finish', send);
  inFlight.once('close', () => (inFlight.writableFinished ? undefined : socket.destroy()));
}

/** One attempt on one upstream; a failed connect (or a stale keep-alive socket, before any body) tries the next. */
function attempt(x: Exchange, pool: UpstreamPool): void {
  const { req, res } = x;
  if (res.destroyed) return;
  const ep = pool.pick(x.key, x.tried);
  if (!ep) {
    const tried = x.tried?.size ?? 0;
    reply(res, 502, 'E_NO_UPSTREAM', tried ? `no upstream accepted the request (${tried} tried)` : 'no upstream endpoints', false);
    return;
  }
  const target = pool.target(ep);
  const headers = x.headers ?? (x.headers = upstreamHeaders(x));
  const up = http.request({
    host: target.host, port: target.port, method: req.method, path: req.url, agent: pool.agent(ep),
    headers: x.hasHost ? headers : [...headers, 'host', ep.address],
  });
  x.up = up;
  pool.acquire(ep);
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    pool.release(ep);
  };
  up.once('response', (upRes: IncomingMessage) => relay(upRes, x, ep, release));
  up.once('close', release);
  up.on('error', (err) => onUpstreamError(x, pool, ep, up, err, release));
  if (!x.hasBody) up.end();
  // Bodies wait for the connect, so a refused connect has consumed nothing and the next upstream gets it whole.
  else up.once('socket', (s) => (s.connecting ? s.once('connect', () => sendBody(x, up)) : sendBody(x, up)));
}

function onUpstreamError(x: Exchange, pool: UpstreamPool, ep: Endpoint, up: http.ClientRequest, err: Error, release: () => void): void {
  const { req, res, ctx } = x;
  release();
  const connected = up.reusedSocket || wasConnected(up.socket);
  // A kept-alive socket the upstream had closed: nothing reached it, so the same endpoint may be tried again.
  const stale = up.reusedSocket && x.bodyBytes === 0 && !res.headersSent && (!x.hasBody || req.readableEnded);
  if (!connected) ctx.counters.failedConnects++;
  ctx.log('proxy: upstream request failed', { endpoint: ep.id, address: ep.address, connected, error: err.message });
  if (!connected || stale) {
    if (!stale) (x.tried ??= new Set()).add(ep.id);
    attempt(x, pool);
    return;
  }
  if (!res.headersSent) reply(res, 502, 'E_UPSTREAM', 'upstream failed before answering', true);
  else res.destroy();
}

/** Streams the client's body upstream, counting bytes; over the limit, answers 413 and aborts the upstream request. */
function sendBody(x: Exchange, up: http.ClientRequest): void {
  const { req, res, ctx } = x;
  if (req.readableEnded) {
    up.end();
    return;
  }
  const onData = (chunk: Buffer) => {
    x.bodyBytes += chunk.length;
    if (x.bodyBytes > ctx.maxBodyBytes) {
      req.off('data', onData);
      req.resume(); // read and discard the rest, so closing does not reset the connection under the 413
      up.destroy();
      if (!res.headersSent) reply(res, 413, 'E_BODY_TOO_LARGE', `request body over ${ctx.maxBodyBytes} bytes`, true);
      return;
    }
    if (!up.write(chunk)) req.pause();
  };
  up.on('drain', () => req.resume());
  req.on('data', onData);
  req.once('end', () => up.end());
}

/** Copies the upstream response (status, end-to-end headers, body) to the client. */
function relay(upRes: IncomingMessage, x: Exchange, ep: Endpoint, release: () => void): void {
  const res = x.res;
  upRes.on('error', () => res.destroy());
  upRes.once('end', release);
  if (res.destroyed || res.headersSent) {
    upRes.resume();
    return;
  }
  x.endpoint = ep.address;
  res.writeHead(upRes.statusCode ?? 502, clientResponseHeaders(upRes.rawHeaders, upRes.headers.connection));
  // A hand-written pipe: two listeners instead of pipe()'s bookkeeping; backpressure through pause/drain.
  upRes.on('data', (chunk: Buffer) => {
    x.outBytes += chunk.length;
    if (!res.write(chunk)) {
      upRes.pause();
      res.once('drain', () => upRes.resume());
    }
  });
  upRes.once('end', () => res.end());
}

/** The request headers to send upstream (raw name/value list), noting whether the client sent a Host. */
function upstreamHeaders(x: Exchange): string[] {
  x.hasHost = x.req.headers.host !== undefined;
  return upstreamRequestHeaders(x.req, x.ctx.tls ?? false);
}

/** Sends a small JSON error answer, unless the client is gone. `close` asks the client to close the connection. */
export function reply(res: ServerResponse, status: number, code: string, message: string, close: boolean): void {
  if (res.destroyed || res.headersSent) return;
  const body = JSON.stringify({ error: message, code });
  const headers: OutgoingHttpHeaders = { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) };
  if (close) headers.connection = 'close';
  res.writeHead(status, headers).end(body);
}
