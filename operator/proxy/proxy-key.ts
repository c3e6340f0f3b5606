/** Pure helpers of the embedded proxy: hash-key parsing and extraction, upstream address parsing. */
import type { IncomingHttpHeaders } from 'node:http';
import { BerthError } from '../model/errors.ts';
import type { HashKey } from '../model/manifest.ts';

/** The parts of a request a hash key can be read from. */
export interface KeySource {
  clientIp?: string;
  headers?: IncomingHttpHeaders;
  url?: string;
}

/** A parsed upstream address. */
export interface HostPort {
  host: string;
  port: number;
}

/** True when the key needs the HTTP request (header, cookie, path), so a TCP listener cannot use it. */
export function needsHttp(hashKey: HashKey | undefined): boolean {
  return hashKey !== undefined && hashKey !== 'client-ip';
}

/** Checks a hash key's shape; throws BerthError E_CONFIG for an unknown kind or an empty header/cookie name. */
export function validateHashKey(hashKey: string | undefined): void {
  if (hashKey === undefined || hashKey === 'client-ip' || hashKey === 'path') return;
  const m = /^(header|cookie):(.+)$/.exec(hashKey);
  if (m && /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(m[2]!)) return;
  throw new BerthError('E_CONFIG', `hashKey must be client-ip, path, header:<name> or cookie:<name>, got ${JSON.stringify(hashKey)}`);
}

/** The value a request hashes on, or undefined when the request lacks it (the balancer then falls back to round-robin). */
export function extractKey(hashKey: HashKey | undefined, src: KeySource): string | undefined {
  if (hashKey === undefined) return undefined;
  if (hashKey === 'client-ip') return src.clientIp;
  if (hashKey === 'path') return src.url === undefined ? undefined : src.url.split('?', 1)[0];
  if (hashKey.startsWith('header:')) return headerValue(src.headers, hashKey.slice(7).toLowerCase());
  return cookieValue(headerValue(src.headers, 'cookie'), hashKey.slice(7));
}

function headerValue(headers: IncomingHttpHeaders | undefined, name: string): string | undefined {
  const v = headers?.[name];
  if (v === undefined) return undefined;
  return Array.isArray(v) ? v.join(', ') : v;
}

/** The value of cookie `name` in a Cookie header, or undefined. */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** Parses "host:port" or "[v6]:port"; throws BerthError E_CONFIG when the port is missing or out of range. */
export function parseAddress(address: string): HostPort {
  const colon = address.lastIndexOf(':');
  const port = Number(address.slice(colon + 1));
  let host = colon > 0 ? address.slice(0, colon) : '';
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  if (!host || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new BerthError('E_CONFIG', `endpoint address must be host:port, got ${JSON.stringify(address)}`);
  }
  return { host, port };
}
