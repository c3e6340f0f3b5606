/**
 * The operator's side of the proxy's access counters (operator/proxy/access-stats.ts): fetched from the proxy
 * process's control socket (`GET /metrics`) when berth's /metrics is scraped, within ACCESS_FETCH_TIMEOUT_MS, and
 * exposed through the operator's prom-client registry (registerAccessMetrics). A proxy process that does not answer in time (or answers something else) renders
 * nothing: a scrape never fails or waits on the data plane. Snapshots of several proxy processes add up
 * (`mergeAccess`), so one process or many render the same series.
 */
import fs from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { Registry } from 'prom-client';
import { DURATION_BUCKETS_S, type AccessSnapshot, type ServiceAccessSnapshot } from '../proxy/access-stats.ts';
import { counterFrom, ExternalHistogram, gaugeFrom, shared } from '../metrics/collect.ts';
import { controlRequest } from './control-client.ts';

/** A scrape waits at most this long for the proxy process. */
export const ACCESS_FETCH_TIMEOUT_MS = 1_000;

/** The control socket and key file of a proxy process (a Dataplane's `paths`). */
export interface AccessSource {
  socket: string;
  key: string;
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

/** A (listener, service) of a snapshot as label values. */
type AccessRow = { l: AccessSnapshot['listeners'][number]; s: ServiceAccessSnapshot; labels: { listener: string; service: string } };

function rows(snap: AccessSnapshot | undefined): AccessRow[] {
  return (snap?.listeners ?? []).flatMap((l) => l.services.map((s) => ({ l, s, labels: { listener: l.listener, service: s.service } })));
}

/**
 * The proxy's access series on `registry`, read from `snapshot()` (once per scrape) when /metrics is scraped; a proxy
 * process that does not answer (undefined) adds no series. Counters and gauges are copied in collect(); the duration
 * histogram's buckets are the proxy's own (ExternalHistogram).
 */
export function registerAccessMetrics(registry: Registry, snapshot: () => Promise<AccessSnapshot | undefined>): void {
  const read = shared(snapshot);
  const each = async <T>(f: (r: AccessRow) => T[]): Promise<T[]> => rows(await read()).flatMap(f);
  type L = 'listener' | 'service';
  counterFrom<L | 'code' | 'source'>({ registry, name: 'berth_proxy_requests_total', help: 'Proxied HTTP requests (HTTP mode, Routes, upgrades), by code class and who answered.', labels: ['listener', 'service', 'code', 'source'] },
    () => each((r) => r.l.mode === 'tcp' ? [] : Object.entries(r.s.requests).map(([cs, n]) => {
      const [code = '', source = ''] = cs.split('/');
      return [{ ...r.labels, code, source }, n] as const;
    })));
  new ExternalHistogram<L>({ registry, name: 'berth_proxy_request_duration_seconds', help: 'Time from a request (TCP mode: a connection) to its end.', labels: ['listener', 'service'], buckets: DURATION_BUCKETS_S },
    async () => {
      const snap = await read();
      return { bounds: snap?.buckets ?? DURATION_BUCKETS_S, rows: rows(snap).map((r) => ({ labels: r.labels, cumulative: r.s.duration.buckets, sum: r.s.duration.sum, count: r.s.duration.count })) };
    });
  counterFrom<L | 'direction'>({ registry, name: 'berth_proxy_bytes_total', help: 'Bytes proxied: HTTP bodies, or all bytes of TCP connections and upgraded tunnels.', labels: ['listener', 'service', 'direction'] },
    () => each((r) => [[{ ...r.labels, direction: 'in' }, r.s.bytes.in] as const, [{ ...r.labels, direction: 'out' }, r.s.bytes.out] as const]));
  counterFrom<L>({ registry, name: 'berth_proxy_connections_total', help: 'Client connections accepted by TCP-mode listeners.', labels: ['listener', 'service'] },
    () => each((r) => r.l.mode === 'tcp' ? [[r.labels, r.s.connections] as const] : []));
  gaugeFrom<L>({ registry, name: 'berth_proxy_in_flight', help: 'Requests (TCP mode: connections) open now.', labels: ['listener', 'service'] },
    () => each((r) => [[r.labels, r.s.inFlight] as const]));
  gaugeFrom<L>({ registry, name: 'berth_proxy_held', help: 'Requests (TCP mode: connections) held while the service wakes from zero replicas.', labels: ['listener', 'service'] },
    () => each((r) => r.s.held === undefined ? [] : [[r.labels, r.s.held] as const]));
  counterFrom<L | 'endpoint'>({ registry, name: 'berth_proxy_upstream_requests_total', help: 'Requests (TCP mode: connections) answered by each upstream endpoint.', labels: ['listener', 'service', 'endpoint'] },
    () => each((r) => Object.entries(r.s.endpoints).map(([endpoint, n]) => [{ ...r.labels, endpoint }, n] as const)));
}

/** The merged snapshot of the proxy processes at `sources`, undefined when none answers within the bound. */
export function accessSnapshot(sources: readonly AccessSource[], timeoutMs = ACCESS_FETCH_TIMEOUT_MS): () => Promise<AccessSnapshot | undefined> {
  return async () => {
    const got = (await Promise.all(sources.map((s) => fetchAccess(s, timeoutMs)))).filter((s): s is AccessSnapshot => s !== undefined);
    return got.length ? mergeAccess(got) : undefined;
  };
}

/** The exposition text of a (merged) snapshot alone (specs, tools). */
export async function renderAccessMetrics(snap: AccessSnapshot): Promise<string> {
  const registry = new Registry();
  registerAccessMetrics(registry, async () => snap);
  return registry.metrics();
}
