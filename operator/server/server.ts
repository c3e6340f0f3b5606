/** HTTP surface: /healthz, /metrics, POST /hooks/git (webhook), GET /v1/status. */
import http from 'node:http';
import { verifyGitHubSignature } from '../source/webhook.ts';
import type { StatusDoc } from '../status/report.ts';
import type { Logger } from '../util/log.ts';
import type { Metrics } from './metrics.ts';

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
}

export interface Server {
  url: string;
  close(): Promise<void>;
}

const MAX_BODY = 1024 * 1024;

/** Listens on `host:port` (port 0 = any free port). */
export async function startServer(host: string, port: number, deps: ServerDeps): Promise<Server> {
  const server = http.createServer((req, res) => {
    handle(req, res, deps).catch((err) => {
      deps.log.error('http handler failed', { error: String(err) });
      if (!res.headersSent) send(res, 500, { error: 'internal error' });
    });
  });
  server.requestTimeout = 10_000;
  server.headersTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const addr = server.address();
  const actual = typeof addr === 'object' && addr ? addr.port : port;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${actual}`,
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

async function handle(req: http.IncomingMessage, res: http.ServerResponse, deps: ServerDeps): Promise<void> {
  const path = (req.url ?? '/').split('?')[0];
  if (req.method === 'GET' && path === '/healthz') return send(res, 200, { ok: true });
  if (req.method === 'GET' && path === '/metrics') {
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
    res.end(deps.metrics.render());
    return;
  }
  if (req.method === 'GET' && path === '/v1/status') {
    const s = deps.status();
    return s ? send(res, 200, s) : send(res, 503, { error: 'no pass has finished yet' });
  }
  if (path === '/hooks/git') {
    if (req.method !== 'POST') return send(res, 405, { error: 'use POST' });
    const body = await readBody(req);
    if (body === null) return send(res, 413, { error: `body larger than ${MAX_BODY} bytes` });
    if (deps.webhookSecret && !verifyGitHubSignature(deps.webhookSecret, body, header(req, 'x-hub-signature-256'))) {
      deps.log.warn('webhook rejected: bad signature', { remote: req.socket.remoteAddress });
      return send(res, 401, { error: 'invalid or missing X-Hub-Signature-256' });
    }
    const event = header(req, 'x-github-event') ?? 'push';
    if (event === 'ping') return send(res, 200, { ok: true, event });
    deps.trigger(`webhook ${event}`, event);
    return send(res, 202, { ok: true, event });
  }
  if (deps.routes && (await deps.routes(req, res))) return;
  send(res, 404, { error: `no route ${req.method} ${path}` });
}

function header(req: http.IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** The request body, or null when it exceeds MAX_BODY. */
async function readBody(req: http.IncomingMessage): Promise<Buffer | null> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) return null;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

function send(res: http.ServerResponse, code: number, body: unknown): void {
  res.writeHead(code, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body) + '\n');
}
