/**
 * Bounded reading of request bodies, shared by every route of the API server (webhook, registry PUTs). A body is
 * refused on its headers when it declares more than the route's limit (413, nothing read); it is read only while
 * fewer than `maxBodies` bodies are being read (`maxBodiesPerClient` per client address) and the bytes buffered for
 * all of them stay within `maxBufferedBytes` (503 / 429 with Retry-After otherwise: a flood of slow bodies cannot
 * grow the heap); it is cut at the limit while streaming (413) and must arrive within `timeoutMs` (408, slowloris).
 * Every refusal closes the connection, so the unread rest of a body is never read.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ClientSlots, clientAddress } from './client-slots.ts';

export interface BodyLimits {
  /** Bodies being read at once, over all clients. */
  maxBodies: number;
  /** Bodies one client address may have being read at once. */
  maxBodiesPerClient: number;
  /** Bytes buffered for the bodies being read, over all of them (a declared Content-Length is reserved up front). */
  maxBufferedBytes: number;
  /** A body must have arrived this long after reading started. */
  timeoutMs: number;
}

export const DEFAULT_BODY_LIMITS: BodyLimits = { maxBodies: 32, maxBodiesPerClient: 4, maxBufferedBytes: 16 * 1024 * 1024, timeoutMs: 10_000 };

/** Seconds a refused client is asked to wait (Retry-After) when the readers are busy. */
const RETRY_AFTER_S = 2;

export interface BodyRefusal {
  ok: false;
  status: 400 | 408 | 413 | 429 | 503;
  /** Stable code: E_BODY_TOO_LARGE, E_BODY_TIMEOUT, E_BUSY, E_CLIENT_BUSY, E_BODY_ABORTED, E_BAD_LENGTH. */
  code: string;
  error: string;
  retryAfterS?: number;
}

export type BodyResult = { ok: true; body: Buffer } | BodyRefusal;

export interface BodyStats {
  /** Bodies being read now. */
  reading: number;
  /** Bytes reserved or buffered for them now. */
  bufferedBytes: number;
  /** The most bytes ever buffered at once. */
  peakBufferedBytes: number;
  /** Refusals by code since start. */
  refused: Record<string, number>;
}

export class BodyReader {
  readonly limits: BodyLimits;
  private readonly slots: ClientSlots;
  private buffered = 0;
  private peak = 0;
  private readonly refused: Record<string, number> = {};

  constructor(limits: Partial<BodyLimits> = {}) {
    this.limits = { ...DEFAULT_BODY_LIMITS, ...limits };
    this.slots = new ClientSlots(this.limits.maxBodies, this.limits.maxBodiesPerClient);
  }

  /** Looks at the headers only: a refusal when the declared Content-Length is malformed or over `limit`. */
  precheck(req: IncomingMessage, limit: number): BodyRefusal | null {
    const declared = declaredLength(req);
    if (declared === null) return this.refuse(400, 'E_BAD_LENGTH', 'malformed Content-Length');
    if (declared !== undefined && declared > limit) return this.refuse(413, 'E_BODY_TOO_LARGE', `body larger than ${limit} bytes`);
    return null;
  }

  /** Reads the body of `req` (at most `limit` bytes) within the limits; never throws. */
  async read(req: IncomingMessage, limit: number): Promise<BodyResult> {
    const early = this.precheck(req, limit);
    if (early) return early;
    const declared = declaredLength(req) ?? undefined;
    if (declared === 0 || (declared === undefined && req.headers['transfer-encoding'] === undefined)) {
      req.resume();
      return { ok: true, body: Buffer.alloc(0) };
    }
    const client = clientAddress(req.socket);
    const slot = this.slots.acquire(client);
    if (slot === 'full') return this.refuse(503, 'E_BUSY', 'too many request bodies being read; retry later', RETRY_AFTER_S);
    if (slot === 'client-full') return this.refuse(429, 'E_CLIENT_BUSY', 'too many request bodies from this address; retry later', RETRY_AFTER_S);
    const charge = { bytes: 0 };
    try {
      if (!this.charge(charge, declared ?? 0)) return this.refuse(503, 'E_BUSY', 'request body buffers are full; retry later', RETRY_AFTER_S);
      return await this.collect(req, limit, charge);
    } finally {
      this.buffered -= charge.bytes;
      this.slots.release(client);
    }
  }

  /** Current and peak usage, and refusals. */
  stats(): BodyStats {
    return { reading: this.slots.inUse, bufferedBytes: this.buffered, peakBufferedBytes: this.peak, refused: { ...this.refused } };
  }

  /** Streams the body in, charging bytes beyond what was reserved; resolves at its end, at the limit or at the deadline. */
  private collect(req: IncomingMessage, limit: number, charge: { bytes: number }): Promise<BodyResult> {
    return new Promise((resolve) => {
      const chunks: Buffer[] = [];
      let size = 0;
      const finish = (r: BodyResult): void => {
        clearTimeout(timer);
        req.off('data', onData).off('end', onEnd).off('close', onClose).off('error', onClose);
        resolve(r);
      };
      const onData = (chunk: Buffer): void => {
        size += chunk.length;
        if (size > limit) return finish(this.refuse(413, 'E_BODY_TOO_LARGE', `body larger than ${limit} bytes`));
        if (size > charge.bytes && !this.charge(charge, size - charge.bytes)) {
          return finish(this.refuse(503, 'E_BUSY', 'request body buffers are full; retry later', RETRY_AFTER_S));
        }
        chunks.push(chunk);
      };
      const onEnd = (): void => finish({ ok: true, body: Buffer.concat(chunks, size) });
      const onClose = (): void => {
        if (!req.complete) finish(this.refuse(400, 'E_BODY_ABORTED', 'the client went away while sending the body'));
      };
      const timer = setTimeout(() => finish(this.refuse(408, 'E_BODY_TIMEOUT', `body not received within ${this.limits.timeoutMs} ms`)), this.limits.timeoutMs);
      req.on('data', onData).once('end', onEnd).once('close', onClose).once('error', onClose);
    });
  }

  /** Adds `bytes` to the shared buffer count when they fit; false (nothing added) when they do not. */
  private charge(charge: { bytes: number }, bytes: number): boolean {
    if (this.buffered + bytes > this.limits.maxBufferedBytes) return false;
    this.buffered += bytes;
    charge.bytes += bytes;
    this.peak = Math.max(this.peak, this.buffered);
    return true;
  }

  private refuse(status: BodyRefusal['status'], code: string, error: string, retryAfterS?: number): BodyRefusal {
    this.refused[code] = (this.refused[code] ?? 0) + 1;
    return retryAfterS === undefined ? { ok: false, status, code, error } : { ok: false, status, code, error, retryAfterS };
  }
}

/** Answers a refusal as JSON `{error, code}` and closes the connection (the unread body is never read). */
export function answerRefusal(res: ServerResponse, r: BodyRefusal): void {
  if (res.headersSent || res.destroyed) return;
  const body = JSON.stringify({ error: r.error, code: r.code }) + '\n';
  const headers: Record<string, string | number> = { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), connection: 'close' };
  if (r.retryAfterS !== undefined) headers['retry-after'] = r.retryAfterS;
  res.writeHead(r.status, headers).end(body);
}

/** The declared Content-Length: undefined when absent, null when malformed. */
function declaredLength(req: IncomingMessage): number | undefined | null {
  const v = req.headers['content-length'];
  if (v === undefined) return undefined;
  return /^[0-9]{1,15}$/.test(v) ? Number(v) : null;
}
