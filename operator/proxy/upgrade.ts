/**
 * `Upgrade` pass-through (WebSocket and any other protocol switch) for the HTTP proxy and the Route router. The
 * upstream is picked exactly as for a request (the listener's `choose`), connected with the same failover as TCP mode
 * (a refused or timed-out connect tries the next endpoint), and sent the request head with Upgrade/Connection kept and
 * X-Forwarded-* and Via added. A 101 answer turns the connection into a tunnel piped both ways until either side
 * closes, closed after `server.timeout` (the listener's idle timeout) without a byte either way; any other answer is
 * relayed and the connection closed. A tunnel counts as an active request in the listener's counters and as an open
 * connection to its upstream (`openTo`) until it closes, so draining waits for it.
 */
import http, { STATUS_CODES, type IncomingMessage } from 'node:http';
import type net from 'node:net';
import { jsonAnswer, type H1Listener, type HttpListenerContext, type RequestHead, type UpstreamChoice } from './http-connection.ts';
import { endToEnd, upgradeRequestHeaders, VIA } from './forwarded.ts';
import type { Endpoint } from './lb/types.ts';
import type { UpstreamPool } from './proxy-pool.ts';
import { connect } from './proxy-tcp.ts';
import { framingProblem } from './request-guard.ts';
import { WAKE_RETRY_AFTER_S, type WakeHold } from './wake.ts';

const noop = (): void => {};

/**
 * Serves an upgrade request the forwarding path handed over (http-connection.ts): `client` is paused, `head` holds
 * the bytes that followed the request head. The listener's `sockets` hold the tunnel (both sides) while it is open.
 */
export function serveUpgrade(req: RequestHead, client: net.Socket, head: Buffer, listener: H1Listener): void {
  upgrade(req, client, head, listener).catch((err: unknown) => {
    listener.log('proxy: upgrade failed', { error: (err as Error).message });
    client.destroy();
  });
}

async function upgrade(req: RequestHead, client: net.Socket, head: Buffer, deps: H1Listener): Promise<void> {
  const ctx = deps;
  const idleTimeoutMs = deps.idleTimeoutMs;
  client.on('error', noop);
  if (!admit(req, client, ctx)) return;
  ctx.counters.total++;
  ctx.counters.active++;
  deps.sockets.add(client);
  let upstream: net.Socket | undefined;
  // counted once, when the connection closes: the answer's status (101 for a tunnel) and who gave it
  let access = ctx.access;
  const start = access ? performance.now() : 0;
  let status = 0;
  let endpoint: string | undefined;
  if (access) access.inFlight++;
  client.once('close', () => {
    ctx.counters.active--;
    deps.sockets.delete(client);
    upstream?.destroy();
    if (!access) return;
    access.inFlight--;
    access.record(status, endpoint === undefined ? 'proxy' : 'upstream', performance.now() - start, client.bytesRead, client.bytesWritten, endpoint);
  });
  // Re-armed by every byte either way: a tunnel is closed after idleTimeoutMs of silence, like a TCP-mode connection.
  if (idleTimeoutMs > 0) {
    client.setTimeout(idleTimeoutMs, () => {
      ctx.log('proxy: idle connection closed', { idleMs: idleTimeoutMs });
      client.destroy();
    });
  }
  const choice = await chooseHeld(req, client, deps);
  if (!choice) return; // the client left while held
  if ('status' in choice) {
    status = choice.status;
    return answer(client, choice.status, choice.code, choice.message, choice.retryAfterS);
  }
  if (access && choice.access && choice.access !== access) {
    access.inFlight--;
    (access = choice.access).inFlight++;
  }
  const dialed = await dial(choice.pool, choice.key, deps, client);
  if (!dialed) {
    status = 502;
    return answer(client, 502, 'E_NO_UPSTREAM', 'no upstream accepted the connection');
  }
  if (client.destroyed) return void dialed.socket.destroy();
  upstream = dialed.socket;
  const { ep, socket: up } = dialed;
  deps.sockets.add(up);
  choice.pool.acquire(ep);
  up.on('error', (err) => ctx.log('proxy: upstream connection error', { endpoint: ep.id, error: err.message }));
  up.once('close', () => {
    deps.sockets.delete(up);
    choice.pool.release(ep);
    // An answer being relayed or a tunnel the upstream half-closed has ended the client side already: let it flush.
    if (!client.writableEnded) client.destroy();
  });
  const headers = upgradeRequestHeaders(req, ctx.tls ?? false);
  if (req.headers.host === undefined) headers.push('host', ep.address);
  const upReq = http.request({ method: req.method, path: req.url, headers, setHost: false, createConnection: () => up });
  upReq.on('error', (err) => {
    ctx.log('proxy: upstream upgrade failed', { endpoint: ep.id, error: err.message });
    if (!client.destroyed && endpoint === undefined) status = 502;
    if (!client.destroyed) answer(client, 502, 'E_UPSTREAM', 'upstream failed before answering');
    up.destroy();
  });
  let early: Buffer = Buffer.alloc(0);
  const answered = (res: IncomingMessage): void => {
    status = res.statusCode ?? 502;
    endpoint = ep.address;
  };
  upReq.once('upgrade', (res: IncomingMessage, socket: net.Socket, upHead: Buffer) => {
    answered(res);
    tunnel(client, socket, res, early, upHead);
  });
  upReq.once('response', (res: IncomingMessage) => {
    answered(res);
    relayRefusal(client, up, res);
  });
  sendBody(client, upReq, head, Number(req.headers['content-length'] ?? 0), (rest) => (early = rest));
}

/**
 * The checks of a request before it is forwarded: ambiguous framing or a chunked body (which would have to be
 * decoded off the raw socket) get 400 and the connection closed, a declared body over the limit 413. False when the
 * request was answered, or is pipelined behind a refused one (whose answer closes the connection).
 */
function admit(req: RequestHead, client: net.Socket, ctx: HttpListenerContext): boolean {
  const problem = framingProblem(req) ?? (req.headers['transfer-encoding'] !== undefined ? 'an upgrade request cannot carry a chunked body' : undefined);
  if (problem !== undefined) {
    ctx.log('proxy: request refused', { code: 'E_BAD_FRAMING', problem });
    answer(client, 400, 'E_BAD_FRAMING', problem);
    return false;
  }
  if (Number(req.headers['content-length'] ?? 0) <= ctx.maxBodyBytes) return true;
  answer(client, 413, 'E_BODY_TOO_LARGE', `request body over ${ctx.maxBodyBytes} bytes`);
  return false;
}

/**
 * Writes the upstream's 101 head to the client, then pipes both ways. As nginx does for upgraded connections, an end
 * from either side closes the tunnel once what it sent is flushed to the other (a half-open tunnel would otherwise
 * hold the connection, and a draining replica, until the idle timeout); a close on either side closes the other.
 */
function tunnel(client: net.Socket, up: net.Socket, res: IncomingMessage, head: Buffer, upHead: Buffer): void {
  client.write(Buffer.from(statusLine(res) + rawLines([...res.rawHeaders, 'via', VIA]) + '\r\n', 'latin1'));
  if (upHead.length) client.write(upHead);
  if (head.length) up.write(head);
  up.setNoDelay(true);
  client.setNoDelay(true);
  client.pipe(up, { end: false });
  up.pipe(client, { end: false });
  const closeOnEnd = (from: net.Socket, to: net.Socket) => from.once('end', () => to.end(() => {
    to.destroy();
    from.destroy();
  }));
  closeOnEnd(client, up);
  closeOnEnd(up, client);
}

/** Relays a non-101 answer to an upgrade request (its body delimited by the close), then closes both connections. */
function relayRefusal(client: net.Socket, up: net.Socket, res: IncomingMessage): void {
  const headers = [...endToEnd(res.rawHeaders, res.headers.connection), 'via', VIA, 'connection', 'close'];
  client.write(Buffer.from(statusLine(res) + rawLines(headers) + '\r\n', 'latin1'));
  res.on('error', () => client.destroy());
  res.pipe(client);
  res.once('end', () => up.destroy());
}

/** Tries endpoints in the pool's order, each at most once, until one accepts; undefined when none does. */
async function dial(pool: UpstreamPool, key: string | undefined, deps: H1Listener, client: net.Socket): Promise<{ ep: Endpoint; socket: net.Socket } | undefined> {
  const tried = new Set<string>();
  for (;;) {
    if (client.destroyed) return undefined;
    const ep = pool.pick(key, tried);
    if (!ep) return undefined;
    tried.add(ep.id);
    try {
      return { ep, socket: await connect(pool.target(ep), deps.connectTimeoutMs) };
    } catch (err) {
      deps.counters.failedConnects++;
      deps.log('proxy: upstream connect failed', { endpoint: ep.id, address: ep.address, error: (err as Error).message });
    }
  }
}

/**
 * Sends the `length` body bytes an upgrade request declares (an h2c upgrade may carry one; node hands them over raw,
 * first in `head`, then on the socket), then ends the upstream request. Bytes after the body belong to the tunnel:
 * they are passed to `rest`, and the client is paused until the tunnel pipes it.
 */
function sendBody(client: net.Socket, upReq: http.ClientRequest, head: Buffer, length: number, rest: (early: Buffer) => void): void {
  let left = length;
  const take = (chunk: Buffer): void => {
    const part = chunk.subarray(0, left);
    left -= part.length;
    if (part.length) upReq.write(part);
    if (left > 0) return;
    client.off('data', take);
    client.pause();
    if (chunk.length > part.length) rest(chunk.subarray(part.length));
    upReq.end();
  };
  take(head);
  if (left > 0) {
    client.on('data', take);
    client.resume();
  }
}

function statusLine(res: IncomingMessage): string {
  return `HTTP/1.1 ${res.statusCode ?? 502} ${res.statusMessage || STATUS_CODES[res.statusCode ?? 502] || ''}\r\n`;
}

function rawLines(raw: readonly string[]): string {
  let out = '';
  for (let i = 0; i < raw.length; i += 2) out += `${raw[i]}: ${raw[i + 1]}\r\n`;
  return out;
}

/** A small JSON error answer on the raw client connection, which is then closed. */
function answer(client: net.Socket, status: number, code: string, message: string, retryAfterS?: number): void {
  if (client.destroyed || !client.writable) return void client.destroy();
  client.end(jsonAnswer(status, code, message, true, retryAfterS), 'latin1');
}

/**
 * The listener's choice for an upgrade; a service waking from zero (wake.ts) holds it (the client stays paused) until
 * an endpoint is ready, then it is chosen again. Queue full or held too long: a 503 with Retry-After. Undefined when
 * its client left while held.
 */
async function chooseHeld(req: RequestHead, client: net.Socket, deps: H1Listener): Promise<Exclude<UpstreamChoice, { hold: WakeHold }> | undefined> {
  let deadline: number | undefined;
  for (;;) {
    const choice = deps.choose(req);
    if (!('hold' in choice)) return choice;
    if (client.destroyed) return undefined;
    const hold = choice.hold;
    deadline ??= Date.now() + hold.timeoutMs;
    const outcome = await new Promise<'forward' | 'expire' | 'full' | 'gone'>((resolve) => {
      const gone = (): void => { unhold?.(); resolve('gone'); };
      const unhold = hold.hold({
        forward: () => { client.off('close', gone); resolve('forward'); },
        expire: () => { client.off('close', gone); resolve('expire'); },
      }, deadline);
      if (!unhold) return resolve('full');
      client.once('close', gone);
    });
    if (outcome === 'gone') return undefined;
    if (outcome === 'full') return { status: 503, code: 'E_WAKE_QUEUE_FULL', message: `${hold.service} is starting; its queue of waiting requests is full`, retryAfterS: WAKE_RETRY_AFTER_S };
    if (outcome === 'expire') return { status: 503, code: 'E_WAKE_TIMEOUT', message: `no endpoint of ${hold.service} became ready within ${hold.timeoutMs} ms`, retryAfterS: WAKE_RETRY_AFTER_S };
  }
}
