/**
 * Draining a replica before its container stops (replace, scale-down, prune, liveness replacement): its endpoint leaves
 * the load balancers first (not ready in the registry, so the proxies stop picking it), then the stop waits until the
 * connections and requests the proxies have open to it are finished, at most `timeoutMs`. This is what makes a rolling
 * update or a scale-down lose no request through berth's proxies. Readiness changes of a draining replica are ignored.
 */
import type { Registry } from '../registry/registry.ts';
import { upstreamAddress } from './upstreams.ts';

export interface DrainDeps {
  registry: Registry;
  /** Connections/requests the proxies have open to `host:port` (asked of the proxy process). */
  openTo(address: string): number | Promise<number>;
  /**
   * Resolves once the proxies have seen the endpoint leave: they run in another process, so until then a count of 0
   * could be followed by a new connection to the replica about to stop. Default: at once.
   */
  settled?: () => Promise<void>;
  timeoutMs: number;
  /** Poll period while waiting; default 20 ms. */
  pollMs?: number;
  log?: (msg: string, fields?: Record<string, unknown>) => void;
}

export interface Drainer {
  /** Takes container `id` out of the load balancers and waits for its proxied traffic to finish (bounded). */
  drain(id: string): Promise<void>;
  /** True while (and after) `id` was drained: the registry must not mark it ready again. */
  draining(id: string): boolean;
  /** Forgets ids that no longer exist. */
  retain(ids: ReadonlySet<string>): void;
}

export function createDrainer(deps: DrainDeps): Drainer {
  const drained = new Set<string>();
  const pollMs = deps.pollMs ?? 20;
  return {
    async drain(id) {
      drained.add(id);
      const service = deps.registry.serviceOf(id);
      if (!service) return;
      const ep = deps.registry.endpoints(service).find((e) => e.id === id);
      deps.registry.unready(service, id);
      if (!ep) return;
      await deps.settled?.();
      const address = upstreamAddress(ep);
      const started = Date.now();
      const deadline = started + deps.timeoutMs;
      while ((await deps.openTo(address)) > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, pollMs));
      const left = await deps.openTo(address);
      deps.log?.(left > 0 ? 'drain timed out; stopping with connections open' : 'drained', { service, replica: ep.replica ?? ep.id, ms: Date.now() - started, open: left });
    },
    draining: (id) => drained.has(id),
    retain(ids) {
      for (const id of drained) if (!ids.has(id)) drained.delete(id);
    },
  };
}
