/**
 * GET /v1/history?limit=20: the applied revisions of this instance, newest first, with result and duration
 * (status/history.ts; what `berth history` prints), read from the operator's own clone of the status branch. Needs
 * `read status`. Bounded: limit 1..100, one read at a time (concurrent callers share it), and an answer reused for
 * 5 s (the dashboard asks after each status change).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { send } from '../registry/http-util.ts';
import type { HistoryEntry } from '../status/history.ts';

export interface HistoryDeps {
  read(limit: number): Promise<HistoryEntry[]>;
  now?: () => number;
}

const FRESH_MS = 5_000;

export function historyRoute(deps: HistoryDeps): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  let inFlight: { limit: number; p: Promise<HistoryEntry[]> } | null = null;
  let last: { limit: number; at: number; entries: HistoryEntry[] } | null = null;
  const now = deps.now ?? Date.now;
  return async (req, res) => {
    if (req.method !== 'GET') return send(res, 405, { error: 'use GET' });
    const raw = new URL(req.url ?? '/', 'http://berth').searchParams.get('limit') ?? '20';
    const limit = Number(raw);
    if (!/^\d{1,3}$/.test(raw) || limit < 1 || limit > 100) return send(res, 400, { error: 'limit: a whole number from 1 to 100' });
    if (last && last.limit >= limit && now() - last.at < FRESH_MS) return send(res, 200, { revisions: last.entries.slice(0, limit) });
    try {
      if (!inFlight || inFlight.limit < limit) {
        const p = deps.read(limit);
        inFlight = { limit, p };
        void p.finally(() => { if (inFlight?.p === p) inFlight = null; }).catch(() => undefined);
      }
      const entries = await inFlight.p;
      last = { limit, at: now(), entries };
      send(res, 200, { revisions: entries.slice(0, limit) });
    } catch (err) {
      send(res, 503, { error: `cannot read the history: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}` });
    }
  };
}
