/**
 * How the CLI talks to a running berth: HTTP or HTTPS (trusting --ca), a bearer token (--token, BERTH_TOKEN, or the
 * cli-token file `berth run` writes into its --state-dir), an optional client certificate; every answer bounded in
 * size and time. Failures are one-line BerthErrors that say what to do; the token never appears in them.
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import { asBerthError, BerthError } from '../model/errors.ts';
import { takeEvents } from '../util/sse.ts';
import type { ClientSettings } from '../settings/settings.ts';

/** The file `berth run` keeps its local admin token in, for the CLI on the same machine and account. */
export const CLI_TOKEN_FILE = 'cli-token';

export interface ApiAnswer {
  status: number;
  body: string;
}

const TIMEOUT_MS = 10_000;

/** The token to send: --token / BERTH_TOKEN, else the state dir's cli-token file, else none. */
export function clientToken(c: Pick<ClientSettings, 'token' | 'stateDir'>): string | undefined {
  if (c.token) return c.token;
  try {
    return readFileSync(path.join(c.stateDir, CLI_TOKEN_FILE), 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

/** One request to the berth at `c.server` (with `body` sent as JSON when given); the answer's body is refused past `limit` bytes. */
export function apiRequest(c: ClientSettings, method: string, route: string, limit = 32 * 1024 * 1024, body?: unknown): Promise<ApiAnswer> {
  let url: URL;
  try {
    url = new URL(route, c.server.endsWith('/') ? c.server : `${c.server}/`);
  } catch {
    return Promise.reject(new BerthError('E_CONFIG', `--server: "${c.server}" is not a URL (e.g. http://127.0.0.1:7070)`));
  }
  const token = clientToken(c);
  const secure = url.protocol === 'https:';
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const options: https.RequestOptions = {
    method, timeout: TIMEOUT_MS,
    headers: { accept: 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}), ...(payload !== undefined ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {}) },
    ...(secure ? { ca: c.ca, ...(c.cert ? { cert: c.cert.cert, key: c.cert.key } : {}) } : {}),
  };
  return new Promise<ApiAnswer>((resolve, reject) => {
    const req = (secure ? https : http).request(url, options, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > limit) {
          req.destroy();
          reject(new BerthError('E_CONFIG', `the answer of ${url.origin}${url.pathname} is larger than ${limit} bytes`));
          return;
        }
        chunks.push(chunk);
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error('no answer within 10 s'), { code: 'ETIMEDOUT' })));
    req.on('error', (e: NodeJS.ErrnoException) => reject(unreachable(c, e)));
    req.end(payload);
  });
}

/** The JSON of a 2xx answer; 401/403 and other answers become a one-line error that says what to do. */
export async function apiJson<T>(c: ClientSettings, method: string, route: string, body?: unknown): Promise<T> {
  const a = await apiRequest(c, method, route, undefined, body);
  const refused = refusal(c, a);
  if (refused) throw refused;
  try {
    return JSON.parse(a.body) as T;
  } catch {
    throw new BerthError('E_CONFIG', `berth at ${c.server} answered something that is not JSON`);
  }
}

/** The error an answer that is not 2xx stands for (none for a 2xx). */
function refusal(c: ClientSettings, a: ApiAnswer): BerthError | undefined {
  // "needs a token" would mislead a caller who sent one: say it was refused (never which one, nor why: the server does not tell)
  if (a.status === 401 && clientToken(c)) return new BerthError('E_CONFIG', `berth at ${c.server} refused the token (unknown, expired or revoked): check BERTH_TOKEN / --token, or the cli-token of --state-dir`);
  if (a.status === 401) return new BerthError('E_CONFIG', `berth at ${c.server} needs a token: set BERTH_TOKEN (berth token create --role viewer --name <you> makes one) or pass --state-dir of the berth you run`);
  if (a.status === 403) return new BerthError('E_CONFIG', `berth at ${c.server} refused: ${errorOf(a.body)}`);
  if (a.status < 200 || a.status >= 300) return new BerthError('E_CONFIG', `berth at ${c.server} answered ${a.status}: ${errorOf(a.body)}`);
  return undefined;
}

/** The most one Server-Sent Event may hold. */
const MAX_EVENT_BYTES = 1024 * 1024;

/**
 * GET `route` as a Server-Sent Events stream: `onEvent` hears each event's type and data until the server ends the
 * stream (or the process is interrupted). An answer that is not a stream is an error like apiJson's. The headers must
 * come within 10 s; the stream itself has no deadline. An event larger than 1 MiB ends it with an error.
 */
export function apiStream(c: ClientSettings, route: string, onEvent: (type: string, data: string) => void): Promise<void> {
  const url = new URL(route, c.server.endsWith('/') ? c.server : `${c.server}/`);
  const token = clientToken(c);
  const secure = url.protocol === 'https:';
  const options: https.RequestOptions = {
    method: 'GET',
    headers: { accept: 'text/event-stream', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    ...(secure ? { ca: c.ca, ...(c.cert ? { cert: c.cert.cert, key: c.cert.key } : {}) } : {}),
  };
  return new Promise<void>((resolve, reject) => {
    const req = (secure ? https : http).request(url, options, (res) => {
      clearTimeout(headers);
      if (!(res.headers['content-type'] ?? '').startsWith('text/event-stream')) {
        const chunks: Buffer[] = [];
        res.on('data', (d: Buffer) => { if (chunks.length < 64) chunks.push(d); });
        res.on('end', () => reject(refusal(c, { status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }) ?? new BerthError('E_CONFIG', `berth at ${c.server} answered no event stream`)));
        return;
      }
      let buffer = '';
      res.setEncoding('utf8');
      res.on('data', (text: string) => {
        const taken = takeEvents(buffer + text);
        buffer = taken.rest;
        for (const e of taken.events) onEvent(e.type, e.data);
        if (buffer.length > MAX_EVENT_BYTES) {
          req.destroy();
          reject(new BerthError('E_CONFIG', `an event of ${url.pathname} is larger than ${MAX_EVENT_BYTES} bytes`));
        }
      });
      res.on('end', () => resolve());
      res.on('error', reject);
    });
    const headers = setTimeout(() => req.destroy(Object.assign(new Error('no answer within 10 s'), { code: 'ETIMEDOUT' })), TIMEOUT_MS);
    req.on('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(headers);
      reject(unreachable(c, e));
    });
    req.end();
  });
}

/** A failed client command's one line and exit code: 3 when berth could not be reached (as berth status), else 1. */
export function clientFailure(err: unknown): { line: string; exit: number } {
  const message = asBerthError(err, 'E_CONFIG').message.split('\n')[0]!;
  return { line: `berth: ${message}`, exit: message.startsWith('cannot reach ') ? 3 : 1 };
}

/** A request that got no answer: says what to check (run-job and logs tell it apart by its first words). */
function unreachable(c: ClientSettings, e: NodeJS.ErrnoException): BerthError {
  const why = e.code === 'ECONNREFUSED' ? 'nothing listens there' : e.code ?? e.message.split('\n')[0];
  return new BerthError('E_CONFIG', `cannot reach berth at ${c.server} (${why}): is \`berth run\` (or npm start) running? --server names another address`);
}

function errorOf(body: string): string {
  try {
    const e = (JSON.parse(body) as { error?: unknown }).error;
    if (typeof e === 'string') return e.slice(0, 200);
  } catch {
    // not JSON
  }
  return body.slice(0, 200);
}
