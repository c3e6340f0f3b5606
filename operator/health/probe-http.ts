/** HTTP(S) and TCP probe checks against a replica's address, over shared keep-alive agents. */
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import type { ProbeSpec } from '../model/manifest.ts';
import type { CheckResult } from './probes.ts';

/** Keep-alive agents shared by the http probes of one operator (pass them in ProbeDeps; see createProbeAgents). */
export interface ProbeAgents {
  http: http.Agent;
  /** Accepts self-signed certificates, like Kubernetes' https probes. */
  https: https.Agent;
  /** Closes every pooled connection. */
  destroy(): void;
}

/** Options of createProbeAgents. */
export interface ProbeAgentOptions {
  /**
   * A pooled connection idle this long is closed (default 4000 ms: below common server keep-alive timeouts such as
   * Node's 5 s, so the server rarely closes one under a probe; a server's `Keep-Alive: timeout=N` hint also applies).
   */
  idleMs?: number;
}

/** Bytes of a response body read (and discarded) to keep its connection reusable; a longer body closes the connection. */
export const MAX_DRAINED_BODY = 64 * 1024;

/** Creates keep-alive agents for http probes: probing many replicas every second reuses connections instead of opening new ones. */
export function createProbeAgents(opts: ProbeAgentOptions = {}): ProbeAgents {
  const common = { keepAlive: true, timeout: opts.idleMs ?? 4000, scheduling: 'lifo' as const };
  const agents = { http: new http.Agent(common), https: new https.Agent({ ...common, rejectUnauthorized: false }) };
  return { ...agents, destroy: () => { agents.http.destroy(); agents.https.destroy(); } };
}

type HttpSpec = NonNullable<ProbeSpec['http']>;

type Attempt = { kind: 'response'; status: number } | { kind: 'timeout' } | { kind: 'error'; message: string; reused: boolean };

/**
 * GET `scheme://address:port/path` within `timeoutMs` (the whole request). Passes on a status in expectStatus, or
 * 200-399 without one. A failure on a pooled connection (its peer went away) is retried once on a fresh connection
 * within the same deadline, so a closed port shows as 'connect ECONNREFUSED ...' on the next probe.
 */
export async function httpCheck(spec: HttpSpec, address: string, timeoutMs: number, agents: ProbeAgents | undefined): Promise<CheckResult> {
  const deadline = Date.now() + timeoutMs;
  const agent = agents ? (spec.scheme === 'https' ? agents.https : agents.http) : false;
  let attempt = await request(spec, address, timeoutMs, agent);
  if (attempt.kind === 'error' && attempt.reused && deadline - Date.now() > 0) {
    attempt = await request(spec, address, deadline - Date.now(), false);
  }
  switch (attempt.kind) {
    case 'timeout': return { ok: false, message: `timeout after ${timeoutMs} ms` };
    case 'error': return { ok: false, message: attempt.message };
    default: return { ok: statusPasses(spec, attempt.status), message: `HTTP ${attempt.status}` };
  }
}

function statusPasses(spec: HttpSpec, status: number): boolean {
  if (spec.expectStatus && spec.expectStatus.length > 0) return spec.expectStatus.includes(status);
  return status >= 200 && status <= 399;
}

/** One GET; settles on the response head. The body is drained in the background (bounded) so the connection can be reused. */
function request(spec: HttpSpec, address: string, timeoutMs: number, agent: http.Agent | false): Promise<Attempt> {
  return new Promise((resolve) => {
    let settled = false;
    const settle = (a: Attempt): void => {
      if (settled) return;
      settled = true;
      resolve(a);
    };
    const client = spec.scheme === 'https' ? https : http;
    const req = client.request({
      host: address, port: spec.port, path: spec.path.startsWith('/') ? spec.path : `/${spec.path}`, method: 'GET', agent,
      headers: { 'user-agent': 'berth-probe', accept: '*/*', ...spec.headers }, rejectUnauthorized: false,
      // Only the status matters: accept what lenient clients (Go's, so Kubernetes' probes) accept, e.g. LF-only lines.
      insecureHTTPParser: true,
    });
    // Bounds the whole exchange, body included: a stalled body cannot hold the connection forever.
    const timer = setTimeout(() => { settle({ kind: 'timeout' }); req.destroy(); }, Math.max(1, timeoutMs));
    req.on('error', (err) => { clearTimeout(timer); settle({ kind: 'error', message: errorMessage(err), reused: req.reusedSocket }); });
    req.on('response', (res) => {
      settle({ kind: 'response', status: res.statusCode ?? 0 });
      drain(res, req, timer);
    });
    req.end();
  });
}

/** Reads and discards up to MAX_DRAINED_BODY bytes; a longer body destroys the connection instead. */
function drain(res: http.IncomingMessage, req: http.ClientRequest, timer: NodeJS.Timeout): void {
  let bytes = 0;
  const done = (): void => clearTimeout(timer);
  res.on('error', done);
  res.on('end', done);
  res.on('close', done);
  res.on('data', (chunk: Buffer) => {
    bytes += chunk.length;
    if (bytes > MAX_DRAINED_BODY) req.destroy();
  });
}

/** Connects to address:port within `timeoutMs`; passes once the connection is established (then closes it). */
export function tcpCheck(address: string, port: number, timeoutMs: number): Promise<CheckResult> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: address, port });
    const done = (r: CheckResult): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(r);
    };
    const timer = setTimeout(() => done({ ok: false, message: `timeout after ${timeoutMs} ms` }), Math.max(1, timeoutMs));
    socket.once('connect', () => done({ ok: true, message: `TCP ${port} open` }));
    socket.on('error', (err) => done({ ok: false, message: errorMessage(err) }));
  });
}

function errorMessage(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return text.split('\n')[0] ?? text;
}
