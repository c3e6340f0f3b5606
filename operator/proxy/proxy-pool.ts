/**
 * The proxy's view of one set of upstreams: a balancer plus what the balancer does not track — parsed addresses, open
 * connections per upstream (for draining) and, in HTTP mode, the keep-alive connections of each upstream address
 * (upstream-conn.ts). An upstream removed by `update` gets no new picks; its open connections continue, and its free
 * keep-alive connections are closed once they finish.
 * `configure` swaps the algorithm in place (open connections are carried over to the new balancer).
 */
import type { LbAlgorithm } from '../model/manifest.ts';
import { Upstream } from './upstream-conn.ts';
import { createBalancer } from './lb/create-balancer.ts';
import type { Balancer, Endpoint } from './lb/types.ts';
import { parseAddress, type HostPort } from './proxy-key.ts';

/** How a pool picks: the algorithm and its options. */
export interface PoolConfig {
  algorithm: LbAlgorithm;
  /** Bounded-load factor for consistent hashing (>= 1); absent = unbounded. */
  boundedLoad?: number;
}

export class UpstreamPool {
  private balancer: Balancer;
  private config: PoolConfig;
  private endpoints: readonly Endpoint[] = [];
  private readonly addresses = new Map<string, HostPort>();
  /** Addresses of the current endpoints (those that may still be picked). */
  private live = new Set<string>();
  /** Open connections (TCP) or in-flight requests (HTTP) per address, current or draining. */
  private readonly open = new Map<string, number>();
  /** The same per endpoint id, to carry load over to a new balancer on `configure`. */
  private readonly openById = new Map<string, number>();
  private readonly upstreams = new Map<string, Upstream>();

  /**
   * `withAgents`: HTTP mode (keep-alive connections per address). `connectTimeoutMs` bounds their TCP connects.
   * Throws BerthError E_CONFIG for a bad address or balancer option.
   */
  constructor(config: PoolConfig, endpoints: readonly Endpoint[], private readonly withAgents: boolean, private readonly connectTimeoutMs: number) {
    this.config = { ...config };
    this.balancer = createBalancer(config.algorithm, [], { boundedLoad: config.boundedLoad });
    this.update(endpoints);
  }

  /** Picks an endpoint for `key`, skipping `exclude` (ids that just failed); undefined when none is left. */
  pick(key: string | undefined, exclude?: ReadonlySet<string>): Endpoint | undefined {
    return this.balancer.pick(key === undefined ? undefined : { key }, exclude);
  }

  /** Number of current endpoints (the most a request can try). */
  get size(): number {
    return this.endpoints.length;
  }

  /** Host and port of an endpoint picked from this pool. */
  target(ep: Endpoint): HostPort {
    return this.addresses.get(ep.address) ?? parseAddress(ep.address);
  }

  /** Counts a connection opened to `ep` (for least-connections, bounded load and draining). */
  acquire(ep: Endpoint): void {
    this.balancer.acquire(ep.id);
    this.open.set(ep.address, (this.open.get(ep.address) ?? 0) + 1);
    this.openById.set(ep.id, (this.openById.get(ep.id) ?? 0) + 1);
  }

  /** Counts a connection to `ep` closed; the last one to a removed upstream closes its free connections. */
  release(ep: Endpoint): void {
    this.balancer.release(ep.id);
    const byId = (this.openById.get(ep.id) ?? 1) - 1;
    if (byId > 0) this.openById.set(ep.id, byId);
    else this.openById.delete(ep.id);
    const n = (this.open.get(ep.address) ?? 1) - 1;
    if (n > 0) {
      this.open.set(ep.address, n);
      return;
    }
    this.open.delete(ep.address);
    if (!this.live.has(ep.address)) this.retire(ep.address);
  }

  /** Open connections to `address` (current or draining). */
  openTo(address: string): number {
    return this.open.get(address) ?? 0;
  }

  /** Open connections to every upstream of this pool (current or draining). */
  openTotal(): number {
    let n = 0;
    for (const v of this.open.values()) n += v;
    return n;
  }

  /** The keep-alive connections of `ep`'s address (HTTP mode). */
  upstream(ep: Endpoint): Upstream {
    let u = this.upstreams.get(ep.address);
    if (u) return u;
    const { host, port } = this.target(ep);
    u = new Upstream(host, port, this.connectTimeoutMs);
    this.upstreams.set(ep.address, u);
    return u;
  }

  /**
   * Replaces the endpoints. Addresses are checked first (BerthError E_CONFIG), so a bad list changes nothing.
   * Removed upstreams drain: no new picks, open connections continue.
   */
  update(endpoints: readonly Endpoint[]): void {
    const parsed = endpoints.map((e) => [e.address, parseAddress(e.address)] as const);
    this.balancer.update(endpoints);
    this.endpoints = endpoints;
    const previous = this.live;
    this.live = new Set(endpoints.map((e) => e.address));
    for (const [address, hp] of parsed) this.addresses.set(address, hp);
    for (const address of previous) {
      if (!this.live.has(address) && this.openTo(address) === 0) this.retire(address);
    }
  }

  /**
   * Switches algorithm or bounded load; a no-op when both are unchanged. The new balancer starts with the open
   * connections of the old one, so least-connections and bounded load keep counting what is in flight. Throws
   * BerthError E_CONFIG for a bad option (nothing changes then).
   */
  configure(config: PoolConfig): void {
    if (config.algorithm === this.config.algorithm && config.boundedLoad === this.config.boundedLoad) return;
    const balancer = createBalancer(config.algorithm, this.endpoints, { boundedLoad: config.boundedLoad });
    for (const [id, n] of this.openById) for (let i = 0; i < n; i++) balancer.acquire(id);
    this.balancer = balancer;
    this.config = { ...config };
  }

  /** Closes every free keep-alive connection (those in use close with their client connections). */
  close(): void {
    for (const u of this.upstreams.values()) u.close();
    this.upstreams.clear();
  }

  private retire(address: string): void {
    this.addresses.delete(address);
    if (!this.withAgents) return;
    this.upstreams.get(address)?.close();
    this.upstreams.delete(address);
  }
}
