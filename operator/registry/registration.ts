/**
 * What an external endpoint registration may hold (pure): an id of bounded length and charset, an IP address or DNS
 * name, a port, a TTL within a range, and small metadata (Consul's limits on keys and values, and a bound on the
 * whole). With at most `maxExternalPerService` endpoints per service, what clients can make the registry hold is
 * bounded: services x 256 x ~4 KiB.
 */
import net from 'node:net';

export interface RegistrationLimits {
  /** External endpoints one service may have. */
  maxExternalPerService: number;
  /** JSON-serialized metadata, in bytes. */
  maxMetadataBytes: number;
  maxMetadataKeys: number;
  maxMetadataValueLength: number;
  minTtlMs: number;
  maxTtlMs: number;
}

export const DEFAULT_REGISTRATION_LIMITS: RegistrationLimits = {
  maxExternalPerService: 256,
  maxMetadataBytes: 4096,
  maxMetadataKeys: 64,
  maxMetadataValueLength: 512,
  minTtlMs: 1_000,
  maxTtlMs: 24 * 3_600_000,
};

/** Endpoint ids: 1-128 letters, digits, `_`, `.`, `:`, `-`, starting with a letter or digit. */
export const ENDPOINT_ID = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/;
/** Metadata keys: 1-128 letters, digits, `_`, `.`, `/`, `-`, starting with a letter or digit. */
export const METADATA_KEY = /^[A-Za-z0-9][A-Za-z0-9_./-]{0,127}$/;
const DNS_LABEL = /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;

/** What `registrationProblem` checks: an external endpoint's fields. */
export interface RegistrationFields {
  id: string;
  address: string;
  port: number;
  /** Positive integer; default 1. */
  weight?: number;
  metadata?: Record<string, string>;
  /** Heartbeat TTL in ms (> 0). */
  ttlMs: number;
}

/** Why a registration is not acceptable, or undefined when it is. */
export function registrationProblem(reg: RegistrationFields, limits: RegistrationLimits = DEFAULT_REGISTRATION_LIMITS): string | undefined {
  if (typeof reg.id !== 'string' || !ENDPOINT_ID.test(reg.id)) return 'endpoint id must be 1-128 characters of letters, digits, "_", ".", ":", "-"';
  if (typeof reg.address !== 'string' || !isEndpointAddress(reg.address)) return 'address must be an IP address or a DNS name';
  if (!Number.isInteger(reg.port) || reg.port < 1 || reg.port > 65535) return 'port must be an integer in 1..65535';
  if (reg.weight !== undefined && (!Number.isInteger(reg.weight) || reg.weight < 1)) return 'weight must be a positive integer';
  if (!Number.isSafeInteger(reg.ttlMs) || reg.ttlMs < limits.minTtlMs || reg.ttlMs > limits.maxTtlMs) {
    return `ttl must be between ${limits.minTtlMs / 1000}s and ${limits.maxTtlMs / 3_600_000}h`;
  }
  return reg.metadata === undefined ? undefined : metadataProblem(reg.metadata, limits);
}

function metadataProblem(metadata: Record<string, string>, limits: RegistrationLimits): string | undefined {
  if (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata)) return 'metadata must be an object of strings';
  const entries = Object.entries(metadata);
  if (entries.length > limits.maxMetadataKeys) return `metadata may have at most ${limits.maxMetadataKeys} keys`;
  for (const [k, v] of entries) {
    if (!METADATA_KEY.test(k)) return `metadata key "${k.slice(0, 64)}" must be 1-128 letters, digits, "_", ".", "/", "-"`;
    if (typeof v !== 'string') return 'metadata values must be strings';
    if (v.length > limits.maxMetadataValueLength) return `metadata value of "${k}" is longer than ${limits.maxMetadataValueLength} characters`;
  }
  if (Buffer.byteLength(JSON.stringify(metadata)) > limits.maxMetadataBytes) return `metadata larger than ${limits.maxMetadataBytes} bytes`;
  return undefined;
}

/** An IPv4 or IPv6 address other than the unspecified one, or a DNS name (at most 253 characters). */
export function isEndpointAddress(address: string): boolean {
  const ip = net.isIP(address);
  if (ip) return address !== '0.0.0.0' && !/^[0:]+$/.test(address);
  if (address.length === 0 || address.length > 253) return false;
  const labels = address.replace(/\.$/, '').split('.');
  return labels.every((l) => DNS_LABEL.test(l)) && !/^[0-9]+$/.test(labels[labels.length - 1]!);
}
