/**
 * POST /hooks/git, for every forge (GitHub, GitLab, Gitea / Forgejo, Bitbucket).
 *
 * With a secret, a request is authenticated before it can cause anything: one without a well-formed credential header
 * of its forge is refused on its headers (401, nothing of the body read, the connection closed), the body is read
 * within the body limits, then verified. A delivery seen before (same delivery id, or same signed body) is answered
 * 200 and ignored, as the forges expect of a redelivery; a ping is answered 200; anything else triggers a pass with
 * the forge's event (a pull_request event only asks for a review round).
 *
 * Without a secret nothing of a request can be trusted, not its event, its delivery id nor its body: it may only ever
 * ask for a fetch, at most once per interval (429 with Retry-After beyond), which is what polling early costs.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { checkWebhookHeaders, verifyWebhook, type WebhookAccepted } from '../source/webhook.ts';
import type { Logger } from '../util/log.ts';
import { answerRefusal, type BodyReader } from './body-reader.ts';
import { clientAddress } from './client-slots.ts';
import type { DeliveryCache } from './deliveries.ts';

/** Largest webhook payload accepted (GitHub caps payloads at 25 MB; push payloads are far smaller in practice). */
export const MAX_WEBHOOK_BODY = 1024 * 1024;

/** Default spacing of the fetches unsigned webhooks may trigger. */
export const DEFAULT_UNSIGNED_INTERVAL_MS = 10_000;

/** Admission of unsigned webhooks: `take` either admits one now or says how long until the next may be. */
export interface WebhookRateLimiter {
  take(): { ok: true } | { ok: false; retryAfterMs: number };
}

export interface WebhookContext {
  /** When set (non-empty), every delivery must authenticate with it. */
  secret?: string;
  bodies: BodyReader;
  deliveries: DeliveryCache;
  /** Asks for work; `event` is the normalized event (push, pull_request, ...). */
  trigger(reason: string, event?: string): void;
  log: Logger;
  /** Spaces the fetches unsigned webhooks trigger (used only without a secret). */
  unsignedLimiter: WebhookRateLimiter;
  /** Called on every 401, with the client address (failed authentications, for metrics or banning). */
  onAuthFailure?(remote: string): void;
}

/**
 * At most one admission per `intervalMs` (pure, injected clock). A refused request does not push the next admission
 * back: a flood cannot keep the forge's own delivery out for longer than the interval.
 */
export class UnsignedTriggerLimiter implements WebhookRateLimiter {
  private readonly intervalMs: number;
  private readonly now: () => number;
  private last = -Infinity;

  constructor(opts: { intervalMs?: number; now?: () => number } = {}) {
    this.intervalMs = opts.intervalMs ?? DEFAULT_UNSIGNED_INTERVAL_MS;
    this.now = opts.now ?? Date.now;
  }

  take(): { ok: true } | { ok: false; retryAfterMs: number } {
    const now = this.now();
    const wait = this.last + this.intervalMs - now;
    if (wait > 0) return { ok: false, retryAfterMs: wait };
    this.last = now;
    return { ok: true };
  }
}

/** Answers POST /hooks/git (any other method: 405); never throws for a bad request. */
export async function handleWebhook(req: IncomingMessage, res: ServerResponse, ctx: WebhookContext): Promise<void> {
  if (req.method !== 'POST') return send(res, 405, { error: 'use POST' }, { allow: 'POST', connection: 'close' });
  if (!ctx.secret) return unsigned(req, res, ctx);
  const remote = clientAddress(req.socket);
  const early = checkWebhookHeaders(req.headers, ctx.secret);
  if (!early.ok) return unauthorized(res, ctx, remote, early.why, early.expected, early.forge);
  const body = await ctx.bodies.read(req, MAX_WEBHOOK_BODY);
  if (!body.ok) return answerRefusal(res, body);
  const v = verifyWebhook(req.headers, body.body, ctx.secret);
  if (!v.ok) return unauthorized(res, ctx, remote, v.why, v.expected, v.forge);
  const { forge, event, delivery } = v;
  if (ctx.deliveries.checkAndRecord(replayKeys(v))) {
    ctx.log.info('webhook ignored: duplicate delivery', { forge, event, delivery });
    return send(res, 200, { ok: true, ignored: 'duplicate delivery', forge, event });
  }
  if (event === 'ping') {
    ctx.log.info('webhook ping', { forge, delivery });
    return send(res, 200, { ok: true, forge, event });
  }
  ctx.log.info('webhook accepted', { forge, event, delivery });
  ctx.trigger(`webhook ${forge} ${event}`, event);
  return send(res, 202, { ok: true, forge, event });
}

/**
 * The replay keys of a verified delivery: its delivery id (scoped by forge: ids of different forges never collide)
 * and its signature. Only what the verification vouched for is used, not every delivery header a request carries.
 */
function replayKeys(v: WebhookAccepted): string[] {
  const keys: string[] = [];
  if (v.delivery) keys.push(`${v.forge}-delivery:${v.delivery}`);
  if (v.signature) keys.push(`signature:${v.signature}`);
  return keys;
}

/**
 * Without a secret: admitted at most once per interval, before any of the body is read (a refusal closes the
 * connection); the body is then read within the limits and dropped. Whatever the request says it is, it triggers a
 * plain fetch ('push'): an unauthenticated pull_request must not start a review round, nor a ping be believed.
 */
async function unsigned(req: IncomingMessage, res: ServerResponse, ctx: WebhookContext): Promise<void> {
  const admitted = ctx.unsignedLimiter.take();
  if (!admitted.ok) {
    const retryAfterS = Math.max(1, Math.ceil(admitted.retryAfterMs / 1000));
    ctx.log.debug('webhook (unsigned) refused: rate limited', { remote: clientAddress(req.socket), retryAfterS });
    return send(res, 429, { error: 'unsigned webhooks are rate-limited; retry later', code: 'E_RATE_LIMITED' }, { 'retry-after': retryAfterS, connection: 'close' });
  }
  const body = await ctx.bodies.read(req, MAX_WEBHOOK_BODY);
  if (!body.ok) return answerRefusal(res, body);
  ctx.log.info('webhook (unsigned) accepted: fetching', { remote: clientAddress(req.socket) });
  ctx.trigger('webhook (unsigned)', 'push');
  return send(res, 202, { ok: true, event: 'push', unsigned: true });
}

/** 401 naming the header the sender's forge must send; the connection closes, so an unread body is never read. */
function unauthorized(res: ServerResponse, ctx: WebhookContext, remote: string, why: string, expected: string, forge?: string): void {
  ctx.log.warn('webhook rejected', { forge, why, remote });
  ctx.onAuthFailure?.(remote);
  send(res, 401, { error: `invalid or missing ${expected}`, code: 'E_WEBHOOK_AUTH' }, { connection: 'close' });
}

function send(res: ServerResponse, code: number, body: unknown, headers: Record<string, string | number> = {}): void {
  if (res.headersSent || res.destroyed) return;
  const text = JSON.stringify(body) + '\n';
  res.writeHead(code, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}
