/** An HTTP backend for the proxy's wire-level specs: records every request whole and answers with what it saw. */
import http, { type IncomingHttpHeaders } from 'node:http';
import net from 'node:net';
import { startProxy } from '../../operator/proxy/proxy.ts';
import { startRouter } from '../../operator/proxy/router.ts';

/** One request as the backend received it. */
export interface Recorded {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  /** Raw header names and values, in order. */
  rawHeaders: string[];
  body: string;
  /** Body chunks as they arrived (a streamed upload arrives in several). */
  chunks: number;
}

export interface RecordingBackend {
  port: number;
  address: string;
  requests: Recorded[];
  /** Connections the proxy opened to this backend. */
  connections: number;
  close(): Promise<void>;
}

/**
 * Starts a backend on 127.0.0.1 answering 200 with JSON {url, bytes} after the whole body; `/delay/<ms>` answers
 * after that many ms (to test that pipelined answers keep their order).
 */
export async function startRecordingBackend(): Promise<RecordingBackend> {
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (d: Buffer) => chunks.push(d));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString();
      b.requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, rawHeaders: req.rawHeaders, body, chunks: chunks.length });
      const delay = Number(/^\/delay\/(\d+)/.exec(req.url ?? '')?.[1] ?? 0);
      setTimeout(() => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ url: req.url, bytes: Buffer.byteLength(body) })), delay);
    });
  });
  server.on('connection', () => b.connections++);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  const b: RecordingBackend = {
    port, address: `127.0.0.1:${port}`, requests: [], connections: 0,
    close: () => {
      server.closeAllConnections();
      return new Promise((r) => server.close(() => r()));
    },
  };
  return b;
}

/** A raw client connection: write bytes, read everything that came back, see whether the server closed it. */
export interface RawConnection {
  socket: net.Socket;
  /** Everything received so far (latin1). */
  received(): string;
  /** Resolves when the received text matches `re` (5 s deadline). */
  until(re: RegExp): Promise<string>;
  /** Resolves with everything received once the server closed the connection (5 s deadline). */
  closed(): Promise<string>;
  write(bytes: string | Buffer): void;
}

/** Opens a raw connection to 127.0.0.1:port. */
export async function rawConnection(port: number): Promise<RawConnection> {
  const socket = net.connect(port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  let buf = '';
  const listeners = new Set<() => void>();
  let ended = false;
  socket.on('data', (d: Buffer) => {
    buf += d.toString('latin1');
    listeners.forEach((l) => l());
  });
  socket.on('error', () => {});
  socket.on('close', () => {
    ended = true;
    listeners.forEach((l) => l());
  });
  const wait = (done: () => boolean, what: string): Promise<string> => new Promise((resolve, reject) => {
    const check = () => {
      if (!done()) return;
      listeners.delete(check);
      clearTimeout(timer);
      resolve(buf);
    };
    const timer = setTimeout(() => {
      listeners.delete(check);
      reject(new Error(`${what} within 5 s; got ${JSON.stringify(buf)}`));
    }, 5_000);
    listeners.add(check);
    check();
  });
  return {
    socket,
    received: () => buf,
    until: (re) => wait(() => re.test(buf), `no ${re}`),
    closed: () => wait(() => ended, 'connection not closed'),
    write: (bytes) => void socket.write(typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes),
  };
}

/** A listener in front of one backend: the HTTP-mode proxy or a Route router, closed by the test through `cleanups`. */
export type Front = (b: RecordingBackend) => Promise<{ port: number; stats(): { total: number } }>;

/** Both HTTP listeners berth has, each in front of the backend it is given (round-robin, one endpoint). */
export function httpFronts(cleanups: (() => Promise<void> | void)[]): [string, Front][] {
  return [
    ['http-mode proxy', async (b) => {
      const p = await startProxy({ host: '127.0.0.1', port: 0, algorithm: 'round-robin', mode: 'http', endpoints: [{ id: 'b', address: b.address, weight: 1 }] });
      cleanups.push(() => p.close());
      return p;
    }],
    ['router', async (b) => {
      const r = await startRouter({ host: '127.0.0.1', port: 0 });
      r.update([{ pathPrefix: '/', backends: [{ service: 'ns/b', weight: 1 }] }], { 'ns/b': { algorithm: 'round-robin', endpoints: [{ id: 'b', address: b.address, weight: 1 }] } });
      cleanups.push(() => r.close());
      return r;
    }],
  ];
}
