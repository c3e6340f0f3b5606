/**
 * HTTP API of the service registry, as a route handler the operator's server can try before its own 404:
 *   GET    /v1/services                                      services with endpoint/ready counts
 *   GET    /v1/services/{ns}/{name}/endpoints[?ready=true]    endpoints; with ?index=N[&wait=30s] a Consul blocking query
 *   GET    /v1/watch[?service=ns/name]                        Server-Sent Events: `event: change`, data {service, version}
 *   PUT    /v1/services/{ns}/{name}/endpoints/{id}            register an external endpoint {address, port, weight?, metadata?, ttl}
 *   PUT    /v1/services/{ns}/{name}/endpoints/{id}/heartbeat  TTL heartbeat
 *   DELETE /v1/services/{ns}/{name}/endpoints/{id}            deregister an external endpoint
 * Errors are JSON `{error}` with a 4xx code; the handler never throws for bad input.
 *
 * Bounds: SSE watchers and blocking queries are counted, in total and per client address (503 / 429 with Retry-After
 * beyond); request bodies go through the API server's BodyReader; a registration is refused on its path (unknown
 * service: 404) before its body is read.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { NAME_PATTERN } from '../manifests/schema.ts';
import { parseDuration } from '../manifests/quantity.ts';
import { answerRefusal, type BodyReader } from '../server/body-reader.ts';
import { ClientSlots, clientAddress } from '../server/client-slots.ts';
import { RegistryError, type Registry, type RegistryErrorCode } from './registry.ts';
import { ENDPOINT_ID } from './registration.ts';
import { readJsonBody, send, sendError, sendLimited } from './http-util.ts';
import { startWatch } from './watch.ts';

export interface RegistryRoutesOptions {
  /** SSE heartbeat comment interval; default 15 s. */
  sseHeartbeatMs?: number;
  /** Longest blocking-query wait; default 10 min (Consul's cap). */
  maxWaitMs?: number;
  /** Blocking-query wait when `index` is given without `wait`; default 5 min (Consul's default). */
  defaultWaitMs?: number;
  /** SSE watchers open at once; default 512. */
  maxWatchers?: number;
  /** Blocking queries waiting at once; default 256. */
  maxBlockingQueries?: number;
  /** SSE watchers, and separately blocking queries, one client address may hold; default 32. */
  maxStreamsPerClient?: number;
  /** The API server's body reader (shared bounds over all routes); default one of the routes' own. */
  bodies?: BodyReader;
}

export const DEFAULT_MAX_WATCHERS = 512;
export const DEFAULT_MAX_BLOCKING_QUERIES = 256;
export const DEFAULT_MAX_STREAMS_PER_CLIENT = 32;

const NAME_RE = new RegExp(NAME_PATTERN);
/** A heartbeat carries no body; anything larger is refused on its headers. */
const MAX_HEARTBEAT_BODY = 1024;
const HTTP_STATUS: Record<RegistryErrorCode, number> = { invalid: 400, conflict: 409, 'unknown-service': 404, 'not-ready': 503, limit: 409 };

interface Opts {
  sseHeartbeatMs: number;
  maxWaitMs: number;
  defaultWaitMs: number;
  bodies?: BodyReader;
  watchers: ClientSlots;
  blocking: ClientSlots;
}

type Handler = (req: IncomingMessage, res: ServerResponse) => Promise<boolean>;

/**
 * The registry routes: resolves true when the request was one of them (answered, or streaming/long-polling on), false
 * for a path it does not own (anything outside /v1/services and /v1/watch).
 */
export function registryRoutes(registry: Registry, options: RegistryRoutesOptions = {}): Handler {
  const perClient = options.maxStreamsPerClient ?? DEFAULT_MAX_STREAMS_PER_CLIENT;
  const opts: Opts = {
    sseHeartbeatMs: options.sseHeartbeatMs ?? 15_000, maxWaitMs: options.maxWaitMs ?? 600_000, defaultWaitMs: options.defaultWaitMs ?? 300_000,
    bodies: options.bodies,
    watchers: new ClientSlots(options.maxWatchers ?? DEFAULT_MAX_WATCHERS, perClient),
    blocking: new ClientSlots(options.maxBlockingQueries ?? DEFAULT_MAX_BLOCKING_QUERIES, perClient),
  };
  return async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://registry');
    const path = url.pathname;
    if (path === '/v1/watch') return handleWatch(registry, req, res, url, opts);
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
    if (!ENDPOINT_ID.test(id)) return sendError(res, 400, 'endpoint id must be 1-128 characters of letters, digits, "_", ".", ":", "-"');
    if (extra === 'heartbeat') return handleHeartbeat(registry, req, res, service, id);
    return handleEndpoint(registry, req, res, service, id, opts.bodies);
  };
}

function handleWatch(registry: Registry, req: IncomingMessage, res: ServerResponse, url: URL, opts: Opts): Promise<boolean> {
  if (req.method !== 'GET') return methodNotAllowed(res, 'GET');
  const service = url.searchParams.get('service') ?? undefined;
  const release = holdSlot(opts.watchers, req, res);
  if (typeof release === 'string') return sendLimited(res, release, 'watchers');
  startWatch(registry, req, res, { service, heartbeatMs: opts.sseHeartbeatMs });
  return Promise.resolve(true);
}

/** Takes a slot of `slots` for the request's client until the response closes; the refusal when there is none. */
function holdSlot(slots: ClientSlots, req: IncomingMessage, res: ServerResponse): (() => void) | 'full' | 'client-full' {
  const client = clientAddress(req.socket);
  const refusal = slots.acquire(client);
  if (refusal) return refusal;
  let held = true;
  const release = (): void => {
    if (!held) return;
    held = false;
    slots.release(client);
  };
  res.once('close', release);
  return release;
}

async function handleEndpoints(registry: Registry, req: IncomingMessage, res: ServerResponse, url: URL, service: string, opts: Opts): Promise<boolean> {
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
  const release = holdSlot(opts.blocking, req, res);
  if (typeof release === 'string') return sendLimited(res, release, 'blocking queries');
  await blockUntilChange(registry, req, service, waitMs);
  release();
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

function parseWait(wait: string | null, opts: Opts): number | null {
  if (wait === null) return Math.min(opts.defaultWaitMs, opts.maxWaitMs);
  try {
    const ms = parseDuration(wait);
    return ms < 0 ? null : Math.min(ms, opts.maxWaitMs);
  } catch {
    return null;
  }
}

async function handleEndpoint(registry: Registry, req: IncomingMessage, res: ServerResponse, service: string, id: string, bodies?: BodyReader): Promise<boolean> {
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
  try {
    registry.checkExternalService(service); // before a byte of the body is read
    const body = await readJsonBody(req, bodies);
    if (!body.ok) return body.refusal ? (answerRefusal(res, body.refusal), true) : sendError(res, body.status, body.error);
    const reg = toRegistration(body.value);
    if (typeof reg === 'string') return sendError(res, 400, reg);
    send(res, 200, { endpoint: registry.register({ service, id, ...reg }) });
  } catch (err) {
    if (!(err instanceof RegistryError)) throw err;
    return registryError(res, err);
  }
  return true;
}

/** Answers a RegistryError with its HTTP status and code; closes the connection when the body was not read. */
function registryError(res: ServerResponse, err: RegistryError): Promise<boolean> {
  const status = HTTP_STATUS[err.reason];
  if (status === 503) res.setHeader('Retry-After', '5');
  if (!res.req.complete) res.setHeader('connection', 'close');
  send(res, status, { error: err.message, code: err.reason });
  return Promise.resolve(true);
}

function handleHeartbeat(registry: Registry, req: IncomingMessage, res: ServerResponse, service: string, id: string): Promise<boolean> {
  if (req.method !== 'PUT') return methodNotAllowed(res, 'PUT');
  if (!registry.has(service)) return sendError(res, 404, `unknown service ${service}`);
  if (Number(req.headers['content-length'] ?? 0) > MAX_HEARTBEAT_BODY || req.headers['transfer-encoding'] !== undefined) {
    res.setHeader('connection', 'close');
    return sendError(res, 413, `a heartbeat has no body (at most ${MAX_HEARTBEAT_BODY} bytes)`);
  }
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
