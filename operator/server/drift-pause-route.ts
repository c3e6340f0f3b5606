/**
 * POST /v1/services/<namespace>/<name>/pause-drift (optional JSON body `{"reason": "..."}`) and
 * POST /v1/services/<namespace>/<name>/resume-drift: pause and resume drift correction of one Service (berth pause-drift,
 * berth resume-drift; healing/drift-pause.ts). Authenticated and authorized before it gets here (auth/policy.ts:
 * trigger drift in the namespace: operator and admin) and written to the audit trail; each change is also an event of
 * the service in the log store, naming who. Answers:
 * - pause: 200 with the pause `{service, by, at, reason?}`; a service already paused is 200 with its pause as it is and
 *   `alreadyPaused: true` (idempotent); 404 when the revision in force has no such Service; 503 before one is in force;
 *   400 for a bad path or body.
 * - resume: 200 `{service, resumed: true, pause}` when it was paused, `{service, resumed: false}` when it was not.
 * Every change wakes the loop for a pass at once.
 */
import type http from 'node:http';
import { safeDecode } from '../auth/policy.ts';
import { MAX_REASON, type DriftPauses } from '../healing/drift-pause.ts';
import { send } from '../registry/http-util.ts';
import { answerRefusal, type BodyReader } from './body-reader.ts';

export interface DriftPauseDeps {
  store: DriftPauses;
  /** Whether Service `key` is in the revision in force; null before a revision is in force. */
  hasService(key: string): boolean | null;
  /** Wakes the loop for a pass now. */
  trigger(reason: string): void;
  /** Records an event of the service (the log store); absent: none recorded. */
  event?(e: { type: string; namespace: string; service: string; reason?: string; message: string }): void;
}

/** The largest body read: a reason is at most 200 characters. */
export const MAX_DRIFT_PAUSE_BODY = 4096;
const NAME = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
export const DRIFT_PAUSE_PATH = /^\/v1\/services\/([^/]{1,80})\/([^/]{1,80})\/(pause|resume)-drift$/;

/** True when `path` is one of this route's. */
export function isDriftPausePath(path: string): boolean {
  return DRIFT_PAUSE_PATH.test(path);
}

export async function handleDriftPause(req: http.IncomingMessage, res: http.ServerResponse, path: string, by: string, deps: DriftPauseDeps, bodies: BodyReader): Promise<void> {
  if (req.method !== 'POST') return send(res, 405, { error: 'use POST' });
  const m = DRIFT_PAUSE_PATH.exec(path);
  const [ns, name] = [m?.[1], m?.[2]].map((p) => safeDecode(p)) as [string, string];
  if (!m || !NAME.test(ns) || !NAME.test(name)) return send(res, 400, { error: 'the path is /v1/services/<namespace>/<name>/pause-drift (or resume-drift), both DNS labels' });
  const key = `${ns}/${name}`;
  const body = await bodies.read(req, MAX_DRIFT_PAUSE_BODY);
  if (!body.ok) return answerRefusal(res, body);
  const parsed = parseBody(body.body);
  if (!parsed.ok) return send(res, 400, { error: parsed.error });
  if (m[3] === 'resume') {
    if (parsed.reason !== undefined) return send(res, 400, { error: 'resume-drift takes no body' });
    const removed = deps.store.resume(key);
    if (!removed) return send(res, 200, { service: key, resumed: false, message: `drift correction of ${key} was not paused` });
    deps.event?.({ type: 'drift-resumed', namespace: ns, service: name, reason: 'api', message: `drift correction of ${key} resumed by ${by} (paused by ${removed.by} since ${removed.at})` });
    deps.trigger(`resume-drift ${key} by ${by}`);
    return send(res, 200, { service: key, resumed: true, pause: removed });
  }
  const known = deps.hasService(key);
  if (known === null) return send(res, 503, { error: 'no revision is in force yet: retry after the first pass' });
  if (!known) return send(res, 404, { error: `no Service ${key} in the revision in force (berth status lists them)` });
  const r = deps.store.pause({ service: key, by, ...(parsed.reason !== undefined ? { reason: parsed.reason } : {}) });
  if (!r.ok) return send(res, r.status, { error: r.error });
  if (!r.created) return send(res, 200, { ...r.pause, alreadyPaused: true });
  deps.event?.({ type: 'drift-paused', namespace: ns, service: name, reason: 'api', message: `drift correction of ${key} paused by ${by}${r.pause.reason ? `: ${r.pause.reason}` : ''}` });
  deps.trigger(`pause-drift ${key} by ${by}`);
  send(res, 200, r.pause);
}

/** An empty body, or a JSON object with at most a string `reason` (nothing else). */
function parseBody(buf: Buffer): { ok: true; reason?: string } | { ok: false; error: string } {
  const text = buf.toString('utf8').trim();
  if (!text) return { ok: true };
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return { ok: false, error: 'the body must be JSON: {"reason": "..."}' };
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return { ok: false, error: 'the body must be a JSON object: {"reason": "..."}' };
  const extra = Object.keys(v).filter((k) => k !== 'reason');
  if (extra.length) return { ok: false, error: `unknown field(s): ${extra.slice(0, 5).join(', ').slice(0, 200)} (only "reason")` };
  const reason = (v as { reason?: unknown }).reason;
  if (reason === undefined) return { ok: true };
  if (typeof reason !== 'string') return { ok: false, error: 'reason must be a string' };
  if (reason.length > MAX_REASON) return { ok: false, error: `reason: at most ${MAX_REASON} characters` };
  // One line: a reason is printed in status and events.
  if (/[\u0000-\u001f\u007f]/.test(reason)) return { ok: false, error: 'reason: no control characters (one line)' };
  return { ok: true, reason };
}
