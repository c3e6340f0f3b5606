/**
 * Who may do what on berth's API, in one table: each route is a verb on a resource (and, for registry writes, a
 * namespace); each role is the list of verb/resource pairs it holds. Every request is checked here, once, before
 * any handler runs. Tokens and client certificates both resolve to a Principal with a role and granted namespaces.
 */

export type Role = 'viewer' | 'operator' | 'admin';
export const ROLES: readonly Role[] = ['viewer', 'operator', 'admin'];

export function isRole(v: unknown): v is Role {
  return typeof v === 'string' && (ROLES as readonly string[]).includes(v);
}

export type Verb = 'read' | 'write' | 'trigger';
export type Resource = 'status' | 'metrics' | 'services' | 'endpoints' | 'proxies' | 'sync' | 'audit' | 'jobs' | 'logs' | 'drift';

/** The authenticated caller. */
export interface Principal {
  /** Token name, or the certificate subject the client policy matched. */
  name: string;
  via: 'token' | 'certificate';
  role: Role;
  /** Namespaces whose endpoints it may change; ['*'] = all. */
  namespaces: readonly string[];
}

/** What one request needs. `namespace` scopes writes of registry endpoints. */
export interface Access {
  verb: Verb;
  resource: Resource;
  namespace?: string;
}

/** Roles and their grants. `operator` writes endpoints only in its granted namespaces. */
export const POLICY: Readonly<Record<Role, readonly `${Verb} ${Resource | '*'}`[]>> = {
  viewer: ['read status', 'read metrics', 'read services', 'read endpoints', 'read proxies', 'read logs'],
  operator: ['read status', 'read metrics', 'read services', 'read endpoints', 'read proxies', 'read logs', 'write endpoints', 'trigger sync', 'trigger jobs', 'trigger drift'],
  admin: ['read *', 'write *', 'trigger *'],
};

/** Open without credentials: liveness, and the webhook (it carries its forge's signature instead). */
export type RouteClass = { open: true } | { open: false; access: Access; changesState: boolean };

export interface RouteOptions {
  /** --metrics-public: Prometheus scrapers that cannot send a token read /metrics without one. */
  metricsPublic?: boolean;
}

/**
 * The access a request needs, from its method and path. Unknown paths need `read status` (any role), so an
 * unauthenticated caller learns nothing about which routes exist: 401 before 404.
 */
export function classify(method: string, path: string, opts: RouteOptions = {}): RouteClass {
  if (path === '/healthz') return { open: true };
  if (path === '/hooks/git') return { open: true };
  // The dashboard's files hold no data: the page asks for a token and calls the API with it.
  if ((path === '/' || path.startsWith('/ui/')) && (method === 'GET' || method === 'HEAD')) return { open: true };
  if (path === '/v1/status/watch' || path === '/v1/history') return needs('read', 'status');
  if (path.startsWith('/v1/plans/') || path.startsWith('/v1/commits/')) return needs('read', 'status');
  if (path === '/metrics') return opts.metricsPublic ? { open: true } : needs('read', 'metrics');
  if (path === '/v1/series') return needs('read', 'metrics');
  if (path === '/v1/status') return needs('read', 'status');
  if (path === '/v1/proxies') return needs('read', 'proxies');
  if (path === '/v1/audit') return needs('read', 'audit');
  if (path === '/v1/logs' || path === '/v1/events') return needs('read', 'logs');
  if (path === '/v1/sync') return method === 'POST' ? needs('trigger', 'sync', undefined, true) : needs('read', 'status');
  if (path.startsWith('/v1/cronjobs/') && method === 'POST') return needs('trigger', 'jobs', safeDecode(path.split('/')[3]), true);
  if (path === '/v1/watch' || path === '/v1/services' || path === '/v1/services/') return needs('read', 'services');
  // berth pause-drift / resume-drift: POST /v1/services/<ns>/<name>/pause-drift|resume-drift, in the namespace.
  if (path.startsWith('/v1/services/') && method === 'POST' && /^\/v1\/services\/[^/]+\/[^/]+\/(pause|resume)-drift$/.test(path)) return needs('trigger', 'drift', safeDecode(path.split('/')[3]), true);
  if (path.startsWith('/v1/services/')) {
    const [ns, , endpoints, id] = path.slice('/v1/services/'.length).split('/');
    if (method === 'GET' || method === 'HEAD') return needs('read', 'endpoints');
    if (endpoints === 'endpoints' && id !== undefined) return needs('write', 'endpoints', safeDecode(ns), true);
  }
  return needs('read', 'status');
}

function needs(verb: Verb, resource: Resource, namespace?: string, changesState = false): RouteClass {
  return { open: false, access: { verb, resource, ...(namespace !== undefined ? { namespace } : {}) }, changesState };
}

/** decodeURIComponent, or the text as it is when it does not decode. */
export function safeDecode(s: string | undefined): string {
  try {
    return decodeURIComponent(s ?? '');
  } catch {
    return s ?? '';
  }
}

/** True when `p` may do `a`. */
export function allowed(p: Principal, a: Access): boolean {
  const grants = POLICY[p.role];
  if (!grants.includes(`${a.verb} ${a.resource}`) && !grants.includes(`${a.verb} *`)) return false;
  if (a.namespace === undefined || p.role === 'admin') return true;
  return p.namespaces.includes('*') || p.namespaces.includes(a.namespace);
}
