/**
 * GET /v1/series?service=<ns>/<name>[&since=15m]: the short history of one Service's metrics (metrics/series.ts),
 * columnar as uPlot takes it: `{ service, stepMs, t, rps, p50, p95, cpu, memory }`, t in unix seconds, null where
 * there is no data. Needs `read metrics`. 404 for a service neither the sampler nor the revision in force knows (one not sampled yet has no points), 400 for a bad
 * parameter.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { parseDuration } from '../manifests/quantity.ts';
import type { SeriesColumns } from '../metrics/series.ts';
import { send } from '../registry/http-util.ts';

export interface SeriesDeps {
  series(service: string, sinceMs?: number): SeriesColumns | undefined;
  /** A Service of the revision in force the sampler has not sampled yet: its answer is no points, not a 404. */
  known?(service: string): boolean;
  stepMs?: number;
}

/** Longest `since` taken; longer asks for everything kept (1 h). */
const MAX_SINCE_MS = 24 * 3_600_000;
const SERVICE_RE = /^[a-z0-9]([-a-z0-9.]{0,252}[a-z0-9])?\/[a-z0-9]([-a-z0-9.]{0,252}[a-z0-9])?$/i;

export function seriesRoute(deps: SeriesDeps): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  return async (req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, { error: 'use GET' });
    const params = new URL(req.url ?? '/', 'http://berth').searchParams;
    const service = params.get('service');
    if (!service || params.getAll('service').length > 1 || !SERVICE_RE.test(service)) return send(res, 400, { error: 'service: one <namespace>/<name>' });
    const rawSince = params.get('since');
    let sinceMs: number | undefined;
    if (rawSince !== null) {
      try {
        sinceMs = parseDuration(rawSince);
      } catch {
        sinceMs = NaN;
      }
      if (!Number.isFinite(sinceMs) || sinceMs <= 0 || sinceMs > MAX_SINCE_MS) return send(res, 400, { error: 'since: a positive duration up to 24h (e.g. 15m, 1h)' });
    }
    const columns = deps.series(service, sinceMs);
    if (!columns && deps.known?.(service)) return send(res, 200, { service, stepMs: deps.stepMs ?? 0, t: [], rps: [], p50: [], p95: [], cpu: [], memory: [] } satisfies SeriesColumns);
    if (!columns) return send(res, 404, { error: `no series for service ${service}` });
    send(res, 200, columns);
  };
}
