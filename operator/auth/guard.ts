/**
 * The one check every API request passes before its handler: open routes (healthz, the signed webhook) pass; every
 * other needs a principal (a bearer token, or a verified client certificate named by the client policy) whose role
 * allows the route's access (policy.ts). Failed authentications are counted and rate-limited per source address.
 */
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { principalOfCertificate, type ClientRule } from './client-policy.ts';
import { allowed, classify, type Access, type Principal, type RouteOptions } from './policy.ts';
import type { TokenStore } from './tokens.ts';

export type Verdict =
  | { ok: true; principal?: Principal; access?: Access; changesState: boolean }
  | { ok: false; status: 401 | 403 | 429; headers: Record<string, string>; error: string; principal?: Principal; access?: Access; changesState: boolean };

export interface GuardOptions extends RouteOptions {
  tokens: TokenStore;
  /** With --tls-client-ca: which certificate subjects hold which role. */
  clientRules?: readonly ClientRule[];
  /** Failed authentications one address may make per window before it is refused for the rest of it. */
  maxFailures?: number;
  failureWindowMs?: number;
  now?: () => number;
}

const CHALLENGE = 'Bearer realm="berth"';
/** Source addresses whose failures are remembered; the oldest is forgotten beyond. */
const MAX_TRACKED = 10_000;
/** A bearer token is ~60 characters; anything much longer is not one and is not hashed. */
const MAX_AUTHORIZATION = 512;

export interface GuardStats {
  failures: Record<string, number>;
  forbidden: number;
  limited: number;
}

export class Guard {
  private readonly failures = new Map<string, { count: number; since: number }>();
  private readonly stats: GuardStats = { failures: {}, forbidden: 0, limited: 0 };
  private readonly maxFailures: number;
  private readonly windowMs: number;
  private readonly now: () => number;

  constructor(private readonly opts: GuardOptions) {
    this.maxFailures = opts.maxFailures ?? 20;
    this.windowMs = opts.failureWindowMs ?? 60_000;
    this.now = opts.now ?? Date.now;
  }

  async check(req: IncomingMessage, path: string): Promise<Verdict> {
    const route = classify(req.method ?? 'GET', path, this.opts);
    if (route.open) return { ok: true, changesState: false };
    const { access, changesState } = route;
    const source = req.socket.remoteAddress ?? 'unknown';
    const limited = this.lockedOut(source);
    if (limited) {
      this.stats.limited++;
      return { ok: false, status: 429, headers: { 'retry-after': String(limited) }, error: 'too many failed authentications from this address', access, changesState };
    }
    const who = await this.authenticate(req);
    if (!who.ok) {
      // Only a presented credential that fails is a guess; a request without one is refused but not held against its address.
      this.fail(source, who.reason, who.presented);
      return { ok: false, status: 401, headers: { 'www-authenticate': who.presented ? `${CHALLENGE}, error="invalid_token"` : CHALLENGE }, error: 'authentication required', access, changesState };
    }
    if (!who.principal) {
      this.stats.forbidden++;
      return { ok: false, status: 403, headers: {}, error: 'client certificate not named in the client policy', access, changesState };
    }
    if (!allowed(who.principal, access)) {
      this.stats.forbidden++;
      const scope = access.namespace !== undefined ? ` in namespace ${access.namespace}` : '';
      return { ok: false, status: 403, headers: {}, error: `role ${who.principal.role} may not ${access.verb} ${access.resource}${scope}`, principal: who.principal, access, changesState };
    }
    return { ok: true, principal: who.principal, access, changesState };
  }

  /** The counters (/metrics: server/metrics.ts). */
  counters(): GuardStats {
    return { failures: { ...this.stats.failures }, forbidden: this.stats.forbidden, limited: this.stats.limited };
  }

  private async authenticate(req: IncomingMessage): Promise<{ ok: true; principal?: Principal } | { ok: false; reason: string; presented: boolean }> {
    const header = req.headers.authorization;
    if (header !== undefined) {
      if (header.length > MAX_AUTHORIZATION) return { ok: false, reason: 'malformed', presented: true };
      const m = /^Bearer +(\S+)\s*$/i.exec(header);
      if (!m) return { ok: false, reason: 'malformed', presented: true };
      const r = await this.opts.tokens.check(m[1]!, this.now());
      return r.ok ? { ok: true, principal: r.principal } : { ok: false, reason: r.reason, presented: true };
    }
    const socket = req.socket as Partial<TLSSocket>;
    if (this.opts.clientRules && socket.authorized && typeof socket.getPeerCertificate === 'function') {
      const cert = socket.getPeerCertificate();
      if (cert && Object.keys(cert).length) return { ok: true, principal: principalOfCertificate(this.opts.clientRules, cert) };
    }
    return { ok: false, reason: 'missing', presented: false };
  }

  /** Seconds until `source` may try again, or 0. */
  private lockedOut(source: string): number {
    const f = this.failures.get(source);
    if (!f) return 0;
    const left = f.since + this.windowMs - this.now();
    if (left <= 0) {
      this.failures.delete(source);
      return 0;
    }
    return f.count >= this.maxFailures ? Math.ceil(left / 1000) : 0;
  }

  private fail(source: string, reason: string, guess: boolean): void {
    this.stats.failures[reason] = (this.stats.failures[reason] ?? 0) + 1;
    if (!guess) return;
    const f = this.failures.get(source);
    if (f) {
      f.count++;
      return;
    }
    if (this.failures.size >= MAX_TRACKED) this.failures.delete(this.failures.keys().next().value!);
    this.failures.set(source, { count: 1, since: this.now() });
  }
}
