/** Small JSON helpers for the registry API: bounded body reading and JSON answers. */
import type { IncomingMessage, ServerResponse } from 'node:http';

/** Largest request body the registry API accepts. */
export const MAX_BODY_BYTES = 64 * 1024;
/** An oversized body is read and discarded up to this many bytes so the 413 reaches the client; beyond, the socket is closed. */
const MAX_DRAIN_BYTES = 1024 * 1024;

export type JsonBody = { ok: true; value: unknown } | { ok: false; status: 400 | 413; error: string };

/** Reads and parses a JSON body of at most MAX_BODY_BYTES; 413 when larger, 400 when empty or not JSON. */
export async function readJsonBody(req: IncomingMessage): Promise<JsonBody> {
  const tooLarge = { ok: false, status: 413, error: `body larger than ${MAX_BODY_BYTES} bytes` } as const;
  const declared = Number(req.headers['content-length'] ?? 0);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_DRAIN_BYTES) {
      req.socket.destroy();
      return tooLarge;
    }
    if (size <= MAX_BODY_BYTES && declared <= MAX_BODY_BYTES) chunks.push(chunk as Buffer);
  }
  if (size > MAX_BODY_BYTES || declared > MAX_BODY_BYTES) return tooLarge;
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') return { ok: false, status: 400, error: 'body must be a JSON object' };
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch (err) {
    return { ok: false, status: 400, error: `invalid JSON: ${(err as Error).message}` };
  }
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
