/** Plain round-robin: endpoints in list order, weights ignored, excluded ids skipped. */
import { normalizeEndpoints } from './endpoints.ts';
import type { Balancer, Endpoint, PickContext } from './types.ts';

export class RoundRobinBalancer implements Balancer {
  private endpoints: Endpoint[] = [];
  /** Index the next scan starts at. */
  private next = 0;

  constructor(endpoints: readonly Endpoint[]) {
    this.update(endpoints);
  }

  /** Picks the next endpoint in order that is not excluded; the key, if any, is ignored. */
  pick(_ctx?: PickContext, exclude?: ReadonlySet<string>): Endpoint | undefined {
    const n = this.endpoints.length;
    for (let step = 0; step < n; step++) {
      const i = (this.next + step) % n;
      const e = this.endpoints[i]!;
      if (exclude?.has(e.id)) continue;
      this.next = (i + 1) % n;
      return e;
    }
    return undefined;
  }

  /** Replaces the endpoints; the rotation continues after the endpoint that was due next, when it is still there. */
  update(endpoints: readonly Endpoint[]): void {
    const due = this.endpoints[this.next]?.id;
    this.endpoints = normalizeEndpoints(endpoints);
    const at = due === undefined ? -1 : this.endpoints.findIndex((e) => e.id === due);
    const n = this.endpoints.length;
    this.next = at >= 0 ? at : n === 0 ? 0 : this.next % n;
  }

  /** No-op: round-robin does not track connections. */
  acquire(_id: string): void {}

  /** No-op: round-robin does not track connections. */
  release(_id: string): void {}
}
