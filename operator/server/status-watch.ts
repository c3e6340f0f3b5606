/**
 * GET /v1/status/watch: the status document as Server-Sent Events (`event: status`, data the document's JSON), once
 * at connect and again after each pass that changed it — what the dashboard lives on, no polling. Needs `read
 * status`. Bounded: watchers hold a ClientSlots slot (total and per client address), one whose unread backlog passes
 * MAX_BACKLOG is closed, and a `: ping` comment every 15 s keeps proxies from closing an idle stream. `event: changed`
 * (data `{"topic":"reviews"}`) tells the page to read again what the status does not carry: the review plans.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ClientSlots } from './client-slots.ts';
import { openEventStream } from './event-stream.ts';
import { send } from '../registry/http-util.ts';
import type { StatusDoc } from '../status/report.ts';
import { eventText } from '../util/sse.ts';

export const MAX_BACKLOG = 4 * 1024 * 1024;

export interface StatusWatchDeps {
  current(): StatusDoc | null;
  /** Calls `fn` after every pass; returns the unsubscribe function. */
  subscribe(fn: (doc: StatusDoc) => void): () => void;
  /** Calls `fn` when something the status does not carry changed (`reviews`: a review round's plans); the unsubscribe function. */
  changes?(fn: (topic: string) => void): () => void;
  slots: ClientSlots;
  heartbeatMs?: number;
}

export function handleStatusWatch(req: IncomingMessage, res: ServerResponse, deps: StatusWatchDeps): void {
  if (req.method !== 'GET') return send(res, 405, { error: 'use GET' });
  let unsubscribe = (): void => undefined;
  const out = openEventStream(req, res, { slots: deps.slots, what: 'status watchers', maxBacklog: MAX_BACKLOG, ...(deps.heartbeatMs ? { heartbeatMs: deps.heartbeatMs } : {}), onClose: () => unsubscribe() });
  if (!out) return;
  let last = '';
  const push = (doc: StatusDoc | null): void => {
    if (!doc) return;
    const json = JSON.stringify(doc);
    if (json !== last && out.write(eventText('status', json))) last = json;
  };
  push(deps.current());
  const off = [deps.subscribe(push), deps.changes?.((topic) => out.write(eventText('changed', JSON.stringify({ topic })))) ?? (() => undefined)];
  unsubscribe = () => { for (const f of off) f(); };
  if (res.destroyed) unsubscribe(); // gone before it was subscribed
}
