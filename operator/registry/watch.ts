/** Server-Sent Events stream of registry changes (`GET /v1/watch`). */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Registry } from './registry.ts';

export interface WatchOptions {
  /** Only changes of this service (`ns/name`); absent = all services. */
  service?: string;
  /** Interval of the `: ping` comment that keeps proxies from closing an idle stream. */
  heartbeatMs: number;
}

/** A watcher that lets this much of its stream pile up unread is cut off (it resyncs when it reconnects). */
export const MAX_WATCH_BACKLOG_BYTES = 64 * 1024;

/**
 * Starts an SSE stream on `res`: one `event: change` per registry change (`id:` = version, data `{service, version}`),
 * and a comment every `heartbeatMs`. It opens with a `: connected` comment so clients know the stream is live.
 * Stops (unsubscribes, clears its timer) when the client disconnects, or when it reads too slowly: a stream whose
 * unread backlog passes MAX_WATCH_BACKLOG_BYTES is closed, so a stalled client cannot make the operator buffer.
 */
export function startWatch(registry: Registry, req: IncomingMessage, res: ServerResponse, opts: WatchOptions): void {
  res.writeHead(200, {
    'content-type': 'text/event-stream',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  });
  const write = (text: string): void => {
    if (res.writableLength > MAX_WATCH_BACKLOG_BYTES) res.destroy();
    else if (!res.destroyed) res.write(text);
  };
  write(': connected\n\n');
  const unsubscribe = registry.subscribe((change) => {
    if (opts.service !== undefined && change.service !== opts.service) return;
    write(`event: change\nid: ${change.version}\ndata: ${JSON.stringify(change)}\n\n`);
  });
  const timer = setInterval(() => write(': ping\n\n'), opts.heartbeatMs);
  const stop = (): void => {
    clearInterval(timer);
    unsubscribe();
  };
  req.socket.once('close', stop);
  res.once('close', stop);
}
