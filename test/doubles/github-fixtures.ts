/**
 * Test helper: a local GitHub API that replays a recorded-style scenario (in the manner of @octokit/fixtures), in
 * order, and records every request it receives. A request that is not the next one expected gets a 400 and is listed
 * by `done()`, which also fails when expected requests were never made.
 *
 * Scenario files live in test/fixtures/github/*.json. Templates in response headers and bodies:
 * `{{baseUrl}}` (this server's root, for Link headers) and `{{now+N}}` (unix seconds N from now, for x-ratelimit-reset).
 */
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isDeepStrictEqual } from 'node:util';

export interface FixtureRequest {
  method: string;
  /** Path with query; query parameters compare in any order. */
  path: string;
  /** Parsed JSON body the request must carry, when given. */
  body?: unknown;
}

export interface FixtureResponse {
  status: number;
  headers?: Record<string, string>;
  /** JSON, or a string sent as-is (then give a content-type header); none for an empty body. */
  body?: unknown;
}

export interface FixtureExchange {
  request: FixtureRequest;
  response: FixtureResponse;
}

export interface GitHubScenario {
  description: string;
  exchanges: FixtureExchange[];
}

export interface RecordedRequest {
  method: string;
  path: string;
  /** Request headers, lower-case, without `authorization`. */
  headers: Record<string, string>;
  /** Whether `authorization` was `token <the expected token>` (or `bearer`). */
  authorized: boolean;
  /** Parsed JSON body, the raw text when not JSON, undefined when empty. */
  body: unknown;
  /** performance.now() when the request arrived. */
  at: number;
}

export interface GitHubFixtures {
  /** Root URL to use as the client's apiUrl, e.g. `http://127.0.0.1:41234`. */
  url: string;
  /** Every request received, in order. */
  requests: RecordedRequest[];
  /** Throws unless every expected request was made, in order, and nothing else. */
  done(): void;
  close(): Promise<void>;
}

const SCENARIO_DIR = new URL('../fixtures/github/', import.meta.url);

/** Reads test/fixtures/github/<name>.json. */
export function loadScenario(name: string): GitHubScenario {
  return JSON.parse(readFileSync(new URL(`${name}.json`, SCENARIO_DIR), 'utf8')) as GitHubScenario;
}

/** Starts the replay server on 127.0.0.1 (a free port). `token` is what requests must authenticate with. */
export async function startGitHubFixtures(scenario: GitHubScenario | FixtureExchange[], opts: { token?: string } = {}): Promise<GitHubFixtures> {
  const exchanges = Array.isArray(scenario) ? scenario : scenario.exchanges;
  const requests: RecordedRequest[] = [];
  const mismatches: string[] = [];
  let next = 0;
  let baseUrl = '';

  const server = createServer(async (req, res) => {
    const recorded = await record(req, opts.token);
    requests.push(recorded);
    const expected = exchanges[next];
    const problem = expected ? mismatch(expected.request, recorded) : 'no more requests expected';
    if (problem) {
      mismatches.push(`request #${requests.length} ${recorded.method} ${recorded.path}: ${problem}`);
      res.writeHead(400, { 'content-type': 'application/json; charset=utf-8' });
      res.end(JSON.stringify({ message: `berth fixture: unexpected request (${problem})`, documentation_url: 'https://docs.github.com/rest' }));
      return;
    }
    next++;
    const { status, headers = {}, body } = expected!.response;
    const out = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), fill(v, baseUrl)]));
    if (body === undefined) { res.writeHead(status, out); res.end(); return; }
    const text = typeof body === 'string' ? fill(body, baseUrl) : fill(JSON.stringify(body), baseUrl);
    if (!out['content-type']) out['content-type'] = 'application/json; charset=utf-8';
    res.writeHead(status, out);
    res.end(text);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    url: baseUrl,
    requests,
    done() {
      const missing = exchanges.slice(next).map((e) => `never received: ${e.request.method} ${e.request.path}`);
      const all = [...mismatches, ...missing];
      if (all.length) throw new Error(`GitHub fixture scenario not met:\n${all.join('\n')}`);
    },
    close: () => new Promise<void>((resolve, reject) => {
      server.closeAllConnections();
      server.close((err) => (err ? reject(err) : resolve()));
    }),
  };
}

async function record(req: IncomingMessage, token: string | undefined): Promise<RecordedRequest> {
  const at = performance.now();
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  const { authorization, ...headers } = req.headers;
  const scheme = /^(?:token|bearer) (.+)$/i.exec(String(authorization ?? ''));
  let body: unknown = undefined;
  if (text) {
    try { body = JSON.parse(text); } catch { body = text; }
  }
  return {
    method: req.method ?? 'GET',
    path: req.url ?? '/',
    headers: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : String(v)])),
    authorized: token !== undefined && scheme?.[1] === token,
    body,
    at,
  };
}

/** Why `actual` is not the request `expected`, or '' when it is. */
function mismatch(expected: FixtureRequest, actual: RecordedRequest): string {
  if (expected.method.toUpperCase() !== actual.method) return `expected ${expected.method} ${expected.path}`;
  const want = new URL(expected.path, 'http://x');
  const got = new URL(actual.path, 'http://x');
  if (want.pathname !== got.pathname || sortedQuery(want) !== sortedQuery(got)) return `expected ${expected.method} ${expected.path}`;
  if (expected.body !== undefined && !isDeepStrictEqual(expected.body, actual.body)) {
    return `body ${JSON.stringify(actual.body)} is not ${JSON.stringify(expected.body)}`;
  }
  return '';
}

function sortedQuery(url: URL): string {
  return [...url.searchParams.entries()].map(([k, v]) => `${k}=${v}`).sort().join('&');
}

function fill(text: string, baseUrl: string): string {
  return text
    .replaceAll('{{baseUrl}}', baseUrl)
    .replace(/\{\{now\+(\d+)\}\}/g, (_, s: string) => String(Math.floor(Date.now() / 1000) + Number(s)));
}
