/**
 * The traffic limits of `berth run`, from its flags and the process's descriptor limit: one connection budget shared by
 * the API server and every proxy and Route listener (fd-budget.ts), the API server's reserve in it (SSE watchers,
 * blocking queries and room for plain requests such as /healthz, which the proxies cannot take), the body reader of the
 * API routes, the webhook replay cache, and the proxies' idle timeout. The flags are parsed by settings.ts.
 */
import type { TrafficSettings } from '../settings/settings.ts';
import type { RegistryRoutesOptions } from '../registry/api.ts';
import type { Logger } from '../util/log.ts';
import { BodyReader } from '../server/body-reader.ts';
import { ConnectionGuard, type ConnectionRefusal } from '../server/conn-guard.ts';
import { DeliveryCache } from '../server/deliveries.ts';
import { connectionBudget, readNoFileLimit, reservedDescriptors } from '../server/fd-budget.ts';
import type { ServerLimits } from '../server/server.ts';

export interface TrafficLimits {
  guard: ConnectionGuard;
  /** For startServer: the API listener's gate, the body reader, the replay cache, every gate's counters. */
  server: Required<Pick<ServerLimits, 'gate' | 'bodies' | 'deliveries' | 'gates'>>;
  /** For registryRoutes. */
  registry: Pick<RegistryRoutesOptions, 'maxWatchers' | 'maxBlockingQueries' | 'maxStreamsPerClient' | 'bodies'>;
  /** For a ProxyManager in this process (tests, benches); the proxy process of berth run gets its share as flags (dataplane.ts). */
  proxies: { guard: ConnectionGuard; idleTimeoutMs: number };
  /** The numbers in force, for the start-up log line. */
  summary: Record<string, number>;
}

/** A refused connection is logged at most this often per listener (with the count since the last line). */
const REFUSAL_LOG_MS = 10_000;

/** Resolves the limits against the descriptor budget. `noFile`: the soft RLIMIT_NOFILE (read from /proc/self/limits). */
export function trafficLimits(asked: TrafficSettings, log: Logger, noFile: number = readNoFileLimit()): TrafficLimits {
  const budget = connectionBudget(noFile);
  const connections = asked.maxConnections === 'auto' ? budget : asked.maxConnections;
  if (connections > budget) log.warn('--max-connections is above the descriptor budget; using the budget', { asked: connections, budget, noFile, reserved: reservedDescriptors(noFile) });
  const total = Math.min(connections, budget);
  const { watchers, blocking, plain } = apiShare(total, asked.maxWatchers, asked.maxBlockingQueries);
  const guard = new ConnectionGuard({
    maxConnections: total, maxPerClient: Math.min(asked.maxConnectionsPerClient, total), onRefuse: refusalLogger(log),
  });
  const bodies = new BodyReader({ maxBodies: asked.maxRequestBodies, maxBufferedBytes: asked.maxBodyBuffer, timeoutMs: asked.bodyTimeoutMs });
  const perClient = asked.maxStreamsPerClient;
  const idleTimeoutMs = asked.proxyIdleTimeoutMs;
  const limits: TrafficLimits = {
    guard,
    server: { gate: guard.gate('api', { reserve: watchers + blocking + plain }), bodies, deliveries: new DeliveryCache(), gates: () => guard.stats().listeners },
    registry: { maxWatchers: watchers, maxBlockingQueries: blocking, maxStreamsPerClient: perClient, bodies },
    proxies: { guard, idleTimeoutMs },
    summary: {
      noFile, maxConnections: total, maxConnectionsPerClient: guard.options.maxPerClient, apiReserve: watchers + blocking + plain,
      maxWatchers: watchers, maxBlockingQueries: blocking, maxStreamsPerClient: perClient, maxRequestBodies: bodies.limits.maxBodies,
      maxBodyBuffer: bodies.limits.maxBufferedBytes, bodyTimeoutMs: bodies.limits.timeoutMs, proxyIdleTimeoutMs: idleTimeoutMs,
    },
  };
  log.info('traffic limits', limits.summary);
  return limits;
}

/**
 * The API server's share of `total` connections: SSE watchers and blocking queries as asked, scaled down together so
 * that with `plain` connections for everything else (/healthz, /metrics, webhooks) they take at most half.
 */
export function apiShare(total: number, watchers: number, blocking: number): { watchers: number; blocking: number; plain: number } {
  const plain = Math.min(total, Math.max(4, Math.min(64, Math.floor(total / 8))));
  const room = Math.max(0, Math.floor(total / 2) - plain);
  if (watchers + blocking <= room) return { watchers, blocking, plain };
  const scale = room / (watchers + blocking);
  return { watchers: Math.floor(watchers * scale), blocking: Math.floor(blocking * scale), plain };
}

/** A warn line per listener at most every REFUSAL_LOG_MS, with the refusals counted since the previous one. */
function refusalLogger(log: Logger): (listener: string, reason: ConnectionRefusal) => void {
  const last = new Map<string, { at: number; since: number }>();
  return (listener, reason) => {
    const now = Date.now();
    const entry = last.get(listener) ?? { at: -Infinity, since: 0 };
    entry.since++;
    last.set(listener, entry);
    if (now - entry.at < REFUSAL_LOG_MS) return;
    log.warn('connections refused: limit reached', { listener, limit: reason, refused: entry.since });
    entry.at = now;
    entry.since = 0;
  };
}
