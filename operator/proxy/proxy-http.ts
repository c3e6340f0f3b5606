/**
 * The node:http server of the one listener that does not forward (the HTTP -> HTTPS redirect of a TLS Route,
 * tls-listener.ts): keep-alive, malformed requests answered by handleClientError, headers within HEADERS_TIMEOUT_MS
 * (408), a connection with no byte either way for `idleTimeoutMs` closed. Forwarding listeners run the llhttp path
 * (http-connection.ts) instead.
 */
import http, { STATUS_CODES, type IncomingMessage, type OutgoingHttpHeaders, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { HEADERS_TIMEOUT_MS, jsonAnswer, KEEP_ALIVE_TIMEOUT_MS, type HttpListenerContext } from './http-connection.ts';

type RequestHandler = (req: IncomingMessage, res: ServerResponse) => void;

/** A node HTTP server with the proxy's limits and error answers. */
export function createHttpServer(ctx: HttpListenerContext, handler: RequestHandler, idleTimeoutMs: number): http.Server {
  const options: http.ServerOptions = {
    keepAlive: true, noDelay: true, keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS, headersTimeout: HEADERS_TIMEOUT_MS, connectionsCheckingInterval: 1_000,
  };
  const server = http.createServer(options, handler);
  server.timeout = idleTimeoutMs;
  server.on('clientError', (err, socket) => handleClientError(err, socket, ctx));
  return server;
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
  if (err.code === 'HPE_CLOSED_CONNECTION') return;
  const status = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
  ctx.log('proxy: malformed request', { code: err.code, status });
  const send = () => socket.end(jsonAnswer(status, err.code ?? 'E_BAD_REQUEST', STATUS_CODES[status] ?? 'bad request', true), 'latin1');
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

/** Sends a small JSON error answer, unless the client is gone. `close` asks the client to close the connection. */
export function reply(res: ServerResponse, status: number, code: string, message: string, close: boolean): void {
  if (res.destroyed || res.headersSent) return;
  const body = JSON.stringify({ error: message, code });
  const headers: OutgoingHttpHeaders = { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) };
  if (close) headers.connection = 'close';
  res.writeHead(status, headers).end(body);
}
