/**
 * The Route router: one HTTP listener serving many host/path rules (route-table.ts), each with weighted
 * backend services. Per request: the most specific matching rule (none: 404), then a backend service by nginx's
 * smooth weighted round-robin over the rule's weights, skipping services with no ready endpoints (none left: 503),
 * then an endpoint of that service's pool by the service's own algorithm and hash key, forwarded by
 * http-connection.ts (the embedded proxy's mechanism: failover on connect failure, 502, hop-by-hop removal,
 * X-Forwarded-For). With TLS the same path runs over node:tls sockets.
 *
 * `update` swaps rules and pools in one step, between two requests: pools of services that stay keep their connections
 * and balancer state, removed endpoints and services drain, and keep-alive client connections are untouched, so the
 * next request on an open connection already sees the new rules and weights.
 *
 * A backend pool with `wake` (a service that may be at zero) holds the requests that find no endpoint in the rule
 * (wake.ts, the queue picked by the rule's weights among such backends) until an update brings endpoints to it, or
 * to another backend of the request's rule.
 */
import net from 'node:net';
import tls from 'node:tls';
import { BerthError } from '../model/errors.ts';
import { accessTable, type ListenerAccess, type ServiceAccess } from './access-stats.ts';
import type { HashKey, LbAlgorithm } from '../model/manifest.ts';
import type { ConnectionGate } from '../server/conn-guard.ts';
import { createBalancer } from './lb/create-balancer.ts';
import type { Balancer, Endpoint } from './lb/types.ts';
import {
  checkConnectTimeout, checkIdleTimeout, checkMaxBody, closeServer, DEFAULT_CONNECT_TIMEOUT_MS, DEFAULT_IDLE_TIMEOUT_MS,
  DEFAULT_MAX_BODY_BYTES, listen, type ProxyStats,
} from './proxy.ts';
import { serveConnection, type H1Listener, type RequestHead, type UpstreamChoice } from './http-connection.ts';
import { extractKey, parseAddress, validateHashKey } from './proxy-key.ts';
import { UpstreamPool } from './proxy-pool.ts';
import { compileRoutes, matchRoute, normalizeHost, type CompiledRule, type RouteTable, type RouterRule } from './route-table.ts';
import { MIN_TLS_VERSION, type CertificateStore } from './tls-certs.ts';
import { startCertificates, startRedirect, tlsServerOptions, type RedirectListener, type RouterTlsOptions } from './tls-listener.ts';
import { serveUpgrade } from './upgrade.ts';
import { wakeProblem, WakeHold, type WakeSettings } from './wake.ts';

export type { RouterRule } from './route-table.ts';
export type { RouterCertificate, RouterTlsOptions } from './tls-listener.ts';

/** How one backend service's endpoints are balanced, and its ready endpoints ("host:port" addresses). */
export interface RouterBackendPool {
  algorithm: LbAlgorithm;
  hashKey?: HashKey;
  boundedLoad?: number;
  endpoints: Endpoint[];
  /** The service may be at zero replicas: requests finding no endpoint wait for one (wake.ts). Absent = 503. */
  wake?: WakeSettings;
}

export interface RouterOptions {
  host: string;
  /** 0 picks a free port; read it back from `Router.port`. */
  port: number;
  connectTimeoutMs?: number;
  /** Request bodies larger than this get 413. */
  maxBodyBytes?: number;
  /** Inactivity timeout of a client connection; default DEFAULT_IDLE_TIMEOUT_MS. */
  idleTimeoutMs?: number;
  /** Admission of client connections (the operator's shared connection budget); absent = unbounded. */
  gate?: ConnectionGate;
  /** TLS termination (https, SNI, certificate reloads, optional HTTP -> HTTPS redirect listener); absent = plain HTTP. */
  tls?: RouterTlsOptions;
  log?: (msg: string, fields?: object) => void;
  /** What an operator must see (a certificate that failed to reload); default `log`. */
  warn?: (msg: string, fields?: object) => void;
}

/** Request counters (see ProxyStats) plus requests routed to each backend service since start. */
export interface RouterStats extends ProxyStats {
  perService: Record<string, number>;
}

export interface Router {
  /** The port actually listened on. */
  port: number;
  /**
   * Replaces the rules and the backend pools (keyed by service "namespace/name") at once. Everything is checked
   * first: a bad rule, hash key, option or address throws BerthError E_CONFIG and nothing changes.
   */
  update(rules: readonly RouterRule[], pools: Readonly<Record<string, RouterBackendPool>>): void;
  /** Counters since start. */
  stats(): RouterStats;
  /** Requests open now to upstream `address` ("host:port") through any pool, current or draining. */
  openTo(address: string): number;
  /** Stops listening and closes every open connection, client and upstream. */
  close(): Promise<void>;
}

interface ServiceUpstream {
  pool: UpstreamPool;
  hashKey: HashKey | undefined;
  access: ServiceAccess | undefined;
  /** Requests waiting while the service wakes from zero (its pool has `wake`). */
  hold?: WakeHold;
}

/** What a request reads; replaced whole by `update`. */
interface Snapshot {
  table: RouteTable;
  /** Per rule: smooth WRR over its backend services (endpoint id = service key). */
  picks: Map<CompiledRule, Balancer>;
  services: Map<string, ServiceUpstream>;
  /** Services named by a rule that have no ready endpoint (or no pool): skipped by the picks. */
  empty: Set<string>;
  /** Of those, the ones a request cannot wait for (no `wake`); undefined when no service of the listener has `wake`. */
  unwakeable?: Set<string>;
}

/** Starts a router with no rules (every request gets 404 until `update`). Rejects with the listen error. */
export async function startRouter(opts: RouterOptions): Promise<Router> {
  const log = opts.log ?? (() => {});
  const certs = opts.tls && await startCertificates(opts.tls, { warn: opts.warn ?? log, info: log }).catch((err: unknown) => {
    opts.gate?.dispose();
    throw err;
  });
  const router = new RouterListener(opts, certs);
  await router.listen(opts.host, opts.port).catch(async (err: unknown) => {
    await router.close();
    throw err;
  });
  return router;
}

class RouterListener implements Router {
  port = 0;
  private readonly ctx: H1Listener;
  private readonly connectTimeoutMs: number;
  private readonly server: net.Server;
  private snapshot: Snapshot = { table: compileRoutes([]), picks: new Map(), services: new Map(), empty: new Set() };
  /** WRR state per rule id, kept across updates so a weight change continues the smooth sequence. */
  private balancers = new Map<string, Balancer>();
  /** Pools of services no rule uses any more, until their last request ends. */
  private readonly draining = new Set<UpstreamPool>();
  private readonly perService = new Map<string, number>();
  private readonly gate: ConnectionGate | undefined;
  private redirect: RedirectListener | undefined;
  private readonly idleTimeoutMs: number;
  private access: ListenerAccess | undefined;

  constructor(private readonly opts: RouterOptions, private readonly certs?: CertificateStore) {
    this.connectTimeoutMs = checkConnectTimeout(opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS);
    this.idleTimeoutMs = checkIdleTimeout(opts.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS);
    const ctx: H1Listener = {
      counters: { active: 0, total: 0, failedConnects: 0 },
      maxBodyBytes: checkMaxBody(opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES),
      log: opts.log ?? (() => {}),
      tls: certs !== undefined,
      connectTimeoutMs: this.connectTimeoutMs,
      idleTimeoutMs: this.idleTimeoutMs,
      sockets: new Set(),
      choose: (req) => this.choose(req),
      upgrade: (req, socket, rest) => serveUpgrade(req, socket, rest, ctx),
    };
    this.ctx = ctx;
    if (certs) {
      const server = tls.createServer(tlsServerOptions(certs), (socket) => serveConnection(socket, ctx));
      certs.onDefault = (pair) => server.setSecureContext({ ...pair, minVersion: MIN_TLS_VERSION });
      // a client that fails the handshake (or never finishes it) is closed; nothing was forwarded
      server.on('tlsClientError', (_err, socket) => socket.destroy());
      this.server = server;
    } else {
      this.server = net.createServer((socket) => serveConnection(socket, ctx));
    }
    this.gate = opts.gate;
    this.gate?.protect(this.server);
  }

  async listen(host: string, port: number): Promise<void> {
    await listen(this.server, host, port);
    const address = this.server.address();
    this.port = typeof address === 'object' && address ? address.port : port;
    // known once listening (port 0); the service counters are resolved by `update`, not per request
    this.access = accessTable.listener(`${host}:${this.port}`, 'http');
    this.ctx.access = this.access?.service('');
    const r = this.opts.tls?.redirect;
    if (r) this.redirect = await startRedirect({ ...r, tlsPort: () => this.port, ctx: this.ctx, idleTimeoutMs: this.idleTimeoutMs, gate: this.gate });
  }

  update(rules: readonly RouterRule[], pools: Readonly<Record<string, RouterBackendPool>>): void {
    const table = compileRoutes(rules);
    for (const [service, p] of Object.entries(pools)) checkPool(service, p);
    const services = new Map<string, ServiceUpstream>();
    /** Holds to release once the new snapshot is in force (chosen again, they see it). */
    const release: WakeHold[] = [];
    for (const [service, p] of Object.entries(pools)) {
      const kept = this.snapshot.services.get(service);
      let s: ServiceUpstream;
      if (kept) {
        kept.pool.configure(p);
        kept.pool.update(p.endpoints);
        kept.hashKey = p.hashKey;
        s = kept;
      } else {
        s = { pool: new UpstreamPool(p, p.endpoints, true, this.connectTimeoutMs), hashKey: p.hashKey, access: this.access?.service(service) };
      }
      if (p.wake) {
        if (s.hold) s.hold.configure(p.wake);
        else {
          s.hold = new WakeHold(service, p.wake);
          s.hold.gauge = s.access;
          if (s.access) s.access.wakes = true;
        }
        if (s.pool.size > 0) release.push(s.hold);
      } else if (s.hold) {
        release.push(s.hold);
        s.hold = undefined;
      }
      services.set(service, s);
    }
    for (const [service, gone] of this.snapshot.services) {
      if (services.has(service)) continue;
      gone.pool.update([]);
      this.draining.add(gone.pool);
      if (gone.hold) release.push(gone.hold);
    }
    this.snapshot = { table, services, ...this.rulePicks(table, services) };
    this.pruneDraining();
    for (const hold of wokenAside(table, services)) if (!release.includes(hold)) release.push(hold);
    for (const hold of release) hold.release();
  }

  stats(): RouterStats {
    return { ...this.ctx.counters, perService: Object.fromEntries(this.perService) };
  }

  openTo(address: string): number {
    this.pruneDraining();
    let n = 0;
    for (const s of this.snapshot.services.values()) n += s.pool.openTo(address);
    for (const pool of this.draining) n += pool.openTo(address);
    return n;
  }

  close(): Promise<void> {
    const closed = Promise.all([closeServer(this.server, this.ctx.sockets), this.redirect?.close()]).then(() => undefined);
    this.certs?.close();
    for (const s of this.snapshot.services.values()) {
      s.hold?.close();
      s.pool.close();
    }
    for (const pool of this.draining) pool.close();
    this.draining.clear();
    this.gate?.dispose();
    return closed;
  }

  /** The service pool and hash key of a request or upgrade (counted per service), or its 404/503 answer. */
  private choose(req: RequestHead): UpstreamChoice {
    const s = this.snapshot;
    const url = req.url ?? '/';
    const rule = matchRoute(s.table, req.headers.host, url);
    if (!rule) return { status: 404, code: 'E_NO_ROUTE', message: `no route for host ${normalizeHost(req.headers.host) ?? '(none)'} path ${url.split('?', 1)[0]}` };
    const picks = s.picks.get(rule)!;
    const picked = picks.pick(undefined, s.empty.size ? s.empty : undefined);
    if (!picked) {
      // a backend waking from zero: the request waits in its queue (picked by the rule's weights among those)
      const waking = s.unwakeable && picks.pick(undefined, s.unwakeable);
      const hold = waking ? s.services.get(waking.id)?.hold : undefined;
      if (hold) return { hold };
      return { status: 503, code: 'E_NO_ENDPOINTS', message: `no ready endpoints behind ${rule.rule.source ?? `route ${rule.id}`}` };
    }
    const svc = s.services.get(picked.id)!;
    this.perService.set(picked.id, (this.perService.get(picked.id) ?? 0) + 1);
    const key = svc.hashKey === undefined ? undefined : extractKey(svc.hashKey, { clientIp: req.socket.remoteAddress, headers: req.headers, url });
    return { pool: svc.pool, key, access: svc.access };
  }

  /** The WRR balancer of each rule (reused by rule id) and the services the picks must skip. */
  private rulePicks(table: RouteTable, services: Map<string, ServiceUpstream>): Pick<Snapshot, 'picks' | 'empty' | 'unwakeable'> {
    const picks = new Map<CompiledRule, Balancer>();
    const balancers = new Map<string, Balancer>();
    const empty = new Set<string>();
    for (const rule of table.all) {
      const weighted = rule.rule.backends.filter((b) => b.weight > 0);
      const balancer = balancers.get(rule.id) ?? this.balancers.get(rule.id) ?? createBalancer('weighted-round-robin', []);
      balancer.update(weighted.map((b) => ({ id: b.service, address: b.service, weight: b.weight })));
      balancers.set(rule.id, balancer);
      picks.set(rule, balancer);
      for (const b of weighted) if (!services.get(b.service)?.pool.size) empty.add(b.service);
    }
    this.balancers = balancers;
    if (![...services.values()].some((s) => s.hold)) return { picks, empty };
    const unwakeable = new Set([...empty].filter((service) => !services.get(service)?.hold));
    return { picks, empty, unwakeable };
  }

  private pruneDraining(): void {
    for (const pool of this.draining) {
      if (pool.openTotal() > 0) continue;
      pool.close();
      this.draining.delete(pool);
    }
  }
}

/**
 * Holds of services still at zero that share a rule with a backend that has endpoints now: their requests are chosen
 * again (those of that rule go to it; the others wait again, with the deadline they had).
 */
function wokenAside(table: RouteTable, services: Map<string, ServiceUpstream>): WakeHold[] {
  const out: WakeHold[] = [];
  for (const [service, s] of services) {
    if (!s.hold?.size || s.pool.size > 0) continue;
    const shared = table.all.some((rule) => {
      const backends = rule.rule.backends.filter((b) => b.weight > 0);
      return backends.some((b) => b.service === service) && backends.some((b) => b.service !== service && (services.get(b.service)?.pool.size ?? 0) > 0);
    });
    if (shared) out.push(s.hold);
  }
  return out;
}

/** Checks one pool's settings and addresses without building anything; throws BerthError E_CONFIG naming the service. */
function checkPool(service: string, p: RouterBackendPool): void {
  try {
    validateHashKey(p.hashKey);
    const problem = p.wake === undefined ? null : wakeProblem(p.wake);
    if (problem) throw new BerthError('E_CONFIG', problem);
    createBalancer(p.algorithm, [], { boundedLoad: p.boundedLoad });
    for (const e of p.endpoints) parseAddress(e.address);
  } catch (err) {
    if (err instanceof BerthError) throw new BerthError('E_CONFIG', `service ${service}: ${err.message}`);
    throw err;
  }
}
