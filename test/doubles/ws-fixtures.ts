/**
 * A minimal WebSocket (RFC 6455) for the proxy specs, hand-written on node:net and node:crypto: an echo backend and a
 * client. Text frames only, one frame per message, payloads under 64 KiB; enough to prove bytes pass both ways.
 */
import { createHash, randomBytes } from 'node:crypto';
import http, { type IncomingHttpHeaders } from 'node:http';
import net from 'node:net';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** The Sec-WebSocket-Accept answering a Sec-WebSocket-Key. */
export function acceptKey(key: string): string {
  return createHash('sha1').update(key + GUID).digest('base64');
}

/** One text frame; clients mask (RFC 6455 §5.3), servers do not. */
export function encodeFrame(text: string, mask: boolean): Buffer {
  const payload = Buffer.from(text);
  const len = payload.length;
  const head = len < 126 ? Buffer.from([0x81, (mask ? 0x80 : 0) | len]) : Buffer.from([0x81, (mask ? 0x80 : 0) | 126, len >> 8, len & 0xff]);
  if (!mask) return Buffer.concat([head, payload]);
  const key = randomBytes(4);
  const masked = Buffer.from(payload.map((b, i) => b ^ key[i % 4]!));
  return Buffer.concat([head, key, masked]);
}

/** Splits complete frames off `buf`: their texts and the bytes left over. */
export function decodeFrames(buf: Buffer): { texts: string[]; rest: Buffer } {
  const texts: string[] = [];
  let off = 0;
  for (;;) {
    if (buf.length - off < 2) break;
    const masked = (buf[off + 1]! & 0x80) !== 0;
    let len = buf[off + 1]! & 0x7f;
    let at = off + 2;
    if (len === 126) {
      if (buf.length - off < 4) break;
      len = buf.readUInt16BE(off + 2);
      at = off + 4;
    }
    const key = masked ? buf.subarray(at, at + 4) : undefined;
    if (key) at += 4;
    if (buf.length < at + len) break;
    const payload = Buffer.from(buf.subarray(at, at + len));
    if (key) for (let i = 0; i < payload.length; i++) payload[i]! ^= key[i % 4]!;
    texts.push(payload.toString());
    off = at + len;
  }
  return { texts, rest: buf.subarray(off) };
}

/** A WebSocket echo backend: each message comes back as "<name>:<text>"; `push` sends to every open socket. */
export interface WsBackend {
  name: string;
  port: number;
  address: string;
  /** Handshakes accepted, and the request headers of the last one. */
  upgrades: number;
  lastHeaders?: IncomingHttpHeaders;
  /** Plain (non-upgrade) requests seen: answered 426. */
  plain: number;
  open: number;
  push(text: string): void;
  close(): Promise<void>;
}

/** Starts a WebSocket echo backend on 127.0.0.1. */
export async function startWsBackend(name: string): Promise<WsBackend> {
  const sockets = new Set<net.Socket>();
  const server = http.createServer((req, res) => {
    b.plain++;
    res.writeHead(426, { 'content-type': 'text/plain', upgrade: 'websocket' }).end('upgrade required');
  });
  server.on('upgrade', (req, socket: net.Socket) => {
    b.upgrades++;
    b.lastHeaders = req.headers;
    sockets.add(socket);
    b.open++;
    socket.once('close', () => {
      sockets.delete(socket);
      b.open--;
    });
    socket.on('error', () => {});
    socket.on('end', () => socket.end());
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${acceptKey(String(req.headers['sec-websocket-key']))}\r\n\r\n`);
    let buf: Buffer = Buffer.alloc(0);
    socket.on('data', (d: Buffer) => {
      const { texts, rest } = decodeFrames(Buffer.concat([buf, d]));
      buf = rest;
      for (const t of texts) socket.write(encodeFrame(`${name}:${t}`, false));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  const b: WsBackend = {
    name, port, address: `127.0.0.1:${port}`, upgrades: 0, plain: 0, open: 0,
    push: (text) => sockets.forEach((s) => s.write(encodeFrame(text, false))),
    close: () => {
      for (const s of sockets) s.destroy();
      server.closeAllConnections();
      return new Promise((r) => server.close(() => r()));
    },
  };
  return b;
}

/** A client WebSocket over a raw socket. */
export interface WsClient {
  /** The handshake answer's status and head. */
  status: number;
  head: string;
  socket: net.Socket;
  send(text: string): void;
  /** Resolves with the next message (5 s deadline). */
  next(): Promise<string>;
  /** Resolves when the connection closed. */
  closed: Promise<void>;
  close(): void;
}

/**
 * Opens a WebSocket to 127.0.0.1:port (`host` as the Host header) and checks Sec-WebSocket-Accept. A non-101 answer
 * resolves too (status and head set; the rest of the answer is in `head` once the connection closed).
 */
export function wsConnect(port: number, path = '/', headers: Record<string, string> = {}): Promise<WsClient> {
  return new Promise((resolve, reject) => {
    const key = randomBytes(16).toString('base64');
    const socket = net.connect(port, '127.0.0.1');
    const extra = Object.entries({ host: 'ws.example.com', ...headers }).map(([k, v]) => `${k}: ${v}\r\n`).join('');
    socket.write(`GET ${path} HTTP/1.1\r\n${extra}Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
    let buf: Buffer = Buffer.alloc(0);
    let handshaken = false;
    const queue: string[] = [];
    const waiters: ((t: string) => void)[] = [];
    const closed = new Promise<void>((r) => socket.once('close', () => r()));
    const timer = setTimeout(() => socket.destroy(new Error('websocket handshake timed out')), 5_000);
    socket.on('error', (err) => (handshaken ? undefined : reject(err)));
    const client: WsClient = {
      status: 0, head: '', socket, closed,
      send: (text) => socket.write(encodeFrame(text, true)),
      next: () => {
        const t = queue.shift();
        if (t !== undefined) return Promise.resolve(t);
        return new Promise((r, j) => {
          const deadline = setTimeout(() => j(new Error('no websocket message within 5 s')), 5_000);
          waiters.push((m) => (clearTimeout(deadline), r(m)));
        });
      },
      close: () => socket.destroy(),
    };
    socket.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (!handshaken) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        handshaken = true;
        clearTimeout(timer);
        client.head = buf.subarray(0, end).toString('latin1');
        client.status = Number(client.head.split(' ')[1]);
        buf = buf.subarray(end + 4);
        if (client.status === 101 && !new RegExp(`^sec-websocket-accept: ${escape(acceptKey(key))}$`, 'im').test(client.head)) {
          reject(new Error(`bad Sec-WebSocket-Accept in ${client.head}`));
          return;
        }
        if (client.status !== 101) {
          socket.on('data', (more: Buffer) => (client.head += more.toString('latin1')));
          client.head += `\r\n\r\n${buf.toString('latin1')}`;
          resolve(client);
          return;
        }
        resolve(client);
      }
      if (client.status !== 101) return;
      const { texts, rest } = decodeFrames(buf);
      buf = rest;
      for (const t of texts) {
        const w = waiters.shift();
        if (w) w(t);
        else queue.push(t);
      }
    });
  });
}

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}
