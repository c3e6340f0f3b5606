/**
 * The HTTP/1.1 forwarding path of the proxy's HTTP mode and of Routes: a client connection's bytes are parsed by
 * llhttp (llhttp.ts) into request heads and body spans, the listener picks the upstream per request, the head goes
 * upstream rebuilt (hop-by-hop headers dropped, X-Forwarded-* and Via added, forwarded.ts), and bodies stream
 * through on keep-alive upstream connections (upstream-conn.ts) with backpressure both ways. Nothing else is built per
 * request: no IncomingMessage, no ServerResponse, no stream pipes, no timer.
 *
 * Framing: a Content-Length body passes as it is; a chunked one is decoded and re-chunked (so the upstream only ever
 * sees canonical framing, whatever chunk syntax the client used); a response without length reaches an HTTP/1.1
 * client chunked, an HTTP/1.0 client delimited by the close. Pipelined requests are answered in order: parsing
 * pauses after each request until its answer is out. `Expect: 100-continue` is answered by the proxy once the
 * request is admitted (so a 413 comes before the body is sent), other expectations get 417. A request with ambiguous
 * framing is refused with 400 and the connection closed (request-guard.ts; llhttp itself refuses the rest), and
 * nothing after it on the connection is read. An upgrade (WebSocket) leaves this path for upgrade.ts.
 *
 * Failover: a connect that fails or times out tries the next endpoint with the request whole (a body waits in memory
 * until the connect, bounded by pausing the client); a kept-alive connection the upstream closed before answering
 * retries a request whose body had not started. Timers: a per-socket inactivity timeout (both ways), and one
 * sweep per second over every connection for the head deadline (408) and the keep-alive idle limit.
 *
 * Hold-and-wake: when the listener's choice is a wake queue (a service with `wake` at zero, wake.ts), the parsed
 * request waits there, nothing sent upstream; released, it is chosen again and forwarded as any other; over the
 * queue or past its timeout it gets 503 with Retry-After. Its body is not forwarded meanwhile (at most HOLD_BYTES of
 * it are read before the client is paused, and maxBodyBytes applies as always); a client that closes leaves the queue.
 */
import { STATUS_CODES, type IncomingHttpHeaders } from 'node:http';
import type net from 'node:net';
import type { ServiceAccess } from './access-stats.ts';
import { clientResponseHeaders, upstreamRequestHeaders } from './forwarded.ts';
import type { Endpoint } from './lb/types.ts';
import type { UpstreamPool } from './proxy-pool.ts';
import { framingProblem } from './request-guard.ts';
import { ERR_OK, ERR_PAUSED, ERR_PAUSED_UPGRADE, ERR_USER, HttpParser, type ParserHandler } from './llhttp.ts';
import type { ResponseSink, UpstreamConn } from './upstream-conn.ts';
import { WAKE_RETRY_AFTER_S, type WakeHold } from './wake.ts';

/** Counters a listener keeps (proxy or router). */
export interface ForwardCounters {
  /** Requests being proxied now. */
  active: number;
  /** Requests accepted since start. */
  total: number;
  /** Upstream connect attempts that failed (refused, unreachable or timed out). */
  failedConnects: number;
}

/** A parsed request head: what routing, hashing, the smuggling checks and upgrades read. */
export interface RequestHead {
  method: string;
  url: string;
  httpVersion: string;
  rawHeaders: string[];
  /** Lower-case names; repeated headers joined with ", " (cookies with "; "), as node's IncomingMessage does. */
  headers: IncomingHttpHeaders;
  socket: { remoteAddress?: string };
}

/**
 * Where a request (or upgrade) goes: a pool and the key it picks by; or the answer to give instead; or, for a service
 * with `wake` and no ready endpoint, the queue to wait in (wake.ts): the request is chosen again once released.
 */
export type UpstreamChoice =
  | { pool: UpstreamPool; key: string | undefined; access?: ServiceAccess }
  | { status: number; code: string; message: string; retryAfterS?: number }
  | { hold: WakeHold };

/** What forwarding needs from the listener (proxy or router). */
export interface HttpListenerContext {
  counters: ForwardCounters;
  maxBodyBytes: number;
  /** The listener terminates TLS: upstreams get X-Forwarded-Proto https. Absent = false. */
  tls?: boolean;
  log: (msg: string, fields?: object) => void;
  /** Access counters of requests no service was chosen for yet (proxy: its service; router: ''); absent = not recorded. */
  access?: ServiceAccess;
}

/** A listener serving connections through this path. */
export interface H1Listener extends HttpListenerContext {
  connectTimeoutMs: number;
  /** No byte either way on a client connection for this long closes it. */
  idleTimeoutMs: number;
  /** Every client connection and tunnel of the listener, destroyed when it closes. */
  sockets: Set<net.Socket>;
  choose(head: RequestHead): UpstreamChoice;
  /** An upgrade request (parsing stopped; `rest` is what followed its head on the connection). */
  upgrade(head: RequestHead, socket: net.Socket, rest: Buffer): void;
}

/** Time a client has to send a request's head (HTTP mode and Routes). */
export const HEADERS_TIMEOUT_MS = 20_000;
/** Idle keep-alive client connections are closed after this long (nginx's keepalive_timeout is 75 s). */
export const KEEP_ALIVE_TIMEOUT_MS = 65_000;
/** Output of one batch up to this size is copied into one buffer before it is written. */
const MERGE_BYTES = 16 * 1024;
/** Body bytes held while the upstream connects, before the client is paused. */
const HOLD_BYTES = 64 * 1024;
/** Bytes read and dropped after an answer that closes the connection (so the close does not reset the answer). */
const DISCARD_BYTES = 1024 * 1024;

const CONTINUE = Buffer.from('HTTP/1.1 100 Continue\r\n\r\n', 'latin1');
const LAST_CHUNK = Buffer.from('0\r\n\r\n', 'latin1');
const CRLF = '\r\n';
const noop = (): void => {};

/** Serves one accepted client connection (plain or TLS) until it closes. */
export function serveConnection(socket: net.Socket, listener: H1Listener): void {
  if (socket.destroyed) return;
  new ClientConnection(socket, listener);
}

/** Every open client connection, for the once-a-second sweep of head deadlines and idle keep-alive limits. */
const live = new Set<ClientConnection>();
let sweeper: NodeJS.Timeout | undefined;

function sweep(): void {
  const now = Date.now();
  for (const c of live) c.check(now);
  if (live.size === 0 && sweeper) {
    clearInterval(sweeper);
    sweeper = undefined;
  }
}

class ClientConnection implements ParserHandler {
  private readonly parser: HttpParser;
  /** The request being answered. */
  exchange: Exchange | undefined;
  /** Parsing paused after a request until its answer is out; bytes read meanwhile wait in `pending`. */
  private parserPaused = false;
  private pending: Buffer | undefined;
  /** The socket was paused for `pending` (not for backpressure). */
  private heldBack = false;
  /** The connection closes after the current answer: nothing more is parsed. */
  closing = false;
  private discarded = 0;
  /** Date.now() when a request head started arriving, 0 when none is. */
  private headStart = 0;
  private idleSince = Date.now();
  private upgradeHead: RequestHead | undefined;
  private dead = false;
  /** Output of the batch of bytes being parsed (client or upstream side), written as one buffer by `flush`. */
  private out: (string | Buffer)[] = [];
  private outLength = 0;
  /** A batch is being parsed: writes wait for `flush`. */
  batching = false;

  constructor(readonly socket: net.Socket, readonly listener: H1Listener) {
    this.parser = new HttpParser('request', this);
    listener.sockets.add(socket);
    live.add(this);
    sweeper ??= setInterval(sweep, 1_000).unref();
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', noop);
    socket.once('close', () => this.onClose());
    socket.setTimeout(listener.idleTimeoutMs, () => {
      listener.log('proxy: idle connection closed', { idleMs: listener.idleTimeoutMs });
      socket.destroy();
    });
  }

  /** Head deadline (408) and keep-alive idle limit. */
  check(now: number): void {
    if (this.headStart && now - this.headStart > HEADERS_TIMEOUT_MS && !this.exchange) {
      this.headStart = 0;
      this.listener.log('proxy: malformed request', { code: 'ERR_HTTP_REQUEST_TIMEOUT', status: 408 });
      this.fail(408, 'ERR_HTTP_REQUEST_TIMEOUT');
    } else if (!this.headStart && !this.exchange && !this.parserPaused && now - this.idleSince > KEEP_ALIVE_TIMEOUT_MS) {
      this.socket.destroy();
    }
  }

  private onData(chunk: Buffer): void {
    if (this.closing) {
      this.discarded += chunk.length;
      if (this.discarded > DISCARD_BYTES) this.socket.destroy();
      return;
    }
    if (this.parserPaused) {
      this.pending = this.pending ? Buffer.concat([this.pending, chunk]) : chunk;
      this.holdBack();
      return;
    }
    this.feed(chunk);
  }

  private feed(chunk: Buffer): void {
    if (this.dead) return;
    this.batching = true;
    const rc = this.parser.execute(chunk);
    if (rc === ERR_OK) {
      this.flush();
      return;
    }
    if (rc === ERR_PAUSED) {
      this.flush();
      if (this.closing) return;
      this.parserPaused = true;
      if (this.parser.offset < chunk.length) {
        this.pending = chunk.subarray(this.parser.offset);
        this.holdBack();
      }
      return;
    }
    this.flush();
    if (rc === ERR_PAUSED_UPGRADE && this.upgradeHead) return this.handOver(this.upgradeHead, chunk.subarray(this.parser.offset));
    if (this.closing || this.dead) {
      // refused by a callback (already answered)
      if (!this.exchange) this.socket.end();
      return;
    }
    const code = this.parser.errorCode;
    this.listener.log('proxy: malformed request', { code, status: code === 'HPE_HEADER_OVERFLOW' ? 431 : 400 });
    this.fail(code === 'HPE_HEADER_OVERFLOW' ? 431 : 400, code);
  }

  /**
   * Writes what a batch produced: one part as it is, small batches copied into one buffer (one send, no writev),
   * larger ones corked.
   */
  flush(): void {
    this.batching = false;
    const out = this.out;
    const n = out.length;
    if (n === 0) return;
    const socket = this.socket;
    const total = this.outLength;
    this.out = [];
    this.outLength = 0;
    if (!socket.writable) return;
    if (n === 1) {
      const only = out[0]!;
      if (typeof only === 'string') socket.write(only, 'latin1');
      else socket.write(only);
      return;
    }
    if (total <= MERGE_BYTES) {
      const buf = Buffer.allocUnsafe(total);
      let at = 0;
      for (const part of out) at += typeof part === 'string' ? buf.write(part, at, 'latin1') : part.copy(buf, at);
      socket.write(buf);
      return;
    }
    socket.cork();
    for (const part of out) {
      if (typeof part === 'string') socket.write(part, 'latin1');
      else socket.write(part);
    }
    socket.uncork();
  }

  /**
   * A request that cannot be parsed (or was too slow): its answer goes out after the answer being written, so it is
   * not taken for that request's; then the connection closes. An error inside the body of the request being answered
   * can never be answered properly: the connection is closed (or answered, if its answer had not started).
   */
  private fail(status: number, code: string): void {
    const x = this.exchange;
    this.closing = true;
    if (x && !x.finished) {
      if (!x.requestDone) {
        if (x.responseStarted) this.socket.destroy();
        else x.reply(status, code, STATUS_CODES[status] ?? 'bad request', true);
        return;
      }
      x.afterFinish = () => writeError(this.socket, status, code);
      return;
    }
    writeError(this.socket, status, code);
  }

  private handOver(head: RequestHead, rest: Buffer): void {
    this.dead = true;
    this.socket.removeAllListeners('data');
    this.socket.removeAllListeners('timeout');
    this.socket.setTimeout(0);
    this.socket.pause();
    live.delete(this);
    this.parser.free();
    this.listener.upgrade(head, this.socket, rest);
  }

  onMessageBegin(): number {
    this.headStart = Date.now();
    return 0;
  }

  onHeaders(p: HttpParser, _status: number, upgrade: boolean, keepAlive: boolean): number {
    this.headStart = 0;
    const head = requestHead(p, this.socket);
    if (upgrade) {
      if (head.method === 'CONNECT') return this.refuse(405, 'E_METHOD', 'CONNECT is not proxied');
      this.upgradeHead = head;
      return 2;
    }
    const problem = framingProblem(head);
    if (problem !== undefined) {
      this.listener.log('proxy: request refused', { code: 'E_BAD_FRAMING', problem });
      return this.refuse(400, 'E_BAD_FRAMING', problem);
    }
    const x = new Exchange(this, head, keepAlive);
    this.exchange = x;
    if (x.hasBody && Number(head.headers['content-length'] ?? 0) > this.listener.maxBodyBytes) {
      x.reply(413, 'E_BODY_TOO_LARGE', `request body over ${this.listener.maxBodyBytes} bytes`, true);
      return ERR_USER;
    }
    const expect = head.headers.expect;
    if (expect !== undefined) {
      if (expect.toLowerCase() !== '100-continue' || head.httpVersion === '1.0') {
        x.reply(417, 'E_EXPECTATION', `expectation ${JSON.stringify(expect)} is not supported`, true);
        return ERR_USER;
      }
    }
    x.route(expect !== undefined);
    return 0;
  }

  /** Answers without an exchange (nothing forwarded) and stops parsing: the connection closes after the answer. */
  private refuse(status: number, code: string, message: string): number {
    this.closing = true;
    this.write(jsonAnswer(status, code, message, true));
    return ERR_USER;
  }

  onBody(chunk: Buffer): number {
    this.exchange?.body(chunk);
    return 0;
  }

  onMessageComplete(): number {
    if (this.upgradeHead) return 0;
    const x = this.exchange;
    if (!x) return this.closing ? ERR_PAUSED : 0;
    x.requestComplete();
    if (x.finished && !this.closing) return 0;
    return ERR_PAUSED;
  }

  write(data: string | Buffer): void {
    if (this.batching) {
      this.out.push(data);
      this.outLength += data.length;
      return;
    }
    if (!this.socket.writable) return;
    if (typeof data === 'string') this.socket.write(data, 'latin1');
    else this.socket.write(data);
  }

  /** The exchange answered and (or) read its request: the next request may be parsed. */
  exchangeDone(x: Exchange): void {
    if (this.exchange !== x) return;
    this.exchange = undefined;
    this.idleSince = Date.now();
    if (x.closeAfter || this.closing) {
      this.closing = true;
      this.flush();
      x.afterFinish?.();
      this.socket.end();
      return;
    }
    if (!this.parserPaused) return;
    this.parserPaused = false;
    this.parser.resume();
    const rest = this.pending;
    this.pending = undefined;
    if (this.heldBack) {
      this.heldBack = false;
      this.socket.resume();
    }
    if (rest) queueMicrotask(() => this.feed(rest));
  }

  private holdBack(): void {
    this.heldBack = true;
    this.socket.pause();
  }

  private onClose(): void {
    this.dead = true;
    live.delete(this);
    this.listener.sockets.delete(this.socket);
    this.exchange?.abort();
    if (!this.upgradeHead) this.parser.free();
  }
}

/** The head of the request `p` just parsed. */
function requestHead(p: HttpParser, socket: net.Socket): RequestHead {
  const raw = p.rawHeaders;
  const headers: IncomingHttpHeaders = {};
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    const prior = headers[name] as string | undefined;
    headers[name] = prior === undefined ? raw[i + 1]! : `${prior}${name === 'cookie' ? '; ' : ', '}${raw[i + 1]!}`;
  }
  return { method: p.method, url: p.url, httpVersion: p.httpVersion, rawHeaders: raw, headers, socket };
}

/** One request on its way upstream and its answer on the way back, across retries. */
class Exchange implements ResponseSink {
  readonly hasBody: boolean;
  private readonly chunkedIn: boolean;
  private readonly headOnly: boolean;
  private readonly access: ServiceAccess | undefined;
  private countedFor: ServiceAccess | undefined;
  private readonly start: number;
  private pool: UpstreamPool | undefined;
  private key: string | undefined;
  private tried: Set<string> | undefined;
  private ep: Endpoint | undefined;
  private up: UpstreamConn | undefined;
  /** The upstream connection can take body bytes (connected, or reused). */
  private upReady = false;
  /** Body bytes read before the upstream was ready. */
  private held: Buffer[] | undefined;
  private heldBytes = 0;
  private bodyBytes = 0;
  private sentBytes = 0;
  private outBytes = 0;
  private status = 0;
  private endpoint: string | undefined;
  private rechunk = false;
  private upHead: string | undefined;
  /** The client's request was read whole. */
  requestDone = false;
  responseStarted = false;
  finished = false;
  /** The client connection closes after this answer. */
  closeAfter: boolean;
  /** Run once the answer is out (a parse error found behind this request). */
  afterFinish: (() => void) | undefined;
  /** Takes the request out of its wake queue (wake.ts) while it is held there. */
  private unhold: (() => void) | undefined;

  constructor(private readonly conn: ClientConnection, readonly head: RequestHead, keepAlive: boolean) {
    const h = head.headers;
    const te = h['transfer-encoding'];
    this.chunkedIn = te !== undefined;
    this.hasBody = this.chunkedIn || (h['content-length'] !== undefined && h['content-length'] !== '0');
    this.headOnly = head.method === 'HEAD';
    this.closeAfter = !keepAlive;
    const ctx = conn.listener;
    ctx.counters.total++;
    ctx.counters.active++;
    this.access = this.countedFor = ctx.access;
    this.start = this.access ? performance.now() : 0;
    if (this.access) this.access.inFlight++;
  }

  /**
   * Chooses where the request goes (again, after a hold) and sends it there, answers it, or holds it while its
   * service wakes. A held request keeps its parsed head; its body is not forwarded (what arrives meanwhile waits in
   * `held`, the client paused past HOLD_BYTES, within maxBodyBytes), and `Expect: 100-continue` is only answered once
   * it leaves the queue, so a client that waits sends no body while held.
   */
  route(expectContinue: boolean, deadline?: number): void {
    if (this.finished) return;
    const choice = this.conn.listener.choose(this.head);
    if ('status' in choice) {
      this.reply(choice.status, choice.code, choice.message, false, choice.retryAfterS);
      return;
    }
    if ('hold' in choice) {
      this.holdIn(choice.hold, expectContinue, deadline);
      return;
    }
    if (expectContinue) this.conn.write(CONTINUE);
    this.forward(choice);
  }

  private holdIn(hold: WakeHold, expectContinue: boolean, deadline?: number): void {
    const at = deadline ?? Date.now() + hold.timeoutMs;
    const unhold = hold.hold({
      forward: () => {
        this.unhold = undefined;
        this.route(expectContinue, at);
      },
      expire: () => {
        this.unhold = undefined;
        this.reply(503, 'E_WAKE_TIMEOUT', `no endpoint of ${hold.service} became ready within ${hold.timeoutMs} ms`, false, WAKE_RETRY_AFTER_S);
      },
    }, at);
    if (!unhold) {
      this.reply(503, 'E_WAKE_QUEUE_FULL', `${hold.service} is starting; its queue of waiting requests is full`, false, WAKE_RETRY_AFTER_S);
      return;
    }
    this.unhold = unhold;
  }

  /** Forwards the request to an endpoint of the chosen pool. */
  forward(choice: { pool: UpstreamPool; key: string | undefined; access?: ServiceAccess }): void {
    const a = choice.access;
    if (this.countedFor && a && a !== this.countedFor) {
      this.countedFor.inFlight--;
      a.inFlight++;
      this.countedFor = a;
    }
    this.pool = choice.pool;
    this.key = choice.key;
    this.attempt();
  }

  private attempt(): void {
    const pool = this.pool!;
    const ep = pool.pick(this.key, this.tried);
    if (!ep) {
      const n = this.tried?.size ?? 0;
      this.reply(502, 'E_NO_UPSTREAM', n ? `no upstream accepted the request (${n} tried)` : 'no upstream endpoints', false);
      return;
    }
    const upstream = pool.upstream(ep);
    let conn = upstream.take();
    const fresh = conn === undefined;
    conn ??= upstream.dial();
    this.ep = ep;
    this.up = conn;
    this.upReady = !fresh;
    pool.acquire(ep);
    conn.bind(this);
    const socket = conn.socket;
    const head = this.upstreamHead(ep);
    if (!this.hasBody) {
      socket.write(head, 'latin1');
      this.upReady = true;
      return;
    }
    socket.cork();
    socket.write(head, 'latin1');
    if (fresh) {
      socket.once('connect', () => {
        if (this.up === conn) this.sendHeld();
      });
    } else {
      this.sendHeld();
    }
    process.nextTick(uncork, socket);
  }

  /** The request head as sent upstream (built once, the Host added per endpoint when the client sent none). */
  private upstreamHead(ep: Endpoint): string {
    let s = this.upHead;
    if (s === undefined) {
      const h = this.head;
      const raw = upstreamRequestHeaders(h, this.conn.listener.tls ?? false);
      s = `${h.method} ${h.url} HTTP/1.1\r\n`;
      for (let i = 0; i < raw.length; i += 2) {
        const name = raw[i]!;
        if (name.length === 6 && name.toLowerCase() === 'expect') continue;
        s += `${name}: ${raw[i + 1]!}\r\n`;
      }
      if (this.chunkedIn) s += 'transfer-encoding: chunked\r\n';
      this.upHead = s;
    }
    return this.head.headers.host === undefined ? `${s}host: ${ep.address}\r\n\r\n` : `${s}\r\n`;
  }

  /** The upstream is ready for the body: what was held goes now, and the rest as it comes. */
  private sendHeld(): void {
    this.upReady = true;
    const held = this.held;
    if (held) {
      this.held = undefined;
      this.heldBytes = 0;
      for (const chunk of held) this.writeUp(chunk);
      this.conn.socket.resume();
    }
    if (this.requestDone && this.chunkedIn) this.up?.socket.write(LAST_CHUNK);
  }

  body(chunk: Buffer): void {
    if (this.finished) return;
    this.bodyBytes += chunk.length;
    const max = this.conn.listener.maxBodyBytes;
    if (this.bodyBytes > max) {
      this.reply(413, 'E_BODY_TOO_LARGE', `request body over ${max} bytes`, true);
      return;
    }
    if (!this.upReady) {
      // kept until the connect: a refused one has consumed nothing, and the next upstream gets the body whole
      (this.held ??= []).push(chunk);
      this.heldBytes += chunk.length;
      if (this.heldBytes > HOLD_BYTES) this.conn.socket.pause();
      return;
    }
    this.writeUp(chunk);
  }

  private writeUp(chunk: Buffer): void {
    const up = this.up!.socket;
    this.sentBytes += chunk.length;
    let ok: boolean;
    if (this.chunkedIn) {
      up.write(`${chunk.length.toString(16)}\r\n`, 'latin1');
      up.write(chunk);
      ok = up.write(CRLF);
    } else {
      ok = up.write(chunk);
    }
    if (!ok) {
      const client = this.conn.socket;
      client.pause();
      up.once('drain', () => client.resume());
    }
  }

  requestComplete(): void {
    this.requestDone = true;
    if (this.finished) {
      this.conn.exchangeDone(this);
      return;
    }
    if (this.upReady && this.chunkedIn) this.up?.socket.write(LAST_CHUNK);
  }

  onResponseHead(_conn: UpstreamConn, status: number, raw: string[]): number {
    if (this.finished) return 1;
    this.status = status;
    this.endpoint = this.ep!.address;
    let connection: string | undefined;
    let hasLength = false;
    for (let i = 0; i < raw.length; i += 2) {
      const n = raw[i]!;
      if (n.length === 10 && n.toLowerCase() === 'connection') connection = raw[i + 1];
      else if (n.length === 14 && n.toLowerCase() === 'content-length') hasLength = true;
    }
    const headers = clientResponseHeaders(raw, connection);
    let s = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\n`;
    for (let i = 0; i < headers.length; i += 2) s += `${headers[i]!}: ${headers[i + 1]!}\r\n`;
    const noBody = this.headOnly || status === 204 || status === 304;
    const http10 = this.head.httpVersion === '1.0';
    if (!noBody && !hasLength) {
      if (http10) this.closeAfter = true;
      else {
        this.rechunk = true;
        s += 'transfer-encoding: chunked\r\n';
      }
    }
    if (this.closeAfter) s += 'connection: close\r\n';
    else if (http10) s += 'connection: keep-alive\r\n';
    this.responseStarted = true;
    this.conn.write(s + CRLF);
    return this.headOnly ? 1 : 0;
  }

  onResponseBody(chunk: Buffer): void {
    if (this.finished) return;
    this.outBytes += chunk.length;
    const conn = this.conn;
    if (this.rechunk) {
      conn.write(`${chunk.length.toString(16)}\r\n`);
      conn.write(chunk);
      conn.write(CRLF);
    } else {
      conn.write(chunk);
    }
    if (conn.socket.writableNeedDrain) {
      const up = this.up?.socket;
      if (!up) return;
      up.pause();
      conn.socket.once('drain', () => up.resume());
    }
  }

  onResponseEnd(): boolean {
    if (this.finished) return false;
    if (this.rechunk) this.conn.write(LAST_CHUNK);
    const reusable = this.requestDone && (!this.chunkedIn || this.upReady);
    this.up = undefined;
    this.release();
    this.finish();
    return reusable;
  }

  beforeResponseData(): void {
    this.conn.batching = true;
  }

  afterResponseData(): void {
    this.conn.flush();
  }

  onUpstreamFailure(conn: UpstreamConn, err: Error): void {
    if (this.up !== conn) return;
    this.up = undefined;
    const ep = this.ep!;
    this.release();
    if (this.finished) return;
    const ctx = this.conn.listener;
    const connected = conn.connected || conn.reused;
    // a kept-alive connection the upstream had closed: nothing reached it, the same endpoint may be tried again
    const stale = conn.reused && !conn.answered && this.sentBytes === 0 && !this.responseStarted;
    if (!connected) ctx.counters.failedConnects++;
    ctx.log('proxy: upstream request failed', { endpoint: ep.id, address: ep.address, connected, error: err.message });
    if (!connected || stale) {
      if (!stale) (this.tried ??= new Set()).add(ep.id);
      this.attempt();
      return;
    }
    if (!this.responseStarted) this.reply(502, 'E_UPSTREAM', 'upstream failed before answering', true);
    else this.conn.socket.destroy();
  }

  /** Answers from the proxy (a small JSON body); `close` asks the client to close the connection. */
  reply(status: number, code: string, message: string, close: boolean, retryAfterS?: number): void {
    if (this.finished) return;
    if (this.responseStarted) {
      this.conn.socket.destroy();
      return;
    }
    this.dropUpstream();
    this.status = status;
    this.responseStarted = true;
    // a body still coming is not read for an answer the proxy gives: the connection closes after it
    if (close || (this.hasBody && !this.requestDone)) this.closeAfter = true;
    this.conn.write(jsonAnswer(status, code, message, this.closeAfter, retryAfterS));
    this.finish();
  }

  /** The client went away: the upstream connection (if any) is closed, not reused. */
  abort(): void {
    if (this.finished) return;
    this.dropUpstream();
    this.finish();
  }

  private dropUpstream(): void {
    const up = this.up;
    if (!up) return;
    this.up = undefined;
    up.destroy();
    this.release();
  }

  private release(): void {
    const ep = this.ep;
    if (!ep) return;
    this.ep = undefined;
    this.pool!.release(ep);
  }

  private finish(): void {
    this.finished = true;
    this.held = undefined;
    if (this.unhold) {
      this.unhold();
      this.unhold = undefined;
    }
    const ctx = this.conn.listener;
    ctx.counters.active--;
    const a = this.countedFor;
    if (a) {
      a.inFlight--;
      a.record(this.responseStarted ? this.status : 0, this.endpoint === undefined ? 'proxy' : 'upstream', performance.now() - this.start, this.bodyBytes, this.outBytes, this.endpoint);
    }
    if (this.requestDone || this.closeAfter) this.conn.exchangeDone(this);
  }
}

function uncork(socket: net.Socket): void {
  socket.uncork();
}

/** A small JSON answer of the proxy (head and body, latin1). */
export function jsonAnswer(status: number, code: string, message: string, close: boolean, retryAfterS?: number): string {
  const body = JSON.stringify({ error: message, code });
  const retry = retryAfterS === undefined ? '' : `retry-after: ${retryAfterS}\r\n`;
  return `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body, 'latin1')}\r\n${retry}${close ? 'connection: close\r\n' : ''}\r\n${body}`;
}

/** The answer to a request that could not be parsed, then the close. */
function writeError(socket: net.Socket, status: number, code: string): void {
  if (!socket.writable) return void socket.destroy();
  socket.end(jsonAnswer(status, code, STATUS_CODES[status] ?? 'error', true), 'latin1');
}
