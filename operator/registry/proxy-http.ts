/**
 * HTTP mode of the embedded proxy: one pick per request (keyed on a header, cookie, path or client IP), keep-alive
 * agents per upstream, retry on another upstream while nothing of the request reached one, 502 when none works.
 */
import http, { STATUS_CODES, type IncomingHttpHeaders, type IncomingMessage, type OutgoingHttpHeaders, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { ProxyContext } from './proxy.ts';
import { extractKey } from './proxy-key.ts';

/** Headers that describe one hop, never forwarded (RFC 9110 §7.6.1). */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'proxy-authorization', 'proxy-authenticate']);

interface Attempt {
  req: IncomingMessage;
  res: ServerResponse;
  ctx: ProxyContext;
  key: string | undefined;
  tried: Set<string>;
}

/** Serves one request: checks the body size, picks an upstream and forwards. Never throws. */
export function handleRequest(req: IncomingMessage, res: ServerResponse, ctx: ProxyContext): void {
  ctx.counters.total++;
  ctx.counters.active++;
  res.once('close', () => ctx.counters.active--);
  req.on('error', () => {});
  res.on('error', () => {});
  const length = Number(req.headers['content-length'] ?? 0);
  if (length > ctx.maxBodyBytes) {
    reply(res, 413, 'E_BODY_TOO_LARGE', `request body over ${ctx.maxBodyBytes} bytes`, true);
    return;
  }
  const key = extractKey(ctx.hashKey, { clientIp: req.socket.remoteAddress, headers: req.headers, url: req.url });
  forward({ req, res, ctx, key, tried: new Set() });
}

/** Answers a request node's parser rejected: 431 for oversized headers, 408 for a timeout, 400 otherwise. */
export function handleClientError(err: NodeJS.ErrnoException, socket: Duplex, ctx: ProxyContext): void {
  if (err.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  const status = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
  ctx.log('proxy: malformed request', { code: err.code, status });
  const body = JSON.stringify({ error: STATUS_CODES[status], code: err.code ?? 'E_BAD_REQUEST' });
  socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
}

/** One attempt on one upstream; a failed connect (or a stale keep-alive socket, before any body) tries the next. */
function forward(a: Attempt): void {
  const { req, res, ctx } = a;
  if (res.destroyed) return;
  const ep = ctx.pool.pick(a.key, a.tried);
  if (!ep) {
    reply(res, 502, 'E_NO_UPSTREAM', a.tried.size ? `no upstream accepted the request (${a.tried.size} tried)` : 'no upstream endpoints', false);
    return;
  }
  a.tried.add(ep.id);
  const target = ctx.pool.target(ep);
  const up = http.request({ host: target.host, port: target.port, method: req.method, path: req.url, headers: upstreamHeaders(req), agent: ctx.pool.agent(ep) });
  ctx.pool.acquire(ep);
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    ctx.pool.release(ep);
  };
  let connected = false;
  let bodyBytes = 0;
  const timer = setTimeout(() => up.destroy(new Error(`connect timeout after ${ctx.connectTimeoutMs} ms`)), ctx.connectTimeoutMs);
  const onConnect = () => {
    connected = true;
    clearTimeout(timer);
    sendBody(a, up, (n) => (bodyBytes += n));
  };
  up.once('socket', (s) => (s.connecting ? s.once('connect', onConnect) : onConnect()));
  up.once('response', (upRes) => relay(upRes, res, release));
  up.once('close', release);
  res.once('close', () => {
    if (!res.writableFinished) up.destroy();
  });
  up.on('error', (err) => {
    clearTimeout(timer);
    release();
    const stale = connected && up.reusedSocket && bodyBytes === 0 && !res.headersSent && req.readableEnded;
    if (!connected) ctx.counters.failedConnects++;
    ctx.log('proxy: upstream request failed', { endpoint: ep.id, address: ep.address, connected, error: err.message });
    if (!connected || stale) {
      if (stale) a.tried.delete(ep.id);
      forward(a);
      return;
    }
    if (!res.headersSent) reply(res, 502, 'E_UPSTREAM', 'upstream failed before answering', true);
    else res.destroy();
  });
}

/** Streams the client's body upstream, counting bytes; over the limit, answers 413 and aborts the upstream request. */
function sendBody(a: Attempt, up: http.ClientRequest, count: (n: number) => number): void {
  const { req, res, ctx } = a;
  if (req.readableEnded) {
    up.end();
    return;
  }
  const onData = (chunk: Buffer) => {
    if (count(chunk.length) > ctx.maxBodyBytes) {
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
function relay(upRes: IncomingMessage, res: ServerResponse, release: () => void): void {
  upRes.on('error', () => res.destroy());
  upRes.once('end', release);
  if (res.destroyed || res.headersSent) {
    upRes.resume();
    return;
  }
  res.writeHead(upRes.statusCode ?? 502, endToEnd(upRes.headers) as OutgoingHttpHeaders);
  upRes.pipe(res);
}

/** The request headers to send upstream: end-to-end ones plus X-Forwarded-For. */
function upstreamHeaders(req: IncomingMessage): OutgoingHttpHeaders {
  const headers = endToEnd(req.headers);
  const client = req.socket.remoteAddress ?? '';
  const prior = req.headers['x-forwarded-for'];
  headers['x-forwarded-for'] = prior ? `${prior}, ${client}` : client;
  return headers;
}

/** Drops hop-by-hop headers, including those the Connection header names. */
function endToEnd(headers: IncomingHttpHeaders): IncomingHttpHeaders {
  const named = new Set((headers.connection ?? '').split(',').map((s) => s.trim().toLowerCase()));
  const out: IncomingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || HOP_BY_HOP.has(name) || named.has(name)) continue;
    out[name] = value;
  }
  return out;
}

/** Sends a small JSON error answer, unless the client is gone. */
function reply(res: ServerResponse, status: number, code: string, message: string, close: boolean): void {
  if (res.destroyed || res.headersSent) return;
  const body = JSON.stringify({ error: message, code });
  const headers: OutgoingHttpHeaders = { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) };
  if (close) headers.connection = 'close';
  res.writeHead(status, headers).end(body);
}
