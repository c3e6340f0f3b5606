/**
 * Least-connections: the endpoint with the fewest in-flight connections per unit of weight (in-flight/weight,
 * compared exactly by cross-multiplication), ties broken in round-robin order — the scan starts after the last
 * pick and the first minimum wins, so with no connections open it is plain round-robin. Connections are counted
 * through acquire/release. O(endpoints) per pick, like nginx's least_conn.
 */
import { indexById, normalizeEndpoints } from './endpoints.ts';
import type { Balancer, Endpoint, PickContext } from './types.ts';

export class LeastConnectionsBalancer implements Balancer {
  private endpoints: Endpoint[] = [];
  private byId = new Map<string, number>();
  /** Weights and in-flight connections, by endpoint index (typed arrays: the pick loop touches nothing else). */
  private weights = new Float64Array(0);
  private inFlight = new Float64Array(0);
  /** Index the next scan starts at. */
  private next = 0;

  constructor(endpoints: readonly Endpoint[]) {
    this.update(endpoints);
  }

  /** Picks the least-loaded endpoint (in-flight/weight) that is not excluded; the key, if any, is ignored. */
  pick(_ctx?: PickContext, exclude?: ReadonlySet<string>): Endpoint | undefined {
    const { endpoints, weights, inFlight } = this;
    const n = weights.length;
    let best = -1;
    let bestLoad = 0;
    let bestWeight = 1;
    for (let step = 0, i = this.next; step < n; step++, i = i + 1 === n ? 0 : i + 1) {
      if (exclude !== undefined && exclude.has(endpoints[i]!.id)) continue;
      const load = inFlight[i]!;
      const weight = weights[i]!;
      // load/weight < bestLoad/bestWeight, exactly, in integers.
      if (best >= 0 && load * bestWeight >= bestLoad * weight) continue;
      best = i;
      bestLoad = load;
      bestWeight = weight;
    }
    if (best < 0) return undefined;
    this.next = best + 1 === n ? 0 : best + 1;
    return endpoints[best];
  }

  /** Replaces the endpoints; those that stay keep their in-flight count, and the rotation keeps its place. */
  update(endpoints: readonly Endpoint[]): void {
    const due = this.endpoints[this.next]?.id;
    const counts = new Map<string, number>();
    this.endpoints.forEach((e, i) => counts.set(e.id, this.inFlight[i] ?? 0));
    this.endpoints = normalizeEndpoints(endpoints);
    this.byId = indexById(this.endpoints);
    this.weights = Float64Array.from(this.endpoints, (e) => e.weight);
    this.inFlight = Float64Array.from(this.endpoints, (e) => counts.get(e.id) ?? 0);
    const at = due === undefined ? undefined : this.byId.get(due);
    const n = this.endpoints.length;
    this.next = at ?? (n === 0 ? 0 : this.next % n);
  }

  /** Counts a connection opened to `id`; unknown ids (already removed) are ignored. */
  acquire(id: string): void {
    const i = this.byId.get(id);
    if (i === undefined) return;
    this.inFlight[i] = this.inFlight[i]! + 1;
  }

  /** Counts a connection to `id` closed; never goes below 0, unknown ids are ignored. */
  release(id: string): void {
    const i = this.byId.get(id);
    if (i === undefined) return;
    this.inFlight[i] = Math.max(0, this.inFlight[i]! - 1);
  }

  /** In-flight connections of `id` (0 when unknown). */
  load(id: string): number {
    const i = this.byId.get(id);
    return i === undefined ? 0 : this.inFlight[i]!;
  }
}
