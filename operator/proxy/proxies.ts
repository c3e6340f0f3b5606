/**
 * The listeners of the data plane (run by the proxy process, operator/dataplane/): one embedded proxy per Service with
 * `loadBalancer.publish`, one HTTP router per port that Routes publish on. `sync(desired)` opens, reconfigures and
 * closes listeners for each configuration the operator pushes; the registry's change notifications feed them the
 * ready endpoints in between, so a replica that becomes ready or drains is seen by the proxies at once. A port that
 * cannot be opened is logged and retried on the next sync; it never stops the process.
 */
import type { HashKey, LbAlgorithm, LoadBalancerSpec, PortSpec } from '../model/manifest.ts';
import type { DesiredRoute } from '../model/state.ts';
import type { Registry, RegistryEndpoint } from '../registry/registry.ts';
import type { ConnectionGuard } from '../server/conn-guard.ts';
import type { Logger } from '../util/log.ts';
import type { Endpoint } from './lb/types.ts';
import { startProxy, type Proxy, type ProxyStats } from './proxy.ts';
import { startRouter, type Router, type RouterBackendPool, type RouterRule, type RouterTlsOptions } from './router.ts';
import { routerTls } from './route-tls.ts';
import { toBalancerEndpoints } from './upstreams.ts';
import type { WakeSettings } from './wake.ts';

export interface ProxyManagerOptions {
  registry: Registry;
  /** Listen address when a publish block names none. */
  defaultHost: string;
  log: Logger;
  /** The operator's connection budget; every listener gets a gate of it. Absent = unbounded. */
  guard?: ConnectionGuard;
  /** Inactivity timeout of proxied connections; default DEFAULT_IDLE_TIMEOUT_MS (5 min). */
  idleTimeoutMs?: number;
}

/** A Service as the listeners need it: its key, load-balancer block and ports (ports[].publish) (a DesiredService is one). */
export interface PublishedService {
  key: string;
  spec: { loadBalancer?: LoadBalancerSpec; ports?: readonly PortSpec[] };
  /**
   * The service may be at zero replicas (an autoscaler scales it to zero): a connection or request finding no ready
   * endpoint is held (at most `queue` of them, each for at most `timeoutMs`) and the wake reported on the control
   * socket (`GET /wakeups`), instead of being refused. Absent = refused as always (503 E_NO_ENDPOINTS, TCP close).
   */
  wake?: WakeSettings;
}

/** The parts of a desired state the listeners follow (a DesiredState is one). */
export interface ListenerInputs {
  services: readonly PublishedService[];
  routes: readonly DesiredRoute[];
}

/** What `GET /v1/proxies` shows of one listener. */
export interface ListenerInfo {
  address: string;
  kind: 'service' | 'route';
  /** The Service (`ns/name`) or the Routes (`ns/name`, ...) that publish here. */
  owners: string[];
  protocol: 'tcp' | 'http';
  /** Services whose ready endpoints this listener forwards to, with their ready endpoint counts. */
  backends: Record<string, number>;
  /** How a service listener balances (a Route's backends balance by their own service's setting). */
  algorithm?: LbAlgorithm;
  /** A Route listener's rules in match order: host, path prefix and weighted backends, and the Route rule each came from. */
  rules?: { host?: string; pathPrefix?: string; backends: { service: string; weight: number }[]; source: string }[];
  /** Serves TLS (a Route with tls). */
  tls?: boolean;
  stats: ProxyStats;
  /** Set when the port could not be opened (retried on the next pass). */
  error?: string;
}

interface Wanted {
  address: string;
  host: string;
  port: number;
  kind: 'service' | 'route';
  owners: string[];
  protocol: 'tcp' | 'http';
  /** What needs a new listener when it changes: the protocol (algorithm and hash key switch in place). */
  signature: string;
  services: string[];
  /**
   * Service listeners of spec.ports[].publish: the container port they forward to, instead of the registry's (the
   * service's loadBalancer.targetPort); only the replicas' endpoints, an external endpoint registers one port.
   */
  targetPort?: number;
  algorithm?: LbAlgorithm;
  hashKey?: HashKey;
  boundedLoad?: number;
  /** Service listeners: hold-and-wake of the service (PublishedService.wake). */
  wake?: WakeSettings;
  rules?: RouterRule[];
  /** Per backend service: how its endpoints are balanced (route listeners). */
  pools?: Record<string, Omit<RouterBackendPool, 'endpoints'>>;
  /** Route listeners with tls: certificates and redirect (part of the signature; file contents reload in place). */
  tls?: RouterTlsOptions;
}

interface Open {
  wanted: Wanted;
  proxy?: Proxy;
  router?: Router;
}

const NO_STATS: ProxyStats = { active: 0, total: 0, failedConnects: 0 };

export class ProxyManager {
  private readonly open = new Map<string, Open>();
  private readonly failed = new Map<string, { wanted: Wanted; error: string }>();
  private readonly unsubscribe: () => void;
  private queue: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(private readonly opts: ProxyManagerOptions) {
    this.unsubscribe = opts.registry.subscribe((change) => this.refreshService(change.service));
  }

  /** Brings the listeners in line with `desired` (serialized: a sync waits for the previous one). */
  sync(desired: ListenerInputs): Promise<void> {
    this.queue = this.queue.then(() => this.doSync(desired), (err) => this.opts.log.error('proxies: sync failed', { error: String(err) }));
    return this.queue;
  }

  /** The listeners, open or failed, sorted by address. */
  list(): ListenerInfo[] {
    const out: ListenerInfo[] = [];
    for (const o of this.open.values()) {
      out.push({ ...info(o.wanted, this.opts.registry), stats: o.proxy?.stats() ?? o.router?.stats() ?? NO_STATS });
    }
    for (const f of this.failed.values()) out.push({ ...info(f.wanted, this.opts.registry), stats: NO_STATS, error: f.error });
    return out.sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : 0));
  }

  /** Connections (tcp) or requests (http) open to `address` ("host:port") through any listener. */
  openTo(address: string): number {
    let n = 0;
    for (const o of this.open.values()) n += o.proxy?.openTo(address) ?? o.router?.openTo(address) ?? 0;
    return n;
  }

  /** Closes every listener and stops listening to the registry. */
  async close(): Promise<void> {
    this.closed = true;
    this.unsubscribe();
    await this.queue.catch(() => undefined);
    await Promise.all([...this.open.values()].map((o) => closeOpen(o)));
    this.open.clear();
  }

  private async doSync(desired: ListenerInputs): Promise<void> {
    if (this.closed) return;
    const wanted = wantedListeners(desired, this.opts.defaultHost);
    for (const [address, o] of [...this.open]) {
      const w = wanted.get(address);
      if (w && w.kind === o.wanted.kind && w.signature === o.wanted.signature) continue;
      this.open.delete(address);
      await closeOpen(o);
      this.opts.log.info('proxy closed', { address, owners: o.wanted.owners.join(',') });
    }
    this.failed.clear();
    for (const w of wanted.values()) {
      const o = this.open.get(w.address);
      if (o) {
        const before = settingsOf(o.wanted);
        o.wanted = w;
        if (o.proxy && settingsOf(w) !== before) this.reconfigure(o);
        this.push(o);
        continue;
      }
      try {
        const opened = await this.start(w);
        this.open.set(w.address, opened);
        this.push(opened);
        this.opts.log.info('proxy listening', { address: w.address, kind: w.kind, protocol: w.protocol, owners: w.owners.join(','), algorithm: w.algorithm });
      } catch (err) {
        const error = (err as Error).message;
        this.failed.set(w.address, { wanted: w, error });
        this.opts.log.error('proxy cannot listen; retrying on the next pass', { address: w.address, owners: w.owners.join(','), error });
      }
    }
  }

  private async start(w: Wanted): Promise<Open> {
    const limits = { idleTimeoutMs: this.opts.idleTimeoutMs, gate: this.opts.guard?.gate(`${w.kind} ${w.address}`) };
    try {
      if (w.kind === 'route') {
        const warn = (msg: string, fields?: object): void => this.opts.log.warn(msg, fields as Record<string, unknown> | undefined);
        return { wanted: w, router: await startRouter({ host: w.host, port: w.port, log: this.logFn(), warn, tls: w.tls, ...limits }) };
      }
      const proxy = await startProxy({
        host: w.host, port: w.port, algorithm: w.algorithm ?? 'round-robin', mode: w.protocol, hashKey: w.hashKey,
        boundedLoad: w.boundedLoad, endpoints: this.endpoints(w.services[0]!, w.targetPort), log: this.logFn(), service: w.services[0], wake: w.wake, ...limits,
      });
      return { wanted: w, proxy };
    } catch (err) {
      limits.gate?.dispose(); // the listener never opened: its place in the budget goes back
      throw err;
    }
  }

  private logFn(): (msg: string, fields?: object) => void {
    return (msg, fields) => this.opts.log.debug(msg, fields as Record<string, unknown> | undefined);
  }

  private endpoints(service: string, targetPort?: number): Endpoint[] {
    const ready = this.opts.registry.ready(service);
    if (targetPort === undefined) return toBalancerEndpoints(ready);
    return toBalancerEndpoints(ready.filter((e) => !isExternal(e)).map((e) => ({ ...e, port: targetPort })));
  }

  /** A published service's algorithm or hash key changed: switched on the same listener, connections stay. */
  private reconfigure(o: Open): void {
    const w = o.wanted;
    try {
      o.proxy!.configure({ algorithm: w.algorithm ?? 'round-robin', hashKey: w.hashKey, boundedLoad: w.boundedLoad, wake: w.wake });
      this.opts.log.info('proxy reconfigured', { address: w.address, algorithm: w.algorithm, hashKey: w.hashKey });
    } catch (err) {
      this.opts.log.error('proxy reconfigure failed', { address: w.address, error: String(err) });
    }
  }

  /** Gives one listener the current ready endpoints (and, for a router, its rules). */
  private push(o: Open): void {
    const w = o.wanted;
    try {
      if (o.proxy) o.proxy.update(this.endpoints(w.services[0]!, w.targetPort));
      if (o.router) {
        const pools: Record<string, RouterBackendPool> = {};
        for (const [svc, p] of Object.entries(w.pools ?? {})) pools[svc] = { ...p, endpoints: this.endpoints(svc) };
        o.router.update(w.rules ?? [], pools);
      }
    } catch (err) {
      this.opts.log.error('proxy update failed', { address: w.address, error: String(err) });
    }
  }

  private refreshService(service: string): void {
    for (const o of this.open.values()) if (o.wanted.services.includes(service)) this.push(o);
  }
}

/**
 * An endpoint registered from outside (one address and port of its own): source external in the operator's registry;
 * in the proxy process's mirror, where every endpoint is set as a replica, node `external` without a replica slot.
 */
function isExternal(e: RegistryEndpoint): boolean {
  return e.source === 'external' || (e.node === 'external' && e.replica === undefined);
}

function settingsOf(w: Wanted): string {
  return JSON.stringify([w.algorithm, w.hashKey, w.boundedLoad, w.wake?.queue, w.wake?.timeoutMs]);
}

function closeOpen(o: Open): Promise<void> {
  return (o.proxy ?? o.router)?.close() ?? Promise.resolve();
}

function info(w: Wanted, registry: Registry): Omit<ListenerInfo, 'stats'> {
  const backends: Record<string, number> = {};
  for (const s of w.services) backends[s] = registry.ready(s).length;
  return {
    address: w.address, kind: w.kind, owners: w.owners, protocol: w.protocol, backends,
    ...(w.kind === 'service' && w.algorithm ? { algorithm: w.algorithm } : {}),
    ...(w.rules ? { rules: w.rules.map((r) => ({ ...(r.host ? { host: r.host } : {}), ...(r.pathPrefix ? { pathPrefix: r.pathPrefix } : {}), backends: r.backends.map((b) => ({ service: b.service, weight: b.weight })), source: r.source ?? '' })) } : {}),
    ...(w.tls ? { tls: true } : {}),
  };
}

function addressOf(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** The listeners a desired state asks for, keyed by listen address (pure). */
export function wantedListeners(desired: ListenerInputs, defaultHost: string): Map<string, Wanted> {
  const out = new Map<string, Wanted>();
  const byKey = new Map(desired.services.map((s) => [s.key, s]));
  for (const svc of desired.services) {
    const lb = svc.spec.loadBalancer;
    if (!lb?.publish) continue;
    const host = lb.publish.host ?? defaultHost;
    const address = addressOf(host, lb.publish.port);
    const settings = { algorithm: lb.algorithm, hashKey: lb.hashKey, boundedLoad: lb.boundedLoad, ...wakeOf(svc) };
    out.set(address, {
      address, host, port: lb.publish.port, kind: 'service', owners: [svc.key], protocol: lb.protocol,
      signature: lb.protocol, services: [svc.key], ...settings,
    });
  }
  for (const svc of desired.services) {
    const lb = svc.spec.loadBalancer;
    for (const p of svc.spec.ports ?? []) {
      if (!p.publish || p.protocol !== 'tcp') continue;
      const host = p.publish.host ?? defaultHost;
      const address = addressOf(host, p.publish.port);
      const protocol = lb?.protocol ?? 'tcp';
      const settings = { algorithm: lb?.algorithm ?? 'round-robin', hashKey: lb?.hashKey, boundedLoad: lb?.boundedLoad, ...wakeOf(svc) };
      if (out.has(address)) continue; // the manifests stage rejects a port published twice; never reached
      out.set(address, {
        address, host, port: p.publish.port, kind: 'service', owners: [svc.key], protocol,
        signature: `${protocol} ${p.port}`, services: [svc.key], targetPort: p.port, ...settings,
      });
    }
  }
  for (const route of desired.routes) {
    const host = route.spec.publish.host ?? defaultHost;
    const address = addressOf(host, route.spec.publish.port);
    const w = out.get(address) ?? { address, host, port: route.spec.publish.port, kind: 'route' as const, owners: [], protocol: 'http' as const, signature: 'route', services: [], rules: [], pools: {} };
    if (w.kind !== 'route') continue; // the manifests stage rejects a port published twice; never reached
    w.owners.push(route.key);
    route.spec.rules.forEach((rule, i) => {
      const backends = rule.backends.map((b) => ({ service: `${route.namespace}/${b.service}`, weight: b.weight }));
      w.rules!.push({ host: rule.host, pathPrefix: rule.pathPrefix, backends, source: `${route.key} rule ${i}` });
      for (const b of backends) {
        if (!w.services.includes(b.service)) w.services.push(b.service);
        w.pools![b.service] = poolSettings(byKey.get(b.service));
      }
    });
    out.set(address, w);
  }
  for (const w of out.values()) {
    const tls = w.kind === 'route' ? routerTls(desired.routes.filter((r) => w.owners.includes(r.key)), defaultHost) : undefined;
    if (tls) Object.assign(w, { tls, signature: `route-tls ${JSON.stringify(tls)}` });
  }
  return out;
}

/** How a Route balances over one backend service: that service's loadBalancer settings, else round-robin. */
function poolSettings(svc: PublishedService | undefined): Omit<RouterBackendPool, 'endpoints'> {
  const lb = svc?.spec.loadBalancer;
  if (!lb) return { algorithm: 'round-robin', ...wakeOf(svc) };
  const out: Omit<RouterBackendPool, 'endpoints'> = { algorithm: lb.algorithm, ...wakeOf(svc) };
  if (lb.hashKey) out.hashKey = lb.hashKey;
  if (lb.boundedLoad !== undefined) out.boundedLoad = lb.boundedLoad;
  return out;
}

/** `{ wake }` of a service that may be at zero, else nothing (so listeners without it look exactly as before). */
function wakeOf(svc: PublishedService | undefined): { wake?: WakeSettings } {
  return svc?.wake ? { wake: { queue: svc.wake.queue, timeoutMs: svc.wake.timeoutMs } } : {};
}
