/**
 * Opens a Server-Sent Events answer for the routes that stream (status watch, logs and events): takes a slot of
 * `slots` for the client address (refused with 503/429 and Retry-After when there is none), writes the headers and an
 * opening comment, pings every `heartbeatMs`, and on close clears the ping, gives the slot back and calls `onClose`.
 * `write` drops a client whose unread backlog passes `maxBacklog` (a stalled reader cannot make the operator buffer).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { clientAddress, type ClientSlots } from './client-slots.ts';
import { sendLimited } from '../registry/http-util.ts';

export interface EventStream {
  /** Writes `text` unless the client is gone or too far behind (then it is closed); false when not written. */
  write(text: string): boolean;
}

export function openEventStream(req: IncomingMessage, res: ServerResponse, opts: { slots?: ClientSlots; what: string; maxBacklog: number; heartbeatMs?: number; onClose: () => void }): EventStream | null {
  const client = clientAddress(req.socket);
  const refusal = opts.slots?.acquire(client);
  if (refusal) {
    void sendLimited(res, refusal, opts.what);
    return null;
  }
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' });
  res.write(': open\n\n');
  const ping = setInterval(() => { if (!res.destroyed) res.write(': ping\n\n'); }, opts.heartbeatMs ?? 15_000);
  let closed = false;
  const stop = (): void => {
    if (closed) return;
    closed = true;
    clearInterval(ping);
    opts.slots?.release(client);
    opts.onClose();
  };
  res.once('close', stop);
  req.socket.once('close', stop);
  return {
    write(text) {
      if (res.destroyed) return false;
      if (res.writableLength > opts.maxBacklog) {
        res.destroy();
        return false;
      }
      res.write(text);
      return true;
    },
  };
}
