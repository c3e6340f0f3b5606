/**
 * Access statistics of the proxy listeners (HTTP mode, Routes, TCP mode): per (listener, service) a handful of
 * preallocated counters (answers by code class and source, a fixed-bucket duration histogram, body bytes, in-flight,
 * TCP connections, requests per upstream endpoint), updated with a few additions per request and never logged. The
 * snapshot is plain JSON of counters and cumulative buckets only, so snapshots of several proxy processes can be
 * summed field by field. Process-wide: every listener of the process records into the same table, keyed by listener
 * address, so a listener reopened on the same address continues its counters.
 */

/** Upper bounds (seconds) of the duration histogram's buckets, Prometheus `le` style; +Inf is implicit. */
export const DURATION_BUCKETS_S: readonly number[] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const BUCKETS_MS = DURATION_BUCKETS_S.map((s) => s * 1000);

/** Code classes, by index: a request whose client left before any answer, then 1xx..5xx. */
export const CODE_CLASSES = ['aborted', '1xx', '2xx', '3xx', '4xx', '5xx'] as const;
export type CodeClass = (typeof CODE_CLASSES)[number];

/** Who wrote the answer: the upstream, or the proxy itself (404 no route, 413, 502 no upstream, 503 no endpoints). */
export type AnswerSource = 'upstream' | 'proxy';

/** Distinct endpoints counted per service; more (a long churn of replicas) are counted under OTHER_ENDPOINT. */
export const MAX_ENDPOINTS = 256;
export const OTHER_ENDPOINT = 'other';

/** Counters of one (listener, service); `service` is '' for a router's answers given before a service was chosen (404, 503, 413). */
export class ServiceAccess {
  inFlight = 0;
  /** Connections or requests held now while the service wakes (wake.ts); in the snapshot once `wakes` is set. */
  held = 0;
  /** The service may be held for (a listener has a wake queue for it): the snapshot shows `held`. */
  wakes = false;
  /** TCP mode: accepted client connections. */
  connections = 0;
  /** Answers: index source * 6 + class (source 0 = upstream, 1 = proxy). */
  readonly codes: number[] = new Array<number>(2 * CODE_CLASSES.length).fill(0);
  /** Non-cumulative bucket counts; the last one is +Inf. */
  readonly buckets: number[] = new Array<number>(BUCKETS_MS.length + 1).fill(0);
  durationSum = 0;
  count = 0;
  bytesIn = 0;
  bytesOut = 0;
  readonly endpoints = new Map<string, number>();

  constructor(readonly service: string) {}

  /** One request that has ended (`status` 0: no answer went out), or a TCP connection (`status` -1: not an answer). */
  record(status: number, source: AnswerSource, ms: number, bytesIn: number, bytesOut: number, endpoint: string | undefined): void {
    if (status >= 0) {
      const cls = status === 0 ? 0 : status < 200 ? 1 : status < 300 ? 2 : status < 400 ? 3 : status < 500 ? 4 : 5;
      this.codes[(source === 'proxy' ? CODE_CLASSES.length : 0) + cls]!++;
    }
    let i = 0;
    while (i < BUCKETS_MS.length && ms > BUCKETS_MS[i]!) i++;
    this.buckets[i]!++;
    this.durationSum += ms / 1000;
    this.count++;
    this.bytesIn += bytesIn;
    this.bytesOut += bytesOut;
    if (endpoint !== undefined) {
      const n = this.endpoints.get(endpoint);
      if (n !== undefined) this.endpoints.set(endpoint, n + 1);
      else if (this.endpoints.size < MAX_ENDPOINTS) this.endpoints.set(endpoint, 1);
      else this.endpoints.set(OTHER_ENDPOINT, (this.endpoints.get(OTHER_ENDPOINT) ?? 0) + 1);
    }
  }
}

/** The services of one listener. */
export class ListenerAccess {
  private readonly services = new Map<string, ServiceAccess>();

  constructor(readonly listener: string, readonly mode: 'tcp' | 'http') {}

  /** The counters of `service`, created on first use (router updates resolve them once, not per request). */
  service(service: string): ServiceAccess {
    let s = this.services.get(service);
    if (!s) this.services.set(service, (s = new ServiceAccess(service)));
    return s;
  }

  all(): IterableIterator<ServiceAccess> {
    return this.services.values();
  }
}

/** One (listener, service) in a snapshot. Every number is a counter or a gauge: snapshots add up field by field. */
export interface ServiceAccessSnapshot {
  service: string;
  inFlight: number;
  /** Connections or requests held now while the service wakes from zero; absent = the service has no wake queue. */
  held?: number;
  connections: number;
  /** Answers by "class/source" (e.g. "2xx/upstream", "5xx/proxy"); absent = 0. */
  requests: Record<string, number>;
  /** Cumulative counts aligned with the snapshot's `buckets`, then +Inf (== count). */
  duration: { buckets: number[]; sum: number; count: number };
  bytes: { in: number; out: number };
  /** Requests (or connections) per upstream endpoint address. */
  endpoints: Record<string, number>;
}

export interface AccessSnapshot {
  /** Bucket upper bounds in seconds (without +Inf). */
  buckets: readonly number[];
  listeners: { listener: string; mode: 'tcp' | 'http'; services: ServiceAccessSnapshot[] }[];
}

/** Every listener's access counters in a process. */
export class AccessTable {
  /** False turns recording off for listeners opened afterwards (the bench's baseline). */
  enabled = process.env.BERTH_ACCESS_STATS !== '0';
  private readonly listeners = new Map<string, ListenerAccess>();

  /** The counters of a listener (by address), or undefined while recording is off. */
  listener(listener: string, mode: 'tcp' | 'http'): ListenerAccess | undefined {
    if (!this.enabled) return undefined;
    const key = `${mode} ${listener}`;
    let l = this.listeners.get(key);
    if (!l) this.listeners.set(key, (l = new ListenerAccess(listener, mode)));
    return l;
  }

  snapshot(): AccessSnapshot {
    const listeners = [...this.listeners.values()].map((l) => ({ listener: l.listener, mode: l.mode, services: [...l.all()].map(serviceSnapshot) }));
    return { buckets: DURATION_BUCKETS_S, listeners };
  }

  /** Forgets everything (tests). */
  clear(): void {
    this.listeners.clear();
  }
}

function serviceSnapshot(s: ServiceAccess): ServiceAccessSnapshot {
  const requests: Record<string, number> = {};
  for (let i = 0; i < s.codes.length; i++) {
    const n = s.codes[i]!;
    if (n) requests[`${CODE_CLASSES[i % CODE_CLASSES.length]}/${i < CODE_CLASSES.length ? 'upstream' : 'proxy'}`] = n;
  }
  let cumulative = 0;
  const buckets = s.buckets.map((n) => (cumulative += n));
  const out: ServiceAccessSnapshot = {
    service: s.service, inFlight: s.inFlight, connections: s.connections, requests,
    duration: { buckets, sum: s.durationSum, count: s.count }, bytes: { in: s.bytesIn, out: s.bytesOut }, endpoints: Object.fromEntries(s.endpoints),
  };
  if (s.wakes) out.held = s.held;
  return out;
}

/** The table of this process (one per proxy process; several processes' snapshots are summed by the operator). */
export const accessTable = new AccessTable();

/** The JSON the proxy control server answers `GET /metrics` with. */
export function accessSnapshot(): AccessSnapshot {
  return accessTable.snapshot();
}
