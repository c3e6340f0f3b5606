/**
 * What the operator and its data-plane process (`berth proxy`) say to each other over the control socket, and where
 * the files of one instance live in the state dir. The proxy process holds the listeners of loadBalancer.publish and
 * Routes, so that stopping, upgrading or killing the operator never closes a published port; the operator only tells
 * it what to serve. Pure: types, paths and the check of a received configuration.
 */
import path from 'node:path';
import type { DesiredRoute } from '../model/state.ts';
import type { ListenerInputs, PublishedService } from '../proxy/proxies.ts';
import type { Level } from '../util/log.ts';
import { wakeProblem } from '../proxy/wake.ts';

/** One endpoint of a service as the proxies balance over it: only what the load balancers read. */
export interface MirrorEndpoint {
  id: string;
  address: string;
  port: number;
  weight: number;
  ready: boolean;
  /** An external endpoint (registered with its own port): a listener of ports[].publish leaves it out. Absent = a replica. */
  external?: true;
}

/**
 * The body of `PUT /config`: the listener inputs of the desired state (services reduced to their key and
 * loadBalancer, so no environment or secret reaches the proxy process or its file) and the endpoints of every service.
 * A service with `wake` ({ queue, timeoutMs }) may be at zero replicas: its listeners and Route backends hold what
 * finds no endpoint, and report the wake on `GET /wakeups` (WakeupsAnswer).
 */
export interface DataplaneConfig extends ListenerInputs {
  services: PublishedService[];
  routes: DesiredRoute[];
  /** Every endpoint (ready or not) per service `ns/name`. */
  endpoints: Record<string, MirrorEndpoint[]>;
}

/** The flags of a proxy process that shape its listeners: set when it starts, compared when an operator attaches. */
export interface ProxyProcessSettings {
  proxyHost: string;
  idleTimeoutMs: number;
  maxConnections: number | 'auto';
  maxConnectionsPerClient: number;
}

/** The `berth proxy` flags of `s`. */
export function proxyArgs(s: ProxyProcessSettings): string[] {
  return ['--proxy-host', s.proxyHost, '--proxy-idle-timeout', `${s.idleTimeoutMs}ms`, '--max-connections', String(s.maxConnections), '--max-connections-per-client', String(s.maxConnectionsPerClient)];
}

/** The settings in which `a` and `b` differ (empty when they agree). */
export function settingsDiff(a: ProxyProcessSettings, b: ProxyProcessSettings): string[] {
  return (['proxyHost', 'idleTimeoutMs', 'maxConnections', 'maxConnectionsPerClient'] as const).filter((k) => a[k] !== b[k]);
}

/** What `GET /healthz` answers: who the process is and what it serves. */
export interface DataplaneHealth {
  pid: number;
  instance: string;
  settings: ProxyProcessSettings;
  /** ISO time the process started. */
  startedAt: string;
  /** ISO time of the configuration in force (received or loaded from the file); null before the first. */
  configuredAt: string | null;
  listeners: number;
  /** The pids of the cluster workers serving the listeners (--proxy-workers > 1); empty when the process serves them itself. */
  workers?: number[];
}

/** What `GET /wakeups?wait=<ms>` answers: the services a request is waiting for since the last answer (each once). */
export interface WakeupsAnswer {
  services: string[];
}

/** Largest `PUT /config` body: a few thousand services and routes fit. */
export const MAX_CONFIG_BYTES = 8 * 1024 * 1024;
/** Largest answer the operator reads from the proxy process. */
export const MAX_ANSWER_BYTES = 8 * 1024 * 1024;
/** A control request (body included) must finish within this long, on both sides. */
export const CONTROL_TIMEOUT_MS = 10_000;
/** The header carrying the key. */
export const KEY_HEADER = 'authorization';

/** The files of the proxy process of `instance` in `stateDir`. */
export interface DataplanePaths {
  socket: string;
  key: string;
  pid: string;
  config: string;
  log: string;
}

export function dataplanePaths(stateDir: string, instance: string): DataplanePaths {
  const at = (ext: string) => path.join(path.resolve(stateDir), `proxy-${instance}.${ext}`);
  return { socket: at('sock'), key: at('key'), pid: at('pid'), config: at('json'), log: at('log') };
}

/** Longest unix socket path Linux accepts (sun_path is 108 bytes with its NUL). */
const MAX_SOCKET_PATH = 107;

/** Why the control socket cannot be created at `paths.socket`, or null. */
export function socketPathProblem(paths: DataplanePaths): string | null {
  const n = Buffer.byteLength(paths.socket);
  return n > MAX_SOCKET_PATH ? `the control socket path ${paths.socket} is ${n} bytes, more than a unix socket allows (${MAX_SOCKET_PATH}): use a shorter --state-dir or --instance` : null;
}

/** The header value a request carries its key in. */
export function keyHeader(key: string): string {
  return `Bearer ${key}`;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * A received (or persisted) configuration checked for shape, or the problem. Its content comes from an operator that
 * already validated the manifests; this only keeps a truncated or foreign file from crashing the proxy process.
 */
export function checkConfig(v: unknown): { ok: true; config: DataplaneConfig } | { ok: false; error: string } {
  if (!isObject(v)) return { ok: false, error: 'config must be a JSON object' };
  if (!Array.isArray(v.services) || !v.services.every((s) => isObject(s) && typeof s.key === 'string' && isObject(s.spec))) {
    return { ok: false, error: 'services must be a list of { key, spec }' };
  }
  for (const s of v.services as Record<string, unknown>[]) {
    const problem = s.wake === undefined ? null : wakeProblem(s.wake);
    if (problem) return { ok: false, error: `service ${String(s.key)}: ${problem}` };
  }
  if (!Array.isArray(v.routes) || !v.routes.every((r) => isObject(r) && typeof r.key === 'string' && isObject(r.spec) && isObject(r.spec.publish) && Array.isArray(r.spec.rules))) {
    return { ok: false, error: 'routes must be a list of { key, namespace, spec: { publish, rules } }' };
  }
  if (!isObject(v.endpoints)) return { ok: false, error: 'endpoints must be an object of service -> endpoints' };
  for (const [service, list] of Object.entries(v.endpoints)) {
    const fine = Array.isArray(list) && list.every((e) => isObject(e) && typeof e.id === 'string' && typeof e.address === 'string'
      && Number.isInteger(e.port) && typeof e.weight === 'number' && typeof e.ready === 'boolean');
    if (!fine) return { ok: false, error: `endpoints of ${service} must be a list of { id, address, port, weight, ready }` };
  }
  return { ok: true, config: v as unknown as DataplaneConfig };
}

/** The settings of `berth proxy` (parsed from its flags by settings/proxy-settings.ts). */
export interface ProxySettings {
  stateDir: string;
  instance: string;
  proxyHost: string;
  idleTimeoutMs: number;
  maxConnections: number | 'auto';
  maxConnectionsPerClient: number;
  /** --proxy-workers: cluster workers serving the listeners; 1 serves them in the process itself, as without workers. */
  workers: number;
  /** --stop: stop the running proxy process of the instance and exit. */
  stop: boolean;
  log: { level: Level; json: boolean };
}
