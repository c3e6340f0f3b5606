/**
 * The proxy's view of its upstreams: a balancer plus what the balancer does not track — parsed addresses, open
 * connections per upstream (for draining) and, in HTTP mode, one keep-alive agent per upstream address. An upstream
 * removed by `update` gets no new picks; its open connections continue, and its agent is destroyed once they finish.
 */
import http from 'node:http';
import { createBalancer, type Algorithm, type Balancer, type Endpoint } from './lb/types.ts';
import { parseAddress, type HostPort } from './proxy-key.ts';

/** Free keep-alive sockets kept per upstream: enough for a busy listener, bounded so a burst does not pin thousands. */
const MAX_FREE_SOCKETS = 256;

export class UpstreamPool {
  private readonly balancer: Balancer;
  private readonly addresses = new Map<string, HostPort>();
  /** Addresses of the current endpoints (those that may still be picked). */
  private live = new Set<string>();
  /** Open connections (TCP) or in-flight requests (HTTP) per address, current or draining. */
  private readonly open = new Map<string, number>();
  private readonly agents = new Map<string, http.Agent>();
  private liveCount = 0;

  constructor(algorithm: Algorithm, endpoints: readonly Endpoint[], private readonly withAgents: boolean) {
    this.balancer = createBalancer(algorithm, []);
    this.update(endpoints);
  }

  /** Picks an endpoint for `key`, skipping `exclude` (ids that just failed); undefined when none is left. */
  pick(key: string | undefined, exclude?: ReadonlySet<string>): Endpoint | undefined {
    return this.balancer.pick(key === undefined ? undefined : { key }, exclude);
  }

  /** Number of current endpoints (the most a request can try). */
  get size(): number {
    return this.liveCount;
  }

  /** Host and port of an endpoint picked from this pool. */
  target(ep: Endpoint): HostPort {
    return this.addresses.get(ep.address) ?? parseAddress(ep.address);
  }

  /** Counts a connection opened to `ep` (for least-connections and draining). */
  acquire(ep: Endpoint): void {
    this.balancer.acquire(ep.id);
    this.open.set(ep.address, (this.open.get(ep.address) ?? 0) + 1);
  }

  /** Counts a connection to `ep` closed; the last one to a removed upstream frees its agent. */
  release(ep: Endpoint): void {
    this.balancer.release(ep.id);
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

  /** The keep-alive agent of `ep`'s address (HTTP mode). */
  agent(ep: Endpoint): http.Agent {
    let agent = this.agents.get(ep.address);
    if (agent) return agent;
    agent = new http.Agent({ keepAlive: true, maxFreeSockets: MAX_FREE_SOCKETS, scheduling: 'lifo' });
    this.agents.set(ep.address, agent);
    return agent;
  }

  /**
   * Replaces the endpoints. Addresses are checked first (BerthError E_CONFIG), so a bad list changes nothing.
   * Removed upstreams drain: no new picks, open connections continue.
   */
  update(endpoints: readonly Endpoint[]): void {
    const parsed = endpoints.map((e) => [e.address, parseAddress(e.address)] as const);
    this.balancer.update(endpoints);
    const previous = this.live;
    this.live = new Set(endpoints.map((e) => e.address));
    this.liveCount = endpoints.length;
    for (const [address, hp] of parsed) this.addresses.set(address, hp);
    for (const address of previous) {
      if (!this.live.has(address) && this.openTo(address) === 0) this.retire(address);
    }
  }

  /** Destroys every agent (and so every idle upstream socket). */
  close(): void {
    for (const agent of this.agents.values()) agent.destroy();
    this.agents.clear();
  }

  private retire(address: string): void {
    this.addresses.delete(address);
    if (!this.withAgents) return;
    this.agents.get(address)?.destroy();
    this.agents.delete(address);
  }
}
