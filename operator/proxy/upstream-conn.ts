/**
 * Keep-alive connections to one upstream address, each with its own llhttp response parser: what http.Agent and
 * http.ClientRequest did for the forwarding path, without the streams. A connection carries one exchange at a time
 * (no pipelining upstream, as nginx); when its response ends and both sides may keep it, it goes back to the free
 * list (LIFO, at most MAX_FREE). A free connection is not reused after the upstream's `Keep-Alive: timeout` hint
 * minus a second (FREE_IDLE_MS without one), so the proxy does not send on a connection the upstream is about to
 * close; expired ones are closed when found (on take, or at the bottom of the list on give), not by a timer, and an
 * upstream closing one removes it at once.
 */
import net from 'node:net';
import { ERR_OK, ERR_PAUSED, HttpParser, type ParserHandler } from './llhttp.ts';

/** Free connections kept per upstream address. */
const MAX_FREE = 256;
/** How long a free connection is kept when the upstream does not say (nginx's keepalive_timeout is 60 s). */
const FREE_IDLE_MS = 30_000;

/** Receives what one upstream connection reports for the exchange bound to it. */
export interface ResponseSink {
  /** The response head; returns 1 when the response has no body whatever its headers say (HEAD), else 0. */
  onResponseHead(conn: UpstreamConn, status: number, rawHeaders: string[]): number;
  onResponseBody(chunk: Buffer): void;
  /** The response ended; returns whether the connection may carry another exchange (the request was sent whole). */
  onResponseEnd(): boolean;
  /** The connection failed or closed before the response ended. */
  onUpstreamFailure(conn: UpstreamConn, err: Error): void;
  /** Called before a batch of response bytes is parsed (writes for it may be gathered) ... */
  beforeResponseData(): void;
  /** ... and after it (to flush what was written for it). */
  afterResponseData(): void;
}

export class UpstreamConn implements ParserHandler {
  readonly parser: HttpParser;
  sink: ResponseSink | undefined;
  /** The TCP connect completed. */
  connected = false;
  /** The connection served an earlier exchange (a failure before any byte may be the upstream closing it). */
  reused = false;
  /** A response byte arrived for the current exchange. */
  answered = false;
  /** The current response is informational (1xx): its end is not the exchange's. */
  private informational = false;
  /** Seconds the upstream keeps an idle connection (its Keep-Alive: timeout), if it said. */
  private keepAliveHintS = 0;
  /** performance.now() after which a free connection is not reused (closed instead). */
  freeUntil = 0;

  constructor(readonly socket: net.Socket, private readonly home: Upstream) {
    this.parser = new HttpParser('response', this);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err) => this.fail(err));
    socket.once('end', () => this.onEnd());
    socket.once('close', () => {
      this.fail(new Error('upstream closed the connection'));
      home.forget(this);
      this.parser.free();
    });
  }

  /** Binds the next exchange; the connection is taken off the free list. */
  bind(sink: ResponseSink): void {
    this.sink = sink;
    this.answered = false;
    this.informational = false;
  }

  destroy(): void {
    this.sink = undefined;
    this.socket.destroy();
  }

  onMessageBegin(): number {
    return 0;
  }

  onHeaders(parser: HttpParser, status: number): number {
    const sink = this.sink;
    if (!sink) return -1;
    this.informational = status < 200 && status !== 101;
    if (this.informational) return 0;
    const raw = parser.rawHeaders;
    this.keepAliveHintS = keepAliveHint(raw);
    return sink.onResponseHead(this, status, raw);
  }

  onBody(chunk: Buffer): number {
    this.sink?.onResponseBody(chunk);
    return 0;
  }

  onMessageComplete(): number {
    if (this.informational) return 0;
    const sink = this.sink;
    this.sink = undefined;
    const reusable = sink !== undefined && sink.onResponseEnd() && this.parser.keepAlive && !this.socket.destroyed;
    if (reusable) this.home.give(this, this.keepAliveHintS);
    else this.socket.destroy();
    // parsing stops here: a byte after the response is a protocol error, found by onData
    return ERR_PAUSED;
  }

  private onData(chunk: Buffer): void {
    const sink = this.sink;
    if (!sink) {
      // bytes on an idle connection: nothing asked for them
      this.socket.destroy();
      return;
    }
    this.answered = true;
    sink.beforeResponseData();
    const rc = this.parser.execute(chunk);
    if (rc === ERR_PAUSED) {
      this.parser.resume();
      if (this.parser.offset < chunk.length) this.socket.destroy();
    } else if (rc !== ERR_OK) {
      this.fail(new Error(`upstream sent a malformed response (${this.parser.errorCode}: ${this.parser.errorReason})`));
      this.socket.destroy();
    }
    sink.afterResponseData();
  }

  private onEnd(): void {
    const sink = this.sink;
    if (!sink || !this.answered) return;
    // a response delimited by the close ends here; anything else is cut short (reported by 'close')
    sink.beforeResponseData();
    this.parser.finish();
    sink.afterResponseData();
  }

  private fail(err: Error): void {
    const sink = this.sink;
    if (!sink) return;
    this.sink = undefined;
    sink.onUpstreamFailure(this, err);
  }
}

/** The `timeout=` of a Keep-Alive response header, in seconds; 0 when absent. */
function keepAliveHint(raw: readonly string[]): number {
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i]!.length !== 10 || raw[i]!.toLowerCase() !== 'keep-alive') continue;
    const m = /timeout=(\d+)/i.exec(raw[i + 1]!);
    return m ? Number(m[1]) : 0;
  }
  return 0;
}

/** The connections to one upstream address. */
export class Upstream {
  private readonly free: UpstreamConn[] = [];
  private closed = false;

  constructor(private readonly host: string, private readonly port: number, private readonly connectTimeoutMs: number) {}

  /** A free connection (the most recently used), or undefined. */
  take(): UpstreamConn | undefined {
    const now = performance.now();
    for (;;) {
      const conn = this.free.pop();
      if (!conn) return undefined;
      if (conn.socket.destroyed) continue;
      if (conn.freeUntil < now) {
        conn.destroy();
        continue;
      }
      conn.reused = true;
      return conn;
    }
  }

  /** A new connection, connecting; a connect that takes over connectTimeoutMs fails it. */
  dial(): UpstreamConn {
    const socket = net.createConnection({ host: this.host, port: this.port, noDelay: true });
    const conn = new UpstreamConn(socket, this);
    const timer = setTimeout(() => socket.destroy(new Error(`connect timeout after ${this.connectTimeoutMs} ms`)), this.connectTimeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      conn.connected = true;
    });
    socket.once('close', () => clearTimeout(timer));
    return conn;
  }

  /** Puts a connection whose exchange ended back on the free list (or closes it when the list is full or closed). */
  give(conn: UpstreamConn, hintS: number): void {
    if (this.closed || this.free.length >= MAX_FREE) {
      conn.destroy();
      return;
    }
    const now = performance.now();
    conn.freeUntil = now + (hintS > 1 ? (hintS - 1) * 1000 : hintS === 1 ? 500 : FREE_IDLE_MS);
    this.free.push(conn);
    // expiry is checked lazily (no timer per exchange): the oldest ones go as newer ones come back
    const free = this.free;
    while (free.length > 1 && free[0]!.freeUntil < now) free.shift()!.destroy();
  }

  /** Drops a connection that closed from the free list. */
  forget(conn: UpstreamConn): void {
    const i = this.free.lastIndexOf(conn);
    if (i >= 0) this.free.splice(i, 1);
  }

  /** Closes every free connection; connections in use close when their exchange ends. */
  close(): void {
    this.closed = true;
    for (const conn of this.free.splice(0)) conn.destroy();
  }
}
