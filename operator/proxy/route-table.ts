/**
 * The Route router's rule table (pure): which rule serves a request's host and path. A rule's host is exact
 * (`shop.example.com`), a wildcard (`*.example.com`: any subdomain, not the bare domain) or absent (any host); its path
 * prefix matches on a segment boundary (`/api` matches /api, /api/ and /api/x, not /apix). The most specific rule wins:
 * exact host, then wildcard (longer suffix first), then any host; within each, the longest prefix; on a full tie the
 * earlier rule. Hosts compare case-insensitively, without port or trailing dot.
 */
import { BerthError } from '../model/errors.ts';

/** One host/path rule with weighted backend services (service keys are "namespace/name"). */
export interface RouterRule {
  /** Exact host or `*.domain`; absent = any host. */
  host?: string;
  /** Starts with "/"; a trailing "/" is ignored ("/api/" is "/api"). */
  pathPrefix: string;
  /** Weights are integers >= 0; 0 = never picked (e.g. a canary switched off). */
  backends: { service: string; weight: number }[];
  /** Where the rule comes from, for logs and error answers (e.g. "shop/canary rule 0"). */
  source?: string;
}

/** A rule ready for matching. */
export interface CompiledRule {
  rule: RouterRule;
  /** Identity across updates: host pattern and normalized prefix. */
  id: string;
  hostKind: 'exact' | 'wildcard' | 'any';
  /** Exact: the host; wildcard: the suffix including its dot (".example.com"); any: "". */
  host: string;
  /** Normalized prefix: "/" or without trailing "/". */
  prefix: string;
}

/** Rules grouped for lookup: exact hosts by name, then wildcards and any-host rules, each in specificity order. */
export interface RouteTable {
  exact: Map<string, CompiledRule[]>;
  wildcard: CompiledRule[];
  any: CompiledRule[];
  /** Every rule, in input order. */
  all: CompiledRule[];
}

/** Compiles and orders `rules`. Throws BerthError E_CONFIG for a bad host pattern, path prefix or weight. */
export function compileRoutes(rules: readonly RouterRule[]): RouteTable {
  const all = rules.map(compileRule);
  const bySpecificity = (a: CompiledRule, b: CompiledRule) => b.host.length - a.host.length || b.prefix.length - a.prefix.length;
  const exact = new Map<string, CompiledRule[]>();
  for (const r of all) if (r.hostKind === 'exact') exact.set(r.host, [...(exact.get(r.host) ?? []), r]);
  for (const list of exact.values()) list.sort(bySpecificity);
  // Array.prototype.sort is stable: on a full tie the earlier rule stays first.
  return {
    exact,
    wildcard: all.filter((r) => r.hostKind === 'wildcard').sort(bySpecificity),
    any: all.filter((r) => r.hostKind === 'any').sort(bySpecificity),
    all,
  };
}

/** The rule serving `hostHeader` (a Host header, port allowed) and `path` (query allowed), or undefined. */
export function matchRoute(table: RouteTable, hostHeader: string | undefined, path: string): CompiledRule | undefined {
  const host = normalizeHost(hostHeader);
  const p = pathOnly(path);
  const exact = host === undefined ? undefined : table.exact.get(host);
  if (exact) {
    for (const r of exact) if (prefixMatches(r.prefix, p)) return r;
  }
  if (host !== undefined) {
    for (const r of table.wildcard) if (host.endsWith(r.host) && prefixMatches(r.prefix, p)) return r;
  }
  for (const r of table.any) if (prefixMatches(r.prefix, p)) return r;
  return undefined;
}

/** True when `path` starts with `prefix` on a segment boundary. */
export function prefixMatches(prefix: string, path: string): boolean {
  if (prefix === '/') return true;
  if (!path.startsWith(prefix)) return false;
  return path.length === prefix.length || path.charCodeAt(prefix.length) === 47; // '/'
}

/** A Host header lowercased, without port and trailing dot; undefined when absent or empty. */
export function normalizeHost(header: string | undefined): string | undefined {
  if (!header) return undefined;
  let h = header.trim().toLowerCase();
  if (h.startsWith('[')) {
    const close = h.indexOf(']');
    h = close > 0 ? h.slice(0, close + 1) : h;
  } else {
    const colon = h.indexOf(':');
    if (colon >= 0) h = h.slice(0, colon);
  }
  if (h.endsWith('.')) h = h.slice(0, -1);
  return h || undefined;
}

function pathOnly(url: string): string {
  const q = url.indexOf('?');
  return q < 0 ? url : url.slice(0, q);
}

function compileRule(rule: RouterRule): CompiledRule {
  const where = rule.source ? ` (${rule.source})` : '';
  if (typeof rule.pathPrefix !== 'string' || !rule.pathPrefix.startsWith('/')) {
    throw new BerthError('E_CONFIG', `route pathPrefix must start with "/", got ${JSON.stringify(rule.pathPrefix)}${where}`);
  }
  for (const b of rule.backends) {
    if (!Number.isInteger(b.weight) || b.weight < 0) {
      throw new BerthError('E_CONFIG', `route backend ${b.service} weight must be an integer >= 0, got ${b.weight}${where}`);
    }
  }
  const prefix = rule.pathPrefix.length > 1 ? rule.pathPrefix.replace(/\/+$/, '') || '/' : '/';
  if (rule.host === undefined || rule.host === '' || rule.host === '*') {
    return { rule, id: `*|${prefix}`, hostKind: 'any', host: '', prefix };
  }
  const pattern = rule.host.trim().toLowerCase().replace(/\.$/, '');
  const wildcard = pattern.startsWith('*.');
  const name = wildcard ? pattern.slice(2) : pattern;
  if (!/^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/.test(name)) {
    throw new BerthError('E_CONFIG', `route host must be a host name or *.domain, got ${JSON.stringify(rule.host)}${where}`);
  }
  return wildcard
    ? { rule, id: `*.${name}|${prefix}`, hostKind: 'wildcard', host: `.${name}`, prefix }
    : { rule, id: `${name}|${prefix}`, hostKind: 'exact', host: name, prefix };
}
