/**
 * HTTP API of the service registry (issue 4), as a route handler the operator's server can try before its own 404:
 *   GET    /v1/services                                      services with endpoint/ready counts
 *   GET    /v1/services/{ns}/{name}/endpoints[?ready=true]    endpoints; with ?index=N[&wait=30s] a Consul blocking query
 *   GET    /v1/watch[?service=ns/name]                        Server-Sent Events: `event: change`, data {service, version}
 *   PUT    /v1/services/{ns}/{name}/endpoints/{id}            register an external endpoint {address, port, weight?, metadata?, ttl}
 *   PUT    /v1/services/{ns}/{name}/endpoints/{id}/heartbeat  TTL heartbeat
 *   DELETE /v1/services/{ns}/{name}/endpoints/{id}            deregister an external endpoint
 * Errors are JSON `{error}` with a 4xx code; the handler never throws for bad input.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { NAME_PATTERN } from '../manifests/schema.ts';
import { parseDuration } from '../manifests/quantity.ts';
import { RegistryError, type Registry } from './registry.ts';
import { readJsonBody, send, sendError } from './http-util.ts';
import { startWatch } from './watch.ts';

export interface RegistryRoutesOptions {
  /** SSE heartbeat comment interval; default 15 s. */
  sseHeartbeatMs?: number;
  /** Longest blocking-query wait; default 10 min (Consul's cap). */
  maxWaitMs?: number;
  /** Blocking-query wait when `index` is given without `wait`; default 5 min (Consul's default). */
  defaultWaitMs?: number;
}

const NAME_RE = new RegExp(NAME_PATTERN);
const ID_RE = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/;

type Handler = (req: IncomingMessage, res: ServerResponse) => Promise<boolean>;

/**
 * The registry routes: resolves true when the request was one of them (answered, or streaming/long-polling on), false
 * for a path it does not own (anything outside /v1/services and /v1/watch).
 */
export function registryRoutes(registry: Registry, options: RegistryRoutesOptions = {}): Handler {
  const opts = { sseHeartbeatMs: 15_000, maxWaitMs: 600_000, defaultWaitMs: 300_000, ...options };
  return async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://registry');
    const path = url.pathname;
    if (path === '/v1/watch') return handleWatch(registry, req, res, url, opts.sseHeartbeatMs);
    if (path !== '/v1/services' && !path.startsWith('/v1/services/')) return false;
    if (path === '/v1/services' || path === '/v1/services/') {
      if (req.method !== 'GET') return methodNotAllowed(res, 'GET');
      send(res, 200, { services: registry.services() });
      return true;
    }
    const parts = splitPath(path.slice('/v1/services/'.length));
    if (!parts) return sendError(res, 400, 'malformed path encoding');
    const [ns, name, endpoints, id, extra, ...rest] = parts;
    if (endpoints !== 'endpoints' || rest.length > 0 || (extra !== undefined && extra !== 'heartbeat')) {
      return sendError(res, 404, `no route ${req.method} ${path}`);
    }
    if (!ns || !NAME_RE.test(ns) || !name || !NAME_RE.test(name)) {
      return sendError(res, 400, 'namespace and name must be DNS labels: lowercase letters, digits and "-", at most 63 characters');
    }
    const service = `${ns}/${name}`;
    if (id === undefined) return handleEndpoints(registry, req, res, url, service, opts);
    if (!ID_RE.test(id)) return sendError(res, 400, 'endpoint id must be 1-128 characters of letters, digits, "_", ".", ":", "-"');
    if (extra === 'heartbeat') return handleHeartbeat(registry, req, res, service, id);
    return handleEndpoint(registry, req, res, service, id);
  };
}

function handleWatch(registry: Registry, req: IncomingMessage, res: ServerResponse, url: URL, heartbeatMs: number): Promise<boolean> {
  if (req.method !== 'GET') return methodNotAllowed(res, 'GET');
  const service = url.searchParams.get('service') ?? undefined;
  startWatch(registry, req, res, { service, heartbeatMs });
  return Promise.resolve(true);
}

async function handleEndpoints(
  registry: Registry, req: IncomingMessage, res: ServerResponse, url: URL, service: string, opts: Required<RegistryRoutesOptions>,
): Promise<boolean> {
  if (req.method !== 'GET') return methodNotAllowed(res, 'GET');
  const readyParam = url.searchParams.get('ready');
  if (readyParam !== null && readyParam !== 'true' && readyParam !== 'false') return sendError(res, 400, 'ready must be true or false');
  const onlyReady = readyParam === 'true';
  const indexParam = url.searchParams.get('index');
  if (indexParam === null) return answerEndpoints(registry, res, service, onlyReady);
  if (!/^[0-9]{1,15}$/.test(indexParam)) return sendError(res, 400, 'index must be a non-negative integer');
  const waitMs = parseWait(url.searchParams.get('wait'), opts);
  if (waitMs === null) return sendError(res, 400, 'wait must be a duration such as 500ms, 30s or 5m');
  const index = Number(indexParam);
  const current = registry.version(service);
  // Answer at once when the client is behind, or ahead (an index from before an operator restart: it must resync).
  if (current !== index || !registry.has(service)) return answerEndpoints(registry, res, service, onlyReady);
  await blockUntilChange(registry, req, service, waitMs);
  if (!res.destroyed) answerEndpoints(registry, res, service, onlyReady);
  return true;
}

function answerEndpoints(registry: Registry, res: ServerResponse, service: string, onlyReady: boolean): Promise<boolean> {
  const version = registry.version(service);
  res.setHeader('X-Berth-Index', String(version));
  if (!registry.has(service)) return sendError(res, 404, `unknown service ${service}`);
  const endpoints = onlyReady ? registry.ready(service) : registry.endpoints(service);
  send(res, 200, { service, index: version, endpoints });
  return Promise.resolve(true);
}

/** Resolves on the next change of `service`, after `waitMs`, or when the client goes away. */
function blockUntilChange(registry: Registry, req: IncomingMessage, service: string, waitMs: number): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      unsubscribe();
      req.socket.off('close', done);
      resolve();
    };
    const timer = setTimeout(done, waitMs);
    const unsubscribe = registry.subscribe((change) => { if (change.service === service) done(); });
    req.socket.on('close', done);
  });
}

function parseWait(wait: string | null, opts: Required<RegistryRoutesOptions>): number | null {
  if (wait === null) return Math.min(opts.defaultWaitMs, opts.maxWaitMs);
  try {
    const ms = parseDuration(wait);
    return ms < 0 ? null : Math.min(ms, opts.maxWaitMs);
  } catch {
    return null;
  }
}

async function handleEndpoint(registry: Registry, req: IncomingMessage, res: ServerResponse, service: string, id: string): Promise<boolean> {
  if (req.method === 'DELETE') {
    if (!registry.has(service)) return sendError(res, 404, `unknown service ${service}`);
    if (registry.endpoints(service).some((e) => e.id === id && e.source === 'replica')) {
      return sendError(res, 409, `endpoint ${id} of ${service} is a replica managed by berth`);
    }
    if (!registry.deregister(service, id)) return sendError(res, 404, `no external endpoint ${id} in ${service}`);
    send(res, 200, { ok: true });
    return true;
  }
  if (req.method !== 'PUT') return methodNotAllowed(res, 'PUT, DELETE');
  const body = await readJsonBody(req);
  if (!body.ok) return sendError(res, body.status, body.error);
  const reg = toRegistration(body.value);
  if (typeof reg === 'string') return sendError(res, 400, reg);
  try {
    const endpoint = registry.register({ service, id, ...reg });
    send(res, 200, { endpoint });
  } catch (err) {
    if (!(err instanceof RegistryError)) throw err;
    sendError(res, err.code === 'conflict' ? 409 : 400, err.message);
  }
  return true;
}

function handleHeartbeat(registry: Registry, req: IncomingMessage, res: ServerResponse, service: string, id: string): Promise<boolean> {
  if (req.method !== 'PUT') return methodNotAllowed(res, 'PUT');
  if (!registry.has(service)) return sendError(res, 404, `unknown service ${service}`);
  if (!registry.heartbeat(service, id)) return sendError(res, 404, `no external endpoint ${id} in ${service}`);
  req.resume();
  send(res, 200, { ok: true });
  return Promise.resolve(true);
}

interface RegistrationBody {
  address: string;
  port: number;
  weight?: number;
  metadata?: Record<string, string>;
  ttlMs: number;
}

/** The registration in a request body, or an error message. */
function toRegistration(v: unknown): RegistrationBody | string {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return 'body must be a JSON object';
  const b = v as Record<string, unknown>;
  if (typeof b.address !== 'string' || b.address === '' || b.address.length > 255) return 'address must be a non-empty string';
  if (typeof b.port !== 'number' || !Number.isInteger(b.port) || b.port < 1 || b.port > 65535) return 'port must be an integer in 1..65535';
  if (b.weight !== undefined && (typeof b.weight !== 'number' || !Number.isInteger(b.weight) || b.weight < 1)) return 'weight must be a positive integer';
  if (b.metadata !== undefined && !isStringRecord(b.metadata)) return 'metadata must be an object of strings';
  if (typeof b.ttl !== 'string' && typeof b.ttl !== 'number') return 'ttl is required, e.g. "10s"';
  let ttlMs: number;
  try {
    ttlMs = parseDuration(b.ttl);
  } catch {
    return 'ttl must be a duration such as 10s or 1m';
  }
  if (ttlMs <= 0) return 'ttl must be positive';
  return { address: b.address, port: b.port, weight: b.weight as number | undefined, metadata: b.metadata as Record<string, string> | undefined, ttlMs };
}

function isStringRecord(v: unknown): v is Record<string, string> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && Object.values(v).every((x) => typeof x === 'string');
}

/** Path segments, percent-decoded; null when the encoding is malformed. */
function splitPath(rest: string): string[] | null {
  try {
    return rest.split('/').map((s) => decodeURIComponent(s));
  } catch {
    return null;
  }
}

function methodNotAllowed(res: ServerResponse, allow: string): Promise<boolean> {
  res.setHeader('Allow', allow);
  return sendError(res, 405, `use ${allow}`);
}
