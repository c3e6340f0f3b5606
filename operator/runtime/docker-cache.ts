/**
 * Inspect results per container id, kept only while an event subscription of the same instance is connected:
 * an event for an id invalidates it, a disconnect drops everything of the instance. A result read before an
 * invalidation (or a reconnect) that it raced with is never stored.
 */
import type { ObservedContainer } from '../model/state.ts';

interface InstanceCache {
  /** Ids of connected subscriptions. */
  connected: Set<number>;
  /** Bumped on every connect / disconnect that changes whether the cache is live. */
  epoch: number;
  /** Logical clock, bumped on every invalidation. */
  clock: number;
  /** Container id -> clock value of its last invalidation; only needed while an inspect is in flight. */
  invalidatedAt: Map<string, number>;
  inFlight: number;
  entries: Map<string, ObservedContainer>;
}

/** Proof that an inspect started at a given moment; `put` accepts it only if nothing happened to the id since. */
export interface InspectTicket {
  epoch: number;
  clock: number;
}

export class InspectCache {
  private readonly instances = new Map<string, InstanceCache>();

  /** A subscription of `instance` is connected: events from now on reach `invalidate`. */
  connect(instance: string, subscription: number): void {
    const c = this.of(instance);
    if (c.connected.size === 0) this.reset(c);
    c.connected.add(subscription);
  }

  /** A subscription of `instance` lost its stream or was closed. */
  disconnect(instance: string, subscription: number): void {
    const c = this.instances.get(instance);
    if (!c || !c.connected.delete(subscription)) return;
    if (c.connected.size === 0) this.reset(c);
  }

  /** An event arrived for container `id`. */
  invalidate(instance: string, id: string): void {
    const c = this.instances.get(instance);
    if (!c) return;
    c.clock += 1;
    c.entries.delete(id);
    if (c.inFlight > 0) c.invalidatedAt.set(id, c.clock);
  }

  /** Starts one observe pass: returns whether the cache is usable; call `end` when the pass is over. */
  begin(instance: string): boolean {
    const c = this.of(instance);
    c.inFlight += 1;
    return c.connected.size > 0;
  }

  /** Ends an observe pass; forgets containers that are no longer listed. */
  end(instance: string, listed: Set<string> | undefined): void {
    const c = this.of(instance);
    c.inFlight = Math.max(0, c.inFlight - 1);
    if (c.inFlight === 0) c.invalidatedAt.clear();
    if (!listed) return;
    for (const id of c.entries.keys()) if (!listed.has(id)) c.entries.delete(id);
  }

  /** The cached result for `id`, if the cache is live. */
  get(instance: string, id: string): ObservedContainer | undefined {
    const c = this.instances.get(instance);
    if (!c || c.connected.size === 0) return undefined;
    return c.entries.get(id);
  }

  /** Taken right before an inspect is sent; undefined when the cache is not live. */
  ticket(instance: string): InspectTicket | undefined {
    const c = this.instances.get(instance);
    if (!c || c.connected.size === 0) return undefined;
    return { epoch: c.epoch, clock: c.clock };
  }

  /** Stores an inspect result unless the cache went down or `id` was invalidated after `ticket` was taken. */
  put(instance: string, id: string, ticket: InspectTicket | undefined, value: ObservedContainer): void {
    const c = this.instances.get(instance);
    if (!ticket || !c || c.connected.size === 0 || c.epoch !== ticket.epoch) return;
    if ((c.invalidatedAt.get(id) ?? -1) > ticket.clock) return;
    c.entries.set(id, value);
  }

  /** Number of cached entries of `instance` (for tests and benchmarks). */
  size(instance: string): number {
    return this.instances.get(instance)?.entries.size ?? 0;
  }

  private of(instance: string): InstanceCache {
    let c = this.instances.get(instance);
    if (!c) {
      c = { connected: new Set(), epoch: 0, clock: 0, invalidatedAt: new Map(), inFlight: 0, entries: new Map() };
      this.instances.set(instance, c);
    }
    return c;
  }

  private reset(c: InstanceCache): void {
    c.epoch += 1;
    c.entries.clear();
  }
}
