/**
 * berth's HTTP surface: /healthz, /metrics, POST /hooks/git (webhook-route.ts), GET /v1/status, POST /v1/sync,
 * GET /v1/audit, plus the routes it is given (registry API, proxies). Every request but /healthz and the signed
 * webhook passes the guard (auth/guard.ts) first; state-changing calls are written to the audit trail. HTTPS with
 * `tls` (client certificates required with its `ca`). Bounded: connections go through its gate of the operator's
 * connection budget, request bodies through the BodyReader, and headers and requests have deadlines.
 */
import http from 'node:http';
import https from 'node:https';
import type { AuditLog } from '../auth/audit.ts';
import type { Guard, Verdict } from '../auth/guard.ts';
import type { StatusDoc } from '../status/report.ts';
import type { Logger } from '../util/log.ts';
import { BodyReader, type BodyStats } from './body-reader.ts';
import type { ConnectionGate, GateStats } from './conn-guard.ts';
import { DeliveryCache } from './deliveries.ts';
import { handleWebhook, UnsignedTriggerLimiter, type WebhookContext } from './webhook-route.ts';
import type { Metrics } from './metrics.ts';
import { handleRunJob, type RunJobDeps } from './run-job-route.ts';
import { handleDriftPause, isDriftPausePath, type DriftPauseDeps } from './drift-pause-route.ts';
import { handleEvents, handleLogs, type LogsApiDeps } from '../logs/api.ts';
import { handleStatusWatch, type StatusWatchDeps } from './status-watch.ts';
import type { UiFiles } from './ui-route.ts';

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
  /** Authentication and authorization of every route but /healthz and the webhook; absent = open (tests of the routes alone). */
  guard?: Guard;
  /** Where state-changing calls are recorded (and GET /v1/audit reads). */
  audit?: AuditLog;
  /** Records an action a person took through the API as an event (POST /v1/sync: who asked for a pass). */
  action?: (e: { type: string; message: string }) => void;
  /** POST /v1/cronjobs/<ns>/<name>/run (berth run-job); absent: 404. */
  runJob?: RunJobDeps;
  /** POST /v1/services/<ns>/<name>/pause-drift|resume-drift (drift-pause-route.ts); absent: 404. */
  driftPause?: DriftPauseDeps;
  /** GET /v1/logs and /v1/events (the log store); absent: 404. */
  logs?: LogsApiDeps;
  /** GET /v1/status/watch (the dashboard's live status); absent: 404. */
  statusWatch?: StatusWatchDeps;
  /** GET /v1/history (history-route.ts); absent: 404. */
  history?: (req: http.IncomingMessage, res: http.ServerResponse) => Promise<void>;
  /** GET /v1/series (series-route.ts): short per-service metric history for the dashboard's charts; absent: 404. */
  series?: (req: http.IncomingMessage, res: http.ServerResponse) => Promise<void>;
  /** GET /v1/plans/... (plans-route.ts); absent: 404. */
  plans?: (req: http.IncomingMessage, res: http.ServerResponse, path: string) => Promise<void>;
  /** GET /v1/commits/<sha> (commit-route.ts); absent: 404. */
  commits?: (req: http.IncomingMessage, res: http.ServerResponse, path: string) => Promise<void>;
  /** The dashboard at / and /ui/ (ui-route.ts); absent: 404. */
  ui?: UiFiles;
  /** Serve HTTPS with this certificate and key (PEM); with `ca`, every client must present a certificate it signed. */
  tls?: { cert: string | Buffer; key: string | Buffer; ca?: string | Buffer };
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
  /** Spacing of the fetches unsigned webhooks (no --webhook-secret) may trigger; default one per 10 s. */
  unsignedWebhooks?: WebhookContext['unsignedLimiter'];
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

/** How often node checks the headers and request deadlines of open connections (its default is 30 s). */
const CHECK_INTERVAL_MS = 1_000;

/** What the handlers share: the deps and the limits, defaults filled in. */
interface Context {
  deps: ServerDeps;
  webhook: WebhookContext;
  bodies: BodyReader;
  deliveries: DeliveryCache;
  gate?: ConnectionGate;
  gates?: () => GateStats[];
}

/** Listens on `host:port` (port 0 = any free port). */
export async function startServer(host: string, port: number, deps: ServerDeps): Promise<Server> {
  const bodies = deps.limits?.bodies ?? new BodyReader();
  const deliveries = deps.limits?.deliveries ?? new DeliveryCache();
  const ctx: Context = { deps, bodies, deliveries, gate: deps.limits?.gate, gates: deps.limits?.gates, webhook: { secret: deps.webhookSecret, bodies, deliveries, log: deps.log, trigger: deps.trigger, unsignedLimiter: deps.limits?.unsignedWebhooks ?? new UnsignedTriggerLimiter() } };
  // /metrics reads this server's body and connection counters and the guard's at each scrape
  deps.metrics.serve({ bodies: () => ctx.bodies.stats(), gates: () => ctx.gates?.() ?? (ctx.gate ? [ctx.gate.stats()] : []), ...(deps.guard ? { auth: () => deps.guard!.counters() } : {}) });
  const onRequest = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    handle(req, res, ctx).catch((err) => {
      deps.log.error('http handler failed', { error: String(err) });
      if (!res.headersSent) send(res, 500, { error: 'internal error' });
    });
  };
  const t = deps.tls;
  const server: http.Server = t
    ? https.createServer({ connectionsCheckingInterval: CHECK_INTERVAL_MS, cert: t.cert, key: t.key, minVersion: 'TLSv1.2', ...(t.ca ? { ca: t.ca, requestCert: true, rejectUnauthorized: true } : {}) }, onRequest)
    : http.createServer({ connectionsCheckingInterval: CHECK_INTERVAL_MS }, onRequest);
  if (t) server.on('tlsClientError', throttled(10_000, (err: Error) => deps.log.warn('api server: TLS handshake failed', { error: err.message.split('\n')[0] })));
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
    url: `${t ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${actual}`,
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
  const path = (req.url ?? '/').split('?')[0] ?? '/';
  const verdict = deps.guard ? await deps.guard.check(req, path) : undefined;
  if (verdict?.changesState) auditOnFinish(req, res, deps, verdict);
  if (verdict && !verdict.ok) {
    res.writeHead(verdict.status, { 'content-type': 'application/json', ...verdict.headers });
    res.end(JSON.stringify({ error: verdict.error }) + '\n');
    return;
  }
  if (req.method === 'GET' && path === '/healthz') return send(res, 200, { ok: true });
  if (req.method === 'GET' && path === '/metrics') {
    const text = await deps.metrics.render(); // bounded: the proxy's snapshot and container stats wait at most 1 s
    res.writeHead(200, { 'content-type': deps.metrics.contentType });
    res.end(text);
    return;
  }
  if (path === '/v1/sync') {
    if (req.method !== 'POST') return send(res, 405, { error: 'use POST' });
    const who = verdict?.ok ? verdict.principal?.name ?? 'anonymous' : 'anonymous';
    deps.trigger(`api sync by ${who}`);
    deps.action?.({ type: 'sync-requested', message: `pass asked for by ${who}` });
    return send(res, 202, { ok: true });
  }
  if (path === '/v1/audit') return handleAudit(req, res, deps);
  if (deps.history && path === '/v1/history') return deps.history(req, res);
  if (deps.series && path === '/v1/series') return deps.series(req, res);
  if (deps.plans && path.startsWith('/v1/plans/')) return deps.plans(req, res, path);
  if (deps.commits && path.startsWith('/v1/commits/')) return deps.commits(req, res, path);
  if (deps.statusWatch && path === '/v1/status/watch') return handleStatusWatch(req, res, deps.statusWatch);
  if (deps.ui?.handle(req, res, path)) return;
  if (deps.logs && path === '/v1/logs') return handleLogs(req, res, deps.logs);
  if (deps.logs && path === '/v1/events') return handleEvents(req, res, deps.logs);
  if (deps.driftPause && isDriftPausePath(path)) return handleDriftPause(req, res, path, verdict?.ok ? verdict.principal?.name ?? 'anonymous' : 'anonymous', deps.driftPause, ctx.bodies);
  if (deps.runJob && path.startsWith('/v1/cronjobs/')) return handleRunJob(req, res, path, verdict?.ok ? verdict.principal?.name ?? 'anonymous' : 'anonymous', deps.runJob);
  if (req.method === 'GET' && path === '/v1/status') {
    const s = deps.status();
    return s ? send(res, 200, s) : send(res, 503, { error: 'no pass has finished yet' });
  }
  if (path === '/hooks/git') return webhook(req, res, ctx);
  if (deps.routes && (await deps.routes(req, res))) return;
  send(res, 404, { error: `no route ${req.method} ${path}` });
}

/**
 * POST /hooks/git, recorded in the audit trail once answered: the forge and event when it triggered, else who failed.
 * Its authentication is the forge's signature (webhook-route.ts), not the API guard.
 */
function webhook(req: http.IncomingMessage, res: http.ServerResponse, ctx: Context): Promise<void> {
  const { deps } = ctx;
  let triggered: string | undefined;
  const route: WebhookContext = {
    ...ctx.webhook,
    trigger(reason, event) {
      triggered = `${reason} (${event ?? 'push'})`;
      deps.trigger(reason, event);
    },
  };
  if (deps.audit) {
    res.once('finish', () => {
      if (!triggered && res.statusCode < 400) return; // pings and replays change nothing
      deps.audit!.record({ actor: triggered ? triggered.split(' ').slice(0, 2).join(':') : 'anonymous', source: req.socket.remoteAddress ?? 'unknown', action: `POST /hooks/git${triggered ? `: ${triggered}` : ''}`, result: String(res.statusCode) });
    });
  }
  return handleWebhook(req, res, route);
}

/** Records a state-changing call once its answer is sent (or the client went away). */
function auditOnFinish(req: http.IncomingMessage, res: http.ServerResponse, deps: ServerDeps, verdict: Verdict): void {
  if (!deps.audit) return;
  const action = `${req.method} ${(req.url ?? '/').split('?')[0]}`;
  // A heartbeat only renews an endpoint's TTL: counting every one would drown the trail (a refused one is kept).
  if (verdict.ok && /\/heartbeat$/.test(action)) return;
  const actor = verdict.principal?.name ?? 'anonymous';
  const source = req.socket.remoteAddress ?? 'unknown';
  let done = false;
  const record = (): void => {
    if (done) return;
    done = true;
    deps.audit!.record({ actor, source, action, result: res.writableFinished ? String(res.statusCode) : 'aborted' });
  };
  res.once('finish', record);
  res.once('close', record);
}

/** GET /v1/audit?since=1h (or an ISO time): the audit entries since then, oldest first. */
async function handleAudit(req: http.IncomingMessage, res: http.ServerResponse, deps: ServerDeps): Promise<void> {
  if (req.method !== 'GET') return send(res, 405, { error: 'use GET' });
  if (!deps.audit) return send(res, 404, { error: 'no audit log' });
  const since = parseSince(new URL(req.url ?? '/', 'http://berth').searchParams.get('since'));
  if (since === null) return send(res, 400, { error: 'since must be a duration (30m, 24h, 7d) or an ISO time' });
  send(res, 200, { entries: await deps.audit.read(since) });
}

/** `30m`, `24h`, `7d` before now, or an ISO time; absent = the last 24 hours. */
export function parseSince(v: string | null, now = Date.now()): number | null {
  if (v === null || v === '') return now - 24 * 3600_000;
  const m = /^(\d{1,6})(s|m|h|d)$/.exec(v);
  if (m) return now - Number(m[1]) * { s: 1000, m: 60_000, h: 3600_000, d: 86_400_000 }[m[2] as 's' | 'm' | 'h' | 'd'];
  const t = v.length <= 40 ? Date.parse(v) : NaN;
  return Number.isNaN(t) ? null : t;
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

function send(res: http.ServerResponse, code: number, body: unknown): void {
  res.writeHead(code, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body) + '\n');
}
