/**
 * GET /v1/logs and GET /v1/events: the log store's lines and events, filtered; `follow=1` streams new ones as
 * Server-Sent Events (`event: line` / `event: event`, data the JSON of one). Every filter is checked first: one that
 * does not parse is a 400 naming it. Bounded: an answer holds at most MAX_ANSWER entries, followers hold a slot of
 * a ClientSlots (total and per client address), and a follower whose unread backlog passes MAX_BACKLOG is closed.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ClientSlots } from '../server/client-slots.ts';
import { openEventStream } from '../server/event-stream.ts';
import { send } from '../registry/http-util.ts';
import { eventText } from '../util/sse.ts';
import { compileGrep, MAX_ANSWER, type LogQuery, type LogStore, type StoredLine, type StoreEvent } from './store.ts';

export const MAX_BACKLOG = 256 * 1024;
/** How often a follower looks for new entries. */
export const FOLLOW_POLL_MS = 250;

export interface LogsApiDeps {
  store: () => LogStore | null;
  followers?: ClientSlots;
  now?: () => number;
  pollMs?: number;
  heartbeatMs?: number;
}

export type Parsed<T> = { ok: true; value: T; follow: boolean } | { ok: false; error: string };

/** `30m`, `24h`, `7d` (before now) or an ISO time, to microseconds; null when it is neither. */
export function parseTime(v: string, now: number): number | null {
  const m = /^(\d{1,6})(s|m|h|d)$/.exec(v);
  if (m) return (now - Number(m[1]) * { s: 1000, m: 60_000, h: 3600_000, d: 86_400_000 }[m[2] as 's' | 'm' | 'h' | 'd']) * 1000;
  if (v.length > 40 || !/^\d{4}-\d{2}-\d{2}/.test(v)) return null;
  const t = Date.parse(v);
  return Number.isNaN(t) ? null : t * 1000;
}

const NAME = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** The query of GET /v1/logs (or the CLI's flags, sent as the same parameters). */
export function parseLogQuery(params: URLSearchParams, now: number): Parsed<LogQuery> {
  const q: LogQuery = {};
  const service = params.get('service');
  if (service !== null) {
    const parts = service.split('/');
    if (parts.length < 2 || parts.length > 3 || !parts.slice(0, 2).every((p) => NAME.test(p))) return { ok: false, error: `service: "${service.slice(0, 100)}" is not <namespace>/<name>[/<replica>]` };
    [q.namespace, q.service] = parts as [string, string];
    if (parts[2] !== undefined) q.replica = parts[2];
  }
  const replica = params.get('replica');
  if (replica !== null) q.replica = replica.slice(0, 200);
  const node = params.get('node');
  if (node !== null) q.node = node.slice(0, 200);
  const stream = params.get('stream');
  if (stream !== null) {
    if (stream !== 'stdout' && stream !== 'stderr') return { ok: false, error: 'stream: stdout or stderr' };
    q.stream = stream;
  }
  for (const key of ['since', 'until'] as const) {
    const v = params.get(key);
    if (v === null || v === '') continue;
    const t = parseTime(v, now);
    if (t === null) return { ok: false, error: `${key}: "${v.slice(0, 60)}" is neither a duration (30s, 10m, 24h, 7d) nor an ISO time` };
    q[key] = t;
  }
  const grep = params.get('grep');
  if (grep !== null) {
    const c = compileGrep(grep);
    if (!c.ok) return { ok: false, error: c.error };
    q.grep = grep;
  }
  const search = params.get('search');
  if (search !== null) q.search = search.slice(0, 1000);
  for (const key of ['tail', 'limit'] as const) {
    const v = params.get(key);
    if (v === null) continue;
    const n = Number(v);
    if (!/^\d{1,7}$/.test(v) || n < 1) return { ok: false, error: `${key}: a whole number of lines, 1 to ${MAX_ANSWER}` };
    q[key] = Math.min(n, MAX_ANSWER);
  }
  const follow = params.get('follow');
  return { ok: true, value: q, follow: follow === '1' || follow === 'true' };
}

export function handleLogs(req: IncomingMessage, res: ServerResponse, deps: LogsApiDeps): void {
  if (req.method !== 'GET') return send(res, 405, { error: 'use GET' });
  const store = deps.store();
  if (!store) return send(res, 503, { error: 'the log store is not open (see berth status: logs)' });
  const now = (deps.now ?? Date.now)();
  const parsed = parseLogQuery(new URL(req.url ?? '/', 'http://berth').searchParams, now);
  if (!parsed.ok) return send(res, 400, { error: parsed.error });
  const first = store.query(parsed.value);
  if (!parsed.follow) return send(res, 200, { lines: first });
  // Following: what matches now, then what is ingested after (by id), in time order within each poll.
  const { tail: _tail, limit: _limit, ...live } = parsed.value;
  let last = Math.max(store.lastId(), ...first.map((l) => l.id));
  follow(req, res, deps, 'line', first, () => {
    const lines = store.query({ ...live, afterId: last });
    for (const l of lines) last = Math.max(last, l.id);
    return lines;
  });
}

export function handleEvents(req: IncomingMessage, res: ServerResponse, deps: LogsApiDeps): void {
  if (req.method !== 'GET') return send(res, 405, { error: 'use GET' });
  const store = deps.store();
  if (!store) return send(res, 503, { error: 'the log store is not open (see berth status: logs)' });
  const now = (deps.now ?? Date.now)();
  const params = new URL(req.url ?? '/', 'http://berth').searchParams;
  const parsed = parseLogQuery(params, now);
  if (!parsed.ok) return send(res, 400, { error: parsed.error });
  const { since, until, namespace, service, limit } = parsed.value;
  const q = { ...(since !== undefined ? { since } : {}), ...(until !== undefined ? { until } : {}), ...(namespace ? { namespace } : {}), ...(service ? { service } : {}), ...(limit ? { limit } : {}) };
  const first = store.events(q);
  if (!parsed.follow) return send(res, 200, { events: first });
  let last = Math.max(0, ...first.map((e) => e.id));
  const { since: _s, limit: _l, ...live } = q;
  follow(req, res, deps, 'event', first, () => {
    const events = store.events({ ...live, afterId: last });
    for (const e of events) last = Math.max(last, e.id);
    return events;
  });
}

/** Streams `first`, then what `next()` finds every poll, as SSE; stops when the client goes or reads too slowly. */
function follow(req: IncomingMessage, res: ServerResponse, deps: LogsApiDeps, event: string, first: (StoredLine | StoreEvent)[], next: () => (StoredLine | StoreEvent)[]): void {
  let poll: NodeJS.Timeout | undefined;
  const out = openEventStream(req, res, { ...(deps.followers ? { slots: deps.followers } : {}), what: 'log followers', maxBacklog: MAX_BACKLOG, ...(deps.heartbeatMs ? { heartbeatMs: deps.heartbeatMs } : {}), onClose: () => clearInterval(poll) });
  if (!out) return;
  const write = (entries: (StoredLine | StoreEvent)[]): void => {
    if (entries.length) out.write(entries.map((e) => eventText(event, JSON.stringify(e), e.id)).join(''));
  };
  write(first);
  poll = setInterval(() => {
    try {
      write(next());
    } catch {
      res.destroy();
    }
  }, deps.pollMs ?? FOLLOW_POLL_MS);
}
