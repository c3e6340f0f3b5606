/** HTTP requests written byte by byte on a raw socket: for tests of how a server treats slow, partial or oversize requests. */
import net from 'node:net';

export interface RawAnswer { status: number; head: string; body: string }

/**
 * Sends `head` (request line and headers, without the blank line) and then `body` chunks every `everyMs`; resolves
 * with the answer as soon as a complete one arrived (or the socket closed), or null after `timeoutMs`.
 */
export function rawRequest(port: number, head: string, o: { body?: Buffer; chunk?: number; everyMs?: number; timeoutMs?: number; localAddress?: string; sockets?: net.Socket[] } = {}): Promise<RawAnswer | null> {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1', localAddress: o.localAddress });
    o.sockets?.push(s);
    let buf = '';
    let sent = 0;
    const body = o.body ?? Buffer.alloc(0);
    const done = (r: RawAnswer | null) => { clearInterval(iv); clearTimeout(timer); resolve(r); };
    const parse = (): RawAnswer | null => {
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return null;
      const headText = buf.slice(0, end);
      const len = Number(/content-length: (\d+)/i.exec(headText)?.[1] ?? 0);
      if (buf.length - end - 4 < len) return null;
      return { status: Number(headText.split(' ')[1]), head: headText, body: buf.slice(end + 4, end + 4 + len) };
    };
    s.on('data', (d) => { buf += d.toString(); const r = parse(); if (r) done(r); });
    s.on('close', () => done(parse()));
    s.on('error', () => undefined);
    s.write(`${head}\r\n\r\n`);
    const iv = setInterval(() => {
      if (sent >= body.length || s.destroyed) return;
      const part = body.subarray(sent, sent + (o.chunk ?? body.length));
      sent += part.length;
      s.write(part);
    }, o.everyMs ?? 1);
    const timer = setTimeout(() => done(null), o.timeoutMs ?? 3_000);
  });
}
