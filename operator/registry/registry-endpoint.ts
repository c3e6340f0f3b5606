/** The registry's endpoint shape and the comparisons change detection uses (pure). */
import type { RegistrationFields } from './registration.ts';

export interface RegistryEndpoint {
  /** Unique within the service: the replica key for replicas, the caller's id for external endpoints. */
  id: string;
  /** `ns/name`. */
  service: string;
  /** Replica key (`berth.replica` label); replicas only. */
  replica?: string;
  /** Node the replica runs on; `external` for external endpoints. */
  node: string;
  address: string;
  port: number;
  weight: number;
  ready: boolean;
  source: 'replica' | 'external';
  metadata: Record<string, string>;
  /** External only: the TTL of its heartbeat check, in ms. */
  ttlMs?: number;
  /** External only: time (clock ms) of the registration or the last heartbeat. Not part of change detection. */
  lastHeartbeat?: number;
  /** External only: `passing` while heartbeats arrive within the TTL, `critical` after a miss. */
  status?: 'passing' | 'critical';
}

/** What `register` accepts for an external endpoint: the checked fields plus the service it belongs to. */
export interface ExternalRegistration extends RegistrationFields {
  service: string;
}

/** A copy whose metadata is not shared. */
export function copy(e: RegistryEndpoint): RegistryEndpoint {
  return { ...e, metadata: { ...e.metadata } };
}

/** Code-unit order (ids sort the same everywhere). */
export function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Same ids with equal endpoints. */
export function sameMaps(a: Map<string, RegistryEndpoint>, b: Map<string, RegistryEndpoint>): boolean {
  if (a.size !== b.size) return false;
  for (const [id, e] of a) {
    const other = b.get(id);
    if (!other || !sameEndpoint(e, other)) return false;
  }
  return true;
}

/** Equal in everything a consumer acts on; `lastHeartbeat` is bookkeeping and ignored. */
export function sameEndpoint(a: RegistryEndpoint, b: RegistryEndpoint): boolean {
  const keys = ['id', 'service', 'replica', 'node', 'address', 'port', 'weight', 'ready', 'source', 'ttlMs', 'status'] as const;
  if (keys.some((k) => a[k] !== b[k])) return false;
  const ma = Object.entries(a.metadata);
  if (ma.length !== Object.keys(b.metadata).length) return false;
  return ma.every(([k, v]) => b.metadata[k] === v);
}
