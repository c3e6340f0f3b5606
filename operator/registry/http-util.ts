/** Small JSON helpers for the registry API: bounded body reading and JSON answers. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { BodyReader, type BodyRefusal } from '../server/body-reader.ts';
import type { SlotRefusal } from '../server/client-slots.ts';

/** Largest request body the registry API accepts (a registration with 4 KiB of metadata fits several times over). */
export const MAX_BODY_BYTES = 16 * 1024;

export type JsonBody = { ok: true; value: unknown } | { ok: false; status: 400; error: string; refusal?: undefined } | { ok: false; refusal: BodyRefusal };

/** The reader of routes that are given none (tests); the operator passes the API server's, shared by every route. */
const ownReader = new BodyReader();

/**
 * Reads and parses a JSON body of at most MAX_BODY_BYTES through `reader` (size, concurrency and time bounds):
 * `refusal` when the reader refused it (answer it with answerRefusal), 400 when it is empty or not JSON.
 */
export async function readJsonBody(req: IncomingMessage, reader: BodyReader = ownReader): Promise<JsonBody> {
  const body = await reader.read(req, MAX_BODY_BYTES);
  if (!body.ok) return { ok: false, refusal: body };
  const text = body.body.toString('utf8');
  if (text.trim() === '') return { ok: false, status: 400, error: 'body must be a JSON object' };
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch {
    return { ok: false, status: 400, error: 'invalid JSON' };
  }
}

/** Seconds a client refused for load is asked to wait. */
const RETRY_AFTER_S = 5;

/** Answers a refused stream (SSE watcher, blocking query): 503 when all are taken, 429 when this client has its share. */
export function sendLimited(res: ServerResponse, refusal: SlotRefusal, what: string): Promise<boolean> {
  const full = refusal === 'full';
  res.setHeader('Retry-After', String(RETRY_AFTER_S));
  send(res, full ? 503 : 429, { error: full ? `too many ${what}; retry later` : `too many ${what} from this address; retry later`, code: full ? 'E_BUSY' : 'E_CLIENT_BUSY' });
  return Promise.resolve(true);
}

/** Answers `code` with `body` as JSON. */
export function send(res: ServerResponse, code: number, body: unknown): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(code, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body) + '\n');
}

/** Answers `code` with `{error}`; resolves true (the route was handled). */
export function sendError(res: ServerResponse, code: number, error: string): Promise<boolean> {
  send(res, code, { error });
  return Promise.resolve(true);
}
