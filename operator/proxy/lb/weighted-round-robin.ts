/**
 * Smooth weighted round-robin, exactly nginx's ngx_http_upstream_get_peer: on every pick each candidate's
 * current weight grows by its (effective) weight, the largest current weight wins — ties go to the first in list
 * order, as nginx compares with a strict `>` — and the winner's current weight drops by the candidates' total.
 * Weights 5,1,1 give a a b a c a a. Excluded endpoints take no part in the round (nginx's `tried` bitmap).
 *
 * Smoothness (fresh balancer, no exclusions): current weights always sum to 0, so the winner's is >= total/k before
 * the drop and > -total after it; since current = n·w - picks·total, an endpoint of weight w is picked at most
 * ceil(n·w/total) times and more than n·w/total - (k-1) times in the first n picks (k endpoints).
 */
import { normalizeEndpoints } from './endpoints.ts';
import type { Balancer, Endpoint, PickContext } from './types.ts';

export class WeightedRoundRobinBalancer implements Balancer {
  private endpoints: Endpoint[] = [];
  /** Weights and nginx's `current_weight`, by endpoint index (typed arrays: the pick loop touches nothing else). */
  private weights = new Float64Array(0);
  private current = new Float64Array(0);

  constructor(endpoints: readonly Endpoint[]) {
    this.update(endpoints);
  }

  /** Picks by smooth weighted round-robin among the endpoints that are not excluded; the key, if any, is ignored. */
  pick(_ctx?: PickContext, exclude?: ReadonlySet<string>): Endpoint | undefined {
    const { endpoints, weights, current } = this;
    let best = -1;
    let bestCurrent = -Infinity;
    let total = 0;
    for (let i = 0; i < weights.length; i++) {
      if (exclude !== undefined && exclude.has(endpoints[i]!.id)) continue;
      const w = weights[i]!;
      const cw = current[i]! + w;
      current[i] = cw;
      total += w;
      // Strictly greater: on a tie the earlier endpoint stays best, as in nginx.
      if (cw > bestCurrent) {
        best = i;
        bestCurrent = cw;
      }
    }
    if (best < 0) return undefined;
    current[best] = bestCurrent - total;
    return endpoints[best];
  }

  /**
   * Replaces the endpoints. Endpoints that stay keep their current weight, new ones start at 0 (nginx starts every
   * peer at 0 on reload; keeping it means a membership change does not send the next picks to the first in list).
   */
  update(endpoints: readonly Endpoint[]): void {
    const kept = new Map<string, number>();
    this.endpoints.forEach((e, i) => kept.set(e.id, this.current[i] ?? 0));
    this.endpoints = normalizeEndpoints(endpoints);
    this.weights = Float64Array.from(this.endpoints, (e) => e.weight);
    this.current = Float64Array.from(this.endpoints, (e) => kept.get(e.id) ?? 0);
  }

  /** No-op: weighted round-robin does not track connections. */
  acquire(_id: string): void {}

  /** No-op: weighted round-robin does not track connections. */
  release(_id: string): void {}
}
