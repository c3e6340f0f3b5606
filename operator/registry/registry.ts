/**
 * The service registry: for every service (`ns/name`), its endpoints and whether each is ready. Replica
 * endpoints come from the operator's health state (`setReplicas`); external endpoints register themselves with a TTL
 * and keep alive with heartbeats, like Consul's TTL checks. Pure in-memory state with an injected clock; no timers.
 *
 * Versions come from one registry-wide counter, so `version(service)` only ever grows, even when a service is removed
 * and comes back, which is what long polls (`?index=N`) need.
 *
 * External endpoints are accepted only for the services of the applied revision (`setDesired`), at most
 * `maxExternalPerService` each, with bounded ids, metadata and TTLs (registration.ts); nothing is kept of a removed
 * endpoint or service, so what clients make the registry hold stays bounded.
 */
import { BerthError } from '../model/errors.ts';
import { compare, copy, sameEndpoint, sameMaps, type ExternalRegistration, type RegistryEndpoint } from './registry-endpoint.ts';
import { DEFAULT_REGISTRATION_LIMITS, registrationProblem, type RegistrationLimits } from './registration.ts';

export type { ExternalRegistration, RegistryEndpoint } from './registry-endpoint.ts';

export interface RegistryChange {
  service: string;
  version: number;
}

export interface ServiceSummary {
  name: string;
  endpoints: number;
  ready: number;
}

export interface RegistryOptions {
  /** Clock in ms; default Date.now. */
  now?: () => number;
  /**
   * How long an external endpoint stays critical before it is removed, in ms. Default: 10 × its own TTL
   * (a 10 s TTL is critical after 10 s without heartbeat and removed 100 s later).
   */
  deregisterAfterMs?: number;
  /** Called when a subscriber throws; the other subscribers are still notified. Default: ignore. */
  onSubscriberError?: (err: unknown) => void;
  /** Bounds of external registrations; defaults DEFAULT_REGISTRATION_LIMITS. */
  limits?: Partial<RegistrationLimits>;
}

/**
 * A rejected registration: `invalid` input, a `conflict` with a replica endpoint of the same id, an `unknown-service`
 * (not in the applied revision), `not-ready` (no revision applied yet), or the service's `limit` of external endpoints.
 */
export type RegistryErrorCode = 'invalid' | 'conflict' | 'unknown-service' | 'not-ready' | 'limit';

/** A refused registry request (E_REGISTRY); `reason` is the code the API answers with. */
export class RegistryError extends BerthError {
  constructor(readonly reason: RegistryErrorCode, message: string) {
    super('E_REGISTRY', message, { terminal: true });
    this.name = 'RegistryError';
  }
}

interface ServiceEntry {
  replicas: Map<string, RegistryEndpoint>;
  externals: Map<string, RegistryEndpoint>;
}

export class Registry {
  private readonly now: () => number;
  private readonly deregisterAfterMs: number | undefined;
  private readonly onSubscriberError: (err: unknown) => void;
  private readonly entries = new Map<string, ServiceEntry>();
  private readonly versions = new Map<string, number>();
  private readonly subscribers = new Set<(change: RegistryChange) => void>();
  private readonly limits: RegistrationLimits;
  /** Services of the applied revision; null until the first sync. */
  private desired: ReadonlySet<string> | null = null;
  private counter = 0;

  constructor(options: RegistryOptions = {}) {
    this.now = options.now ?? Date.now;
    this.deregisterAfterMs = options.deregisterAfterMs;
    this.onSubscriberError = options.onSubscriberError ?? (() => {});
    this.limits = { ...DEFAULT_REGISTRATION_LIMITS, ...options.limits };
  }

  /** Sets the services of the applied revision: only those accept external endpoints. */
  setDesired(services: Iterable<string>): void {
    this.desired = new Set(services);
  }

  /** Throws RegistryError `not-ready` or `unknown-service` unless `service` may have external endpoints. */
  checkExternalService(service: string): void {
    if (this.desired === null) throw new RegistryError('not-ready', 'no revision is applied yet; retry later');
    if (!this.desired.has(service)) throw new RegistryError('unknown-service', `unknown service ${service}: not in the applied revision`);
  }

  /**
   * Replaces the replica endpoints of `service` (external endpoints are kept). Creates the service if needed; an empty
   * list keeps it known with no replicas. `service` and `source` of the given endpoints are forced to match.
   * Notifies subscribers only if something changed.
   */
  setReplicas(service: string, endpoints: RegistryEndpoint[]): void {
    const existing = this.entries.get(service);
    const next = new Map<string, RegistryEndpoint>();
    for (const e of endpoints) next.set(e.id, copy({ ...e, service, source: 'replica' }));
    const entry = existing ?? { replicas: new Map(), externals: new Map() };
    const changed = !existing || !sameMaps(entry.replicas, next);
    entry.replicas = next;
    this.entries.set(service, entry);
    if (changed) this.bump(service);
  }

  /**
   * Adds or replaces one replica endpoint (a replica that just started or changed readiness during a pass), leaving
   * the others alone. Notifies only if something changed.
   */
  putReplica(endpoint: RegistryEndpoint): void {
    const entry = this.entries.get(endpoint.service);
    const next = copy({ ...endpoint, source: 'replica' });
    const before = entry?.replicas.get(endpoint.id);
    if (entry && before && sameEndpoint(before, next)) return;
    if (entry?.externals.has(endpoint.id)) throw new RegistryError('conflict', `endpoint ${endpoint.id} of ${endpoint.service} is external`);
    const e = entry ?? { replicas: new Map(), externals: new Map() };
    e.replicas.set(endpoint.id, next);
    this.entries.set(endpoint.service, e);
    this.bump(endpoint.service);
  }

  /** Marks replica endpoint `id` of `service` not ready (draining before its container stops). False when unknown. */
  unready(service: string, id: string): boolean {
    const e = this.entries.get(service)?.replicas.get(id);
    if (!e) return false;
    if (e.ready) {
      e.ready = false;
      this.bump(service);
    }
    return true;
  }

  /** The service a replica endpoint `id` belongs to, if the registry has it. */
  serviceOf(id: string): string | undefined {
    for (const [service, entry] of this.entries) if (entry.replicas.has(id)) return service;
    return undefined;
  }

  /** Forgets `service` and all its endpoints. Returns false when it was not known. */
  removeService(service: string): boolean {
    if (!this.entries.delete(service)) return false;
    this.bump(service); // its version entry stays (one number per service name a revision ever had): versions only grow
    return true;
  }

  /**
   * Registers (or re-registers) an external endpoint; it starts `passing` and ready, with its heartbeat clock at now.
   * Throws RegistryError on invalid input, for a service not in the applied revision, when a replica endpoint has the
   * same id, or when the service has its limit of external endpoints.
   */
  register(reg: ExternalRegistration): RegistryEndpoint {
    const problem = registrationProblem(reg, this.limits);
    if (problem) throw new RegistryError('invalid', problem);
    this.checkExternalService(reg.service);
    const entry = this.entries.get(reg.service) ?? { replicas: new Map(), externals: new Map() };
    if (entry.replicas.has(reg.id)) throw new RegistryError('conflict', `endpoint ${reg.id} of ${reg.service} is a replica`);
    if (!entry.externals.has(reg.id) && entry.externals.size >= this.limits.maxExternalPerService) {
      throw new RegistryError('limit', `service ${reg.service} has ${entry.externals.size} external endpoints, the most allowed`);
    }
    const endpoint: RegistryEndpoint = {
      id: reg.id, service: reg.service, node: 'external', address: reg.address, port: reg.port, weight: reg.weight ?? 1,
      ready: true, source: 'external', metadata: { ...(reg.metadata ?? {}) }, ttlMs: reg.ttlMs,
      lastHeartbeat: this.now(), status: 'passing',
    };
    const before = entry.externals.get(reg.id);
    const isNew = !this.entries.has(reg.service);
    entry.externals.set(reg.id, endpoint);
    this.entries.set(reg.service, entry);
    if (isNew || !before || !sameEndpoint(before, endpoint)) this.bump(reg.service);
    return copy(endpoint);
  }

  /** The registrations of every external endpoint, sorted by service and id (what a restart must restore). */
  registrations(): ExternalRegistration[] {
    const out: ExternalRegistration[] = [];
    for (const service of [...this.entries.keys()].sort(compare)) {
      const externals = [...this.entries.get(service)!.externals.values()].sort((a, b) => compare(a.id, b.id));
      for (const e of externals) out.push({ service, id: e.id, address: e.address, port: e.port, weight: e.weight, metadata: { ...e.metadata }, ttlMs: e.ttlMs ?? 0 });
    }
    return out;
  }

  /** Removes an external endpoint. Returns false when there is no external endpoint `id` in `service`. */
  deregister(service: string, id: string): boolean {
    const entry = this.entries.get(service);
    if (!entry?.externals.delete(id)) return false;
    this.bump(service);
    return true;
  }

  /**
   * Records a heartbeat of external endpoint `id`: it is passing and ready again. Returns false when there is no such
   * external endpoint. A heartbeat that changes nothing but `lastHeartbeat` does not notify (as in Consul).
   */
  heartbeat(service: string, id: string): boolean {
    const e = this.entries.get(service)?.externals.get(id);
    if (!e) return false;
    e.lastHeartbeat = this.now();
    if (e.status === 'passing') return true;
    e.status = 'passing';
    e.ready = true;
    this.bump(service);
    return true;
  }

  /**
   * Applies TTL expiry at `now` (default: the clock). An external endpoint whose last heartbeat is more than its TTL
   * ago becomes critical and not ready; more than TTL + deregisterAfterMs ago, it is removed. One notification per
   * changed service.
   */
  tick(now: number = this.now()): void {
    for (const [service, entry] of this.entries) {
      let changed = false;
      for (const [id, e] of entry.externals) {
        const silentFor = now - (e.lastHeartbeat ?? now);
        const ttl = e.ttlMs ?? 0;
        if (silentFor > ttl + (this.deregisterAfterMs ?? 10 * ttl)) {
          entry.externals.delete(id);
          changed = true;
        } else if (silentFor > ttl && e.status !== 'critical') {
          e.status = 'critical';
          e.ready = false;
          changed = true;
        }
      }
      if (changed) this.bump(service);
    }
  }

  /** Every known service with its endpoint and ready counts, sorted by name. */
  services(): ServiceSummary[] {
    return [...this.entries.keys()].sort().map((name) => {
      const all = this.endpoints(name);
      return { name, endpoints: all.length, ready: all.filter((e) => e.ready).length };
    });
  }

  /** True when `service` is known (set by setReplicas or by a registration, and not removed). */
  has(service: string): boolean {
    return this.entries.has(service);
  }

  /** All endpoints of `service` (copies), sorted by id; empty for an unknown service. */
  endpoints(service: string): RegistryEndpoint[] {
    const entry = this.entries.get(service);
    if (!entry) return [];
    return [...entry.replicas.values(), ...entry.externals.values()].map(copy).sort((a, b) => compare(a.id, b.id));
  }

  /** The ready endpoints of `service`, sorted by id. */
  ready(service: string): RegistryEndpoint[] {
    return this.endpoints(service).filter((e) => e.ready);
  }

  /** The version of `service`: grows on every change of its endpoints; 0 when it never existed. */
  version(service: string): number {
    return this.versions.get(service) ?? 0;
  }

  /** What the registry holds: services, endpoints (replica and external), version entries and subscribers. */
  stats(): { services: number; replicas: number; externals: number; versions: number; subscribers: number } {
    let replicas = 0;
    let externals = 0;
    for (const e of this.entries.values()) {
      replicas += e.replicas.size;
      externals += e.externals.size;
    }
    return { services: this.entries.size, replicas, externals, versions: this.versions.size, subscribers: this.subscribers.size };
  }

  /** Calls `fn` after every change of a service's endpoints. Returns the unsubscribe function. */
  subscribe(fn: (change: RegistryChange) => void): () => void {
    this.subscribers.add(fn);
    return () => { this.subscribers.delete(fn); };
  }

  private bump(service: string): void {
    const change = { service, version: ++this.counter };
    this.versions.set(service, change.version);
    for (const fn of [...this.subscribers]) {
      try {
        fn({ ...change });
      } catch (err) {
        this.onSubscriberError(err);
      }
    }
  }
}
