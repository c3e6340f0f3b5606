/**
 * The operator's side of the proxy's access counters (operator/proxy/access-stats.ts): fetched from the proxy
 * process's control socket (`GET /metrics`) when berth's /metrics is scraped, within ACCESS_FETCH_TIMEOUT_MS, and
 * rendered as Prometheus text. A proxy process that does not answer in time (or answers something else) renders
 * nothing: a scrape never fails or waits on the data plane. Snapshots of several proxy processes add up
 * (`mergeAccess`), so one process or many render the same series.
 */
import fs from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import type { AccessSnapshot, ServiceAccessSnapshot } from '../proxy/access-stats.ts';
import { controlRequest } from './control-client.ts';

/** A scrape waits at most this long for the proxy process. */
export const ACCESS_FETCH_TIMEOUT_MS = 1_000;

/** The control socket and key file of a proxy process (a Dataplane's `paths`). */
export interface AccessSource {
  socket: string;
  key: string;
}

/** The exposition text of the proxy's access counters, '' when the proxy process does not answer within the bound. */
export function accessMetrics(sources: readonly AccessSource[], timeoutMs = ACCESS_FETCH_TIMEOUT_MS): () => Promise<string> {
  return async () => {
    const snapshots = await Promise.all(sources.map((s) => fetchAccess(s, timeoutMs)));
    const got = snapshots.filter((s): s is AccessSnapshot => s !== undefined);
    return got.length ? renderAccessMetrics(mergeAccess(got)) : '';
  };
}

/** One proxy process's snapshot, or undefined (no answer in time, no key yet, not a snapshot). */
export async function fetchAccess(source: AccessSource, timeoutMs = ACCESS_FETCH_TIMEOUT_MS): Promise<AccessSnapshot | undefined> {
  // the request has its own timeout; this one also bounds reading the key file
  const stop = new AbortController();
  const deadline = sleep(timeoutMs, undefined, { signal: stop.signal }).catch(() => undefined);
  const fetched = (async () => {
    const key = (await fs.readFile(source.key, 'utf8')).trim();
    const r = await controlRequest({ socket: source.socket, key }, 'GET', '/metrics', undefined, timeoutMs);
    return r.status === 200 && isSnapshot(r.body) ? r.body : undefined;
  })().catch(() => undefined);
  try {
    return await Promise.race([fetched, deadline]);
  } finally {
    stop.abort();
  }
}

function isSnapshot(v: unknown): v is AccessSnapshot {
  const s = v as AccessSnapshot | null;
  return typeof s === 'object' && s !== null && Array.isArray(s.buckets) && Array.isArray(s.listeners);
}

/** Sums snapshots (of several proxy processes) per (listener, service); bucket bounds are the same everywhere. */
export function mergeAccess(snapshots: readonly AccessSnapshot[]): AccessSnapshot {
  const byKey = new Map<string, { listener: string; mode: 'tcp' | 'http'; services: Map<string, ServiceAccessSnapshot> }>();
  for (const snap of snapshots) {
    for (const l of snap.listeners) {
      const key = `${l.mode} ${l.listener}`;
      let into = byKey.get(key);
      if (!into) byKey.set(key, (into = { listener: l.listener, mode: l.mode, services: new Map() }));
      for (const s of l.services) {
        const have = into.services.get(s.service);
        into.services.set(s.service, have ? addService(have, s) : s);
      }
    }
  }
  return {
    buckets: snapshots[0]?.buckets ?? [],
    listeners: [...byKey.values()].map((l) => ({ listener: l.listener, mode: l.mode, services: [...l.services.values()] })),
  };
}

function addService(a: ServiceAccessSnapshot, b: ServiceAccessSnapshot): ServiceAccessSnapshot {
  const out: ServiceAccessSnapshot = {
    service: a.service, inFlight: a.inFlight + b.inFlight, connections: a.connections + b.connections,
    requests: addRecords(a.requests, b.requests),
    duration: { buckets: a.duration.buckets.map((n, i) => n + (b.duration.buckets[i] ?? 0)), sum: a.duration.sum + b.duration.sum, count: a.duration.count + b.duration.count },
    bytes: { in: a.bytes.in + b.bytes.in, out: a.bytes.out + b.bytes.out }, endpoints: addRecords(a.endpoints, b.endpoints),
  };
  if (a.held !== undefined || b.held !== undefined) out.held = (a.held ?? 0) + (b.held ?? 0);
  return out;
}

function addRecords(a: Record<string, number>, b: Record<string, number>): Record<string, number> {
  const out = { ...a };
  for (const [k, n] of Object.entries(b)) out[k] = (out[k] ?? 0) + n;
  return out;
}

const esc = (s: string): string => s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');

/** The exposition text of a (merged) snapshot. */
export function renderAccessMetrics(snap: AccessSnapshot): string {
  const requests: string[] = [];
  const durations: string[] = [];
  const bytes: string[] = [];
  const connections: string[] = [];
  const inFlight: string[] = [];
  const held: string[] = [];
  const endpoints: string[] = [];
  for (const l of snap.listeners) {
    for (const s of l.services) {
      const ls = `listener="${esc(l.listener)}",service="${esc(s.service)}"`;
      inFlight.push(`berth_proxy_in_flight{${ls}} ${s.inFlight}`);
      if (s.held !== undefined) held.push(`berth_proxy_held{${ls}} ${s.held}`);
      for (const [endpoint, n] of Object.entries(s.endpoints)) endpoints.push(`berth_proxy_upstream_requests_total{${ls},endpoint="${esc(endpoint)}"} ${n}`);
      bytes.push(`berth_proxy_bytes_total{${ls},direction="in"} ${s.bytes.in}`, `berth_proxy_bytes_total{${ls},direction="out"} ${s.bytes.out}`);
      if (l.mode === 'tcp') {
        connections.push(`berth_proxy_connections_total{${ls}} ${s.connections}`);
      } else {
        for (const [cs, n] of Object.entries(s.requests)) {
          const [code, source] = cs.split('/');
          requests.push(`berth_proxy_requests_total{${ls},code="${code}",source="${source}"} ${n}`);
        }
      }
      snap.buckets.forEach((le, i) => durations.push(`berth_proxy_request_duration_seconds_bucket{${ls},le="${le}"} ${s.duration.buckets[i] ?? 0}`));
      durations.push(
        `berth_proxy_request_duration_seconds_bucket{${ls},le="+Inf"} ${s.duration.count}`,
        `berth_proxy_request_duration_seconds_sum{${ls}} ${s.duration.sum}`, `berth_proxy_request_duration_seconds_count{${ls}} ${s.duration.count}`,
      );
    }
  }
  const lines = [
    '# HELP berth_proxy_requests_total Proxied HTTP requests (HTTP mode, Routes, upgrades), by code class and who answered.', '# TYPE berth_proxy_requests_total counter',
    ...requests,
    '# HELP berth_proxy_request_duration_seconds Time from a request (TCP mode: a connection) to its end.', '# TYPE berth_proxy_request_duration_seconds histogram',
    ...durations,
    '# HELP berth_proxy_bytes_total Bytes proxied: HTTP bodies, or all bytes of TCP connections and upgraded tunnels.', '# TYPE berth_proxy_bytes_total counter',
    ...bytes,
    '# HELP berth_proxy_connections_total Client connections accepted by TCP-mode listeners.', '# TYPE berth_proxy_connections_total counter',
    ...connections,
    '# HELP berth_proxy_in_flight Requests (TCP mode: connections) open now.', '# TYPE berth_proxy_in_flight gauge',
    ...inFlight,
    '# HELP berth_proxy_held Requests (TCP mode: connections) held while the service wakes from zero replicas.', '# TYPE berth_proxy_held gauge',
    ...held,
    '# HELP berth_proxy_upstream_requests_total Requests (TCP mode: connections) answered by each upstream endpoint.', '# TYPE berth_proxy_upstream_requests_total counter',
    ...endpoints,
  ];
  return lines.join('\n') + '\n';
}
