/**
 * HTTP surface: /healthz, /metrics, POST /hooks/git (webhook), GET /v1/status, plus the routes it is given (registry
 * API). Bounded: its connections go through its gate of the operator's connection budget, request bodies through the
 * BodyReader (nothing of a webhook body is read before its signature header is checked, nor beyond its limit), and
 * headers and requests have deadlines. A webhook delivery seen before is answered 200 and ignored.
 */
import http from 'node:http';
import { verifyGitHubSignature } from '../source/webhook.ts';
import type { StatusDoc } from '../status/report.ts';
import type { Logger } from '../util/log.ts';
import { answerRefusal, BodyReader, type BodyStats } from './body-reader.ts';
import type { ConnectionGate, GateStats } from './conn-guard.ts';
import { DeliveryCache, deliveryKeys } from './deliveries.ts';
import { renderLimitMetrics, type Metrics } from './metrics.ts';

export interface ServerDeps {
  log: Logger;
  metrics: Metrics;
  /** The latest status, or null before the first pass. */
  status(): StatusDoc | null;
  /** Wakes the loop for an immediate fetch. */
  /** A webhook or a caller asks for work; `event` is the webhook's X-GitHub-Event (push, pull_request, ...). */
  trigger(reason: string, event?: string): void;
  /** When set, webhooks must carry a valid X-Hub-Signature-256. */
  webhookSecret?: string;
  /** More routes (the registry API); resolves true when it answered the request. */
  routes?: (req: http.IncomingMessage, res: http.ServerResponse) => Promise<boolean>;
  /** Bounds of this listener; each absent part gets its default (no connection gate). */
  limits?: ServerLimits;
}

export interface ServerLimits {
  /** The API listener's share of the operator's connection budget. */
  gate?: ConnectionGate;
  /** Request bodies (webhook, registry PUTs): size, concurrency, buffered bytes, read deadline. */
  bodies?: BodyReader;
  /** Webhook deliveries already accepted (replays are answered 200 and ignored). */
  deliveries?: DeliveryCache;
  /** Every listener's connection counters for /metrics (the shared budget's); default this server's own. */
  gates?: () => GateStats[];
}

export interface ServerStats {
  bodies: BodyStats;
  connections?: GateStats;
}

export interface Server {
  url: string;
  /** Counters of body reading and of this listener's connections. */
  stats(): ServerStats;
  close(): Promise<void>;
}

/** Largest webhook payload accepted (GitHub caps payloads at 25 MB; push payloads are far smaller in practice). */
const MAX_BODY = 1024 * 1024;
/** How often node checks the headers and request deadlines of open connections (its default is 30 s). */
const CHECK_INTERVAL_MS = 1_000;
const SIGNATURE_FORMAT = /^sha256=[0-9a-f]{64}$/i;

/** What the handlers share: the deps and the limits, defaults filled in. */
interface Context {
  deps: ServerDeps;
  bodies: BodyReader;
  deliveries: DeliveryCache;
  gate?: ConnectionGate;
  gates?: () => GateStats[];
}

/** Listens on `host:port` (port 0 = any free port). */
export async function startServer(host: string, port: number, deps: ServerDeps): Promise<Server> {
  const ctx: Context = {
    deps, bodies: deps.limits?.bodies ?? new BodyReader(), deliveries: deps.limits?.deliveries ?? new DeliveryCache(),
    gate: deps.limits?.gate, gates: deps.limits?.gates,
  };
  const server = http.createServer({ connectionsCheckingInterval: CHECK_INTERVAL_MS }, (req, res) => {
    handle(req, res, ctx).catch((err) => {
      deps.log.error('http handler failed', { error: String(err) });
      if (!res.headersSent) send(res, 500, { error: 'internal error' });
    });
  });
  server.requestTimeout = 10_000;
  server.headersTimeout = 5_000;
  ctx.gate?.protect(server);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      // accept() failing (EMFILE when something else took the descriptors) must not end the process
      server.on('error', throttled(10_000, (err: Error) => deps.log.warn('api server: accept failed', { error: err.message })));
      resolve();
    });
  });
  const addr = server.address();
  const actual = typeof addr === 'object' && addr ? addr.port : port;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${actual}`,
    stats: () => ({ bodies: ctx.bodies.stats(), ...(ctx.gate ? { connections: ctx.gate.stats() } : {}) }),
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
      ctx.gate?.dispose();
    }),
  };
}

async function handle(req: http.IncomingMessage, res: http.ServerResponse, ctx: Context): Promise<void> {
  const { deps } = ctx;
  const path = (req.url ?? '/').split('?')[0];
  if (req.method === 'GET' && path === '/healthz') return send(res, 200, { ok: true });
  if (req.method === 'GET' && path === '/metrics') {
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
    const gates = ctx.gates?.() ?? (ctx.gate ? [ctx.gate.stats()] : []);
    res.end(deps.metrics.render() + renderLimitMetrics(ctx.bodies.stats(), gates));
    return;
  }
  if (req.method === 'GET' && path === '/v1/status') {
    const s = deps.status();
    return s ? send(res, 200, s) : send(res, 503, { error: 'no pass has finished yet' });
  }
  if (path === '/hooks/git') return handleWebhook(req, res, ctx);
  if (deps.routes && (await deps.routes(req, res))) return;
  send(res, 404, { error: `no route ${req.method} ${path}` });
}

/**
 * POST /hooks/git. With a secret, a request without a well-formed signature is refused on its headers, before any of
 * its body is read; the body is read within the body limits, then verified. A delivery seen before (same delivery id,
 * or same signed body) is answered 200 and ignored, as GitHub expects of a redelivery.
 */
async function handleWebhook(req: http.IncomingMessage, res: http.ServerResponse, ctx: Context): Promise<void> {
  const { deps } = ctx;
  if (req.method !== 'POST') return send(res, 405, { error: 'use POST' });
  const secret = deps.webhookSecret;
  const signature = header(req, 'x-hub-signature-256')?.trim();
  if (secret && !SIGNATURE_FORMAT.test(signature ?? '')) return unauthorized(req, res, deps, 'missing or malformed signature');
  const body = await ctx.bodies.read(req, MAX_BODY);
  if (!body.ok) return answerRefusal(res, body);
  if (secret && !verifyGitHubSignature(secret, body.body, signature)) return unauthorized(req, res, deps, 'bad signature');
  const event = header(req, 'x-github-event') ?? 'push';
  if (ctx.deliveries.checkAndRecord(deliveryKeys(req.headers, secret ? signature : undefined))) {
    deps.log.info('webhook ignored: duplicate delivery', { event, delivery: header(req, 'x-github-delivery')?.slice(0, 64) });
    return send(res, 200, { ok: true, ignored: 'duplicate delivery', event });
  }
  if (event === 'ping') return send(res, 200, { ok: true, event });
  deps.trigger(`webhook ${event}`, event);
  return send(res, 202, { ok: true, event });
}

/** 401 without reading the body (the connection closes, so its unread rest is never read). */
function unauthorized(req: http.IncomingMessage, res: http.ServerResponse, deps: ServerDeps, why: string): void {
  deps.log.warn(`webhook rejected: ${why}`, { remote: req.socket.remoteAddress });
  res.setHeader('connection', 'close');
  send(res, 401, { error: 'invalid or missing X-Hub-Signature-256' });
}

/** `fn`, called at most once per `ms` (later calls in the window are dropped). */
function throttled<A extends unknown[]>(ms: number, fn: (...args: A) => void): (...args: A) => void {
  let last = -Infinity;
  return (...args) => {
    const now = Date.now();
    if (now - last < ms) return;
    last = now;
    fn(...args);
  };
}

function header(req: http.IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function send(res: http.ServerResponse, code: number, body: unknown): void {
  res.writeHead(code, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body) + '\n');
}
