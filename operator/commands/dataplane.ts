/**
 * The data plane of `berth run`: the proxy process of the instance (operator/dataplane/), given the operator's proxy
 * flags, and `GET /v1/proxies` answered from it. The API server and the proxies no longer share one descriptor
 * budget (they are two processes): an explicit --max-connections is split, the proxy process getting what the API
 * server does not reserve, so the two together still hold at most what was asked.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Dataplane } from '../dataplane/remote.ts';
import { send } from '../registry/http-util.ts';
import type { Registry } from '../registry/registry.ts';
import type { RunSettings } from '../settings/settings.ts';
import type { Logger } from '../util/log.ts';
import type { TrafficLimits } from './traffic-limits.ts';

/** The operator's handle on its proxy process (started or attached by `start()`). */
export function dataplaneOf(s: RunSettings, registry: Registry, log: Logger, limits: TrafficLimits): Dataplane {
  const { maxConnections, apiReserve } = limits.summary;
  const settings = {
    proxyHost: s.proxyHost, idleTimeoutMs: s.traffic.proxyIdleTimeoutMs, maxConnectionsPerClient: s.traffic.maxConnectionsPerClient,
    maxConnections: s.traffic.maxConnections === 'auto' ? 'auto' as const : Math.max(1, maxConnections! - apiReserve!),
  };
  const args = ['--proxy-workers', String(s.proxyWorkers), '--log-level', s.log.level, '--log-format', s.log.json ? 'json' : 'text'];
  return new Dataplane({ stateDir: s.stateDir, instance: s.instance, registry, log, settings, args });
}

/** The registry API plus `GET /v1/proxies`: the listeners of the proxy process, and its pid and state. */
export function withProxyRoute(registryApi: (req: IncomingMessage, res: ServerResponse) => Promise<boolean>, dataplane: Dataplane) {
  return async (req: IncomingMessage, res: ServerResponse): Promise<boolean> => {
    if (req.url === '/v1/proxies' && req.method === 'GET') {
      send(res, 200, { proxies: await dataplane.list(), dataplane: dataplane.info() });
      return true;
    }
    return registryApi(req, res);
  };
}
