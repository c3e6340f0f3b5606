/**
 * GET /v1/status/watch: the status document as Server-Sent Events (`event: status`, data the document's JSON), once
 * at connect and again after each pass that changed it — what the dashboard lives on, no polling. Needs `read
 * status`. Bounded: watchers hold a ClientSlots slot (total and per client address), one whose unread backlog passes
 * MAX_BACKLOG is closed, and a `: ping` comment every 15 s keeps proxies from closing an idle stream.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { clientAddress, type ClientSlots } from './client-slots.ts';
import { send, sendLimited } from '../registry/http-util.ts';
import type { StatusDoc } from '../status/report.ts';

export const MAX_BACKLOG = 4 * 1024 * 1024;

export interface StatusWatchDeps {
  current(): StatusDoc | null;
  /** Calls `fn` after every pass; returns the unsubscribe function. */
  subscribe(fn: (doc: StatusDoc) => void): () => void;
  slots: ClientSlots;
  heartbeatMs?: number;
}

export function handleStatusWatch(req: IncomingMessage, res: ServerResponse, deps: StatusWatchDeps): void {
  if (req.method !== 'GET') return send(res, 405, { error: 'use GET' });
  const client = clientAddress(req.socket);
  const refusal = deps.slots.acquire(client);
  if (refusal) return void sendLimited(res, refusal, 'status watchers');
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' });
  let last = '';
  const push = (doc: StatusDoc | null): void => {
    if (!doc || res.destroyed) return;
    const json = JSON.stringify(doc);
    if (json === last) return;
    if (res.writableLength > MAX_BACKLOG) return void res.destroy();
    last = json;
    res.write(`event: status\ndata: ${json}\n\n`);
  };
  res.write(': watching\n\n');
  push(deps.current());
  const unsubscribe = deps.subscribe(push);
  const ping = setInterval(() => { if (!res.destroyed) res.write(': ping\n\n'); }, deps.heartbeatMs ?? 15_000);
  let closed = false;
  const stop = (): void => {
    if (closed) return;
    closed = true;
    clearInterval(ping);
    unsubscribe();
    deps.slots.release(client);
  };
  res.once('close', stop);
  req.socket.once('close', stop);
}
