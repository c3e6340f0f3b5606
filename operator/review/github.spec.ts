/**
 * The GitHub client against recorded-style scenarios (test/fixtures/github/) replayed by a local server: the exact
 * requests berth makes, the call budget of a plan comment, rate-limit waits, 5xx retries, and that the token only
 * ever travels in the Authorization header.
 */
import { inspect } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { BerthError } from '../model/errors.ts';
import { createLogger } from '../util/log.ts';
import { loadScenario, startGitHubFixtures, type GitHubFixtures } from '../../test/doubles/github-fixtures.ts';
import { commentBody } from './comment.ts';
import { GITHUB_ERROR_CODE, createGitHubClient, truncateDescription, type GitHubClient, type RetryTuning } from './github.ts';

const TOKEN = 'ghs_fixtureToken0123456789abcdefABCDEF';
const REPO = 'berth-fixture-org/shop-manifests';
const R = `/repos/${REPO}`;
const COMMENTS = `${R}/issues/7/comments?per_page=100`;
const HEAD = '4f1c9a2e7b3057d1c0a8e6b2f9d4c3a1b0e9f8d7';
const MERGE = '7e6d5c4b3a29180f7e6d5c4b3a29180f7e6d5c4b';
const FAST: RetryTuning = { unitMs: 25 };

const PLAN_V1 = ['### berth plan for `prod` at `4f1c9a2e7b30`', '', '**1 to create, 1 to replace**', '', '#### `shop/web`', '',
  '| action | replica | reason |', '| --- | --- | --- |', '| replace | 0 | spec changed (image shop/web:1.3 -> shop/web:1.4) |',
  '| create | 3 | scale 3 -> 4 |'].join('\n');
const PLAN_V2 = PLAN_V1.replace('`4f1c9a2e7b30`', '`9d0e8f7a6b5c`').replace('shop/web:1.4', 'shop/web:1.5');
const BODY_V1 = commentBody('prod', PLAN_V1);
const BODY_V2 = commentBody('prod', PLAN_V2);

let fixtures: GitHubFixtures | undefined;
let logLines: string[] = [];

afterEach(async () => {
  await fixtures?.close();
  fixtures = undefined;
});

/** Starts `scenario` and a client pointed at it, logging at debug level into `logLines`. */
async function setup(scenario: string, opts: { retry?: RetryTuning; apiPath?: string } = {}): Promise<{ gh: GitHubClient; fx: GitHubFixtures }> {
  fixtures = await startGitHubFixtures(loadScenario(scenario), { token: TOKEN });
  logLines = [];
  const log = createLogger({ level: 'debug', write: (line) => logLines.push(line) });
  const gh = createGitHubClient({ repo: REPO, token: TOKEN, apiUrl: fixtures.url + (opts.apiPath ?? ''), log, retry: opts.retry ?? FAST });
  return { gh, fx: fixtures };
}

interface Call { method: string; path: string; body?: unknown }

/** method, path and parsed body of every request the server saw. */
function calls(fx: GitHubFixtures): Call[] {
  return fx.requests.map((r) => (r.body === undefined ? { method: r.method, path: r.path } : { method: r.method, path: r.path, body: r.body }));
}

function call(method: string, path: string, body?: unknown): Call {
  return body === undefined ? { method, path } : { method, path, body };
}

/** The token went in every Authorization header and nowhere else: not in other headers, bodies, or log lines. */
function expectTokenOnlyInAuthorization(fx: GitHubFixtures): void {
  expect(fx.requests.length).toBeGreaterThan(0);
  for (const r of fx.requests) {
    expect(r.authorized).toBe(true);
    expect(JSON.stringify(r)).not.toContain(TOKEN);
  }
  expect(logLines.length).toBeGreaterThan(0);
  for (const line of logLines) expect(line).not.toContain(TOKEN);
}

async function rejection(p: Promise<unknown>): Promise<BerthError> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(BerthError);
  const e = err as BerthError;
  expect(e.message).not.toContain(TOKEN);
  expect(String(e.stack)).not.toContain(TOKEN);
  expect(inspect(e, { depth: Infinity })).not.toContain(TOKEN);
  return e;
}

describe('upsertPlanComment', () => {
  it('creates the comment when the pull request has none (2 calls), then skips the same plan with no call', async () => {
    const { gh, fx } = await setup('first-post');
    expect(BODY_V1).toBe((loadScenario('first-post').exchanges[1]!.request.body as { body: string }).body);
    expect(await gh.upsertPlanComment(7, 'prod', BODY_V1)).toEqual({ action: 'created', id: 2001, calls: 2 });
    expect(await gh.upsertPlanComment(7, 'prod', BODY_V1)).toEqual({ action: 'unchanged', id: 2001, calls: 0 });
    expect(calls(fx)).toEqual([call('GET', COMMENTS), call('POST', `${R}/issues/7/comments`, { body: BODY_V1 })]);
    expect(fx.requests[1]!.headers['user-agent']).toMatch(/^berth /);
    fx.done();
    expectTokenOnlyInAuthorization(fx);
  });

  it('wraps markdown without the marker with commentBody', async () => {
    const { gh, fx } = await setup('first-post');
    expect(await gh.upsertPlanComment(7, 'prod', PLAN_V1)).toMatchObject({ action: 'created', id: 2001 });
    fx.done();
  });

  it('PATCHes berth\'s marked comment in place when the plan changed', async () => {
    const { gh, fx } = await setup('update');
    expect(await gh.upsertPlanComment(7, 'prod', BODY_V2)).toEqual({ action: 'updated', id: 1501, calls: 2 });
    expect(calls(fx)).toEqual([call('GET', COMMENTS), call('PATCH', `${R}/issues/comments/1501`, { body: BODY_V2 })]);
    fx.done();
  });

  it('writes nothing when the comment already carries the plan (1 call)', async () => {
    const { gh, fx } = await setup('unchanged');
    expect(await gh.upsertPlanComment(7, 'prod', BODY_V1)).toEqual({ action: 'unchanged', id: 1501, calls: 1 });
    expect(fx.requests.map((r) => r.method)).toEqual(['GET']);
    fx.done();
  });

  it('updates by the cached id without listing again (1 call), then costs nothing while unchanged', async () => {
    const { gh, fx } = await setup('cached-update');
    expect(await gh.upsertPlanComment(7, 'prod', BODY_V1)).toEqual({ action: 'unchanged', id: 1501, calls: 1 });
    expect(await gh.upsertPlanComment(7, 'prod', BODY_V2)).toEqual({ action: 'updated', id: 1501, calls: 1 });
    expect(await gh.upsertPlanComment(7, 'prod', BODY_V2)).toEqual({ action: 'unchanged', id: 1501, calls: 0 });
    expect(calls(fx)).toEqual([call('GET', COMMENTS), call('PATCH', `${R}/issues/comments/1501`, { body: BODY_V2 })]);
    fx.done();
  });

  it('recreates the comment when the cached one was deleted (PATCH 404 -> list -> POST)', async () => {
    const { gh, fx } = await setup('cached-comment-deleted');
    expect(await gh.upsertPlanComment(7, 'prod', BODY_V1)).toEqual({ action: 'unchanged', id: 1501, calls: 1 });
    expect(await gh.upsertPlanComment(7, 'prod', BODY_V2)).toEqual({ action: 'created', id: 2002, calls: 3 });
    expect(fx.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      `GET ${COMMENTS}`, `PATCH ${R}/issues/comments/1501`, `GET ${COMMENTS}`, `POST ${R}/issues/7/comments`,
    ]);
    fx.done();
  });

  it('follows the Link header to find the comment on the second page', async () => {
    const { gh, fx } = await setup('comments-pagination');
    expect(await gh.upsertPlanComment(7, 'prod', BODY_V2)).toEqual({ action: 'updated', id: 1501, calls: 3 });
    expect(fx.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      `GET ${COMMENTS}`, 'GET /repositories/1000/issues/7/comments?per_page=100&page=2', `PATCH ${R}/issues/comments/1501`,
    ]);
    fx.done();
    expectTokenOnlyInAuthorization(fx);
  });

  it('serializes concurrent upserts of one pull request: one comment, never two', async () => {
    const { gh, fx } = await setup('first-post');
    const [a, b] = await Promise.all([gh.upsertPlanComment(7, 'prod', BODY_V1), gh.upsertPlanComment(7, 'prod', BODY_V1)]);
    expect([a.action, b.action]).toEqual(['created', 'unchanged']);
    expect(fx.requests.filter((r) => r.method === 'POST')).toHaveLength(1);
    fx.done();
  });
});

describe('rate limits', () => {
  it('waits for x-ratelimit-reset after a 403 with x-ratelimit-remaining: 0, then posts once', async () => {
    const { gh, fx } = await setup('rate-limit-403');
    expect(await gh.upsertPlanComment(7, 'prod', BODY_V1)).toEqual({ action: 'created', id: 2001, calls: 2 });
    expect(fx.requests.map((r) => `${r.method} ${r.path}`)).toEqual([`GET ${COMMENTS}`, `GET ${COMMENTS}`, `POST ${R}/issues/7/comments`]);
    // reset is 1 s ahead, so the wait is at least one second (+1 per GitHub's advice): >= 1 unit here.
    expect(fx.requests[1]!.at - fx.requests[0]!.at).toBeGreaterThanOrEqual(FAST.unitMs! - 5);
    fx.done();
    expectTokenOnlyInAuthorization(fx);
  });

  it('waits retry-after after a secondary-limit 429 and creates exactly one comment', async () => {
    const { gh, fx } = await setup('secondary-rate-limit-429');
    expect(await gh.upsertPlanComment(7, 'prod', BODY_V1)).toEqual({ action: 'created', id: 2001, calls: 2 });
    const posts = fx.requests.filter((r) => r.method === 'POST');
    expect(posts).toHaveLength(2); // the 429 created nothing; the retry created the one comment
    expect(posts[0]!.body).toEqual(posts[1]!.body);
    expect(posts[1]!.at - posts[0]!.at).toBeGreaterThanOrEqual(FAST.unitMs! - 5);
    expect(await gh.upsertPlanComment(7, 'prod', BODY_V1)).toEqual({ action: 'unchanged', id: 2001, calls: 0 });
    fx.done();
    expectTokenOnlyInAuthorization(fx);
  });

  it('does not wait longer than the cap: a reset an hour away fails at once, transient', async () => {
    const { gh, fx } = await setup('rate-limit-too-long', { retry: { unitMs: 1000, maxWaitSeconds: 60 } });
    const started = performance.now();
    const err = await rejection(gh.listOpenPulls('main'));
    expect(performance.now() - started).toBeLessThan(5000);
    expect(err.code).toBe(GITHUB_ERROR_CODE);
    expect(err.terminal).toBe(false);
    expect(err.message).toContain('HTTP 403 (rate limited)');
    expect(fx.requests).toHaveLength(1);
    fx.done();
  });
});

describe('server errors and failures', () => {
  it('retries a 502 with backoff and succeeds', async () => {
    const { gh, fx } = await setup('server-error-502');
    await gh.setStatus(HEAD, 'berth/plan', 'pending', 'planning 4f1c9a2e7b30', 'https://berth.example/plans/7');
    expect(calls(fx)).toEqual(Array(2).fill(call('POST', `${R}/statuses/${HEAD}`, {
      state: 'pending', context: 'berth/plan', description: 'planning 4f1c9a2e7b30', target_url: 'https://berth.example/plans/7',
    })));
    expect(fx.requests[1]!.at - fx.requests[0]!.at).toBeGreaterThanOrEqual(FAST.unitMs! - 5);
    fx.done();
  });

  it('surfaces a transient BerthError after the retries, without the token', async () => {
    const { gh, fx } = await setup('server-error-exhausted', { retry: { unitMs: 5, serverRetries: 3 } });
    const err = await rejection(gh.setStatus(HEAD, 'berth/plan', 'pending', 'planning 4f1c9a2e7b30', 'https://berth.example/plans/7'));
    expect(err.code).toBe(GITHUB_ERROR_CODE);
    expect(err.terminal).toBe(false);
    expect(err.message).toContain('HTTP 504');
    expect(fx.requests).toHaveLength(4);
    fx.done();
    expectTokenOnlyInAuthorization(fx);
  });

  it('does not retry bad credentials: terminal, token absent from the error', async () => {
    const { gh, fx } = await setup('bad-credentials');
    const err = await rejection(gh.listOpenPulls('main'));
    expect(err).toMatchObject({ code: GITHUB_ERROR_CODE, terminal: true });
    expect(err.message).toContain('HTTP 401: Bad credentials');
    expect(fx.requests).toHaveLength(1);
    fx.done();
    expectTokenOnlyInAuthorization(fx);
  });
});

describe('pull requests and statuses', () => {
  it('lists open pull requests over every page, flagging the fork', async () => {
    const { gh, fx } = await setup('fork-pulls');
    expect(await gh.listOpenPulls('main')).toEqual([
      { number: 7, headSha: HEAD, headRef: 'web-1.4', headRepo: REPO, baseRef: 'main', fromFork: false },
      { number: 8, headSha: 'b'.repeat(40), headRef: 'patch-1', headRepo: 'contributor/shop-manifests', baseRef: 'main', fromFork: true },
      { number: 9, headSha: 'c'.repeat(40), headRef: 'db-16', headRepo: REPO, baseRef: 'main', fromFork: false },
    ]);
    expect(fx.requests.map((r) => r.path)).toEqual([
      `${R}/pulls?state=open&base=main&per_page=100`, '/repositories/1000/pulls?state=open&base=main&per_page=100&page=2',
    ]);
    fx.done();
  });

  it('treats a pull request whose head repository was deleted as a fork', async () => {
    const { gh, fx } = await setup('deleted-head-repo');
    expect(await gh.listOpenPulls('main')).toEqual([
      { number: 11, headSha: 'd'.repeat(40), headRef: 'patch-2', headRepo: null, baseRef: 'main', fromFork: true },
    ]);
    fx.done();
  });

  it('after a merge: finds the pull request, sets berth/sync pending then success (cut to 140), comments the result', async () => {
    const { gh, fx } = await setup('after-merge');
    const pull = await gh.pullForCommit(MERGE);
    expect(pull).toEqual({ number: 7, title: 'web 1.4', baseRef: 'main', mergedAt: '2025-06-01T12:00:00Z' });
    await gh.setStatus(MERGE, 'berth/sync', 'pending', 'applying 7e6d5c4b3a29');
    const long = 'applied 7e6d5c4b3a29: ' + Array.from({ length: 12 }, (_, i) => `shop/svc-${i} replaced`).join(', ');
    await gh.setStatus(MERGE, 'berth/sync', 'success', long);
    const result = '✅ berth applied `7e6d5c4b3a29` to `prod`: 1 created, 1 replaced.';
    expect(await gh.commentOnPull(pull!.number, result)).toEqual({
      id: 2003, url: 'https://github.com/berth-fixture-org/shop-manifests/pull/7#issuecomment-2003',
    });
    expect(await gh.pullForCommit('0a1b2c3d4e5f60718293a4b5c6d7e8f901234567')).toBeNull();
    const sent = fx.requests[2]!.body as { description: string };
    expect(sent.description).toHaveLength(140);
    expect(sent.description.endsWith('…')).toBe(true);
    fx.done();
    expectTokenOnlyInAuthorization(fx);
  });

  it('talks to GitHub Enterprise under /api/v3', async () => {
    const { gh, fx } = await setup('enterprise', { apiPath: '/api/v3' });
    await gh.setStatus(HEAD, 'berth/plan', 'success', 'no changes');
    expect(calls(fx)).toEqual([call('POST', `/api/v3${R}/statuses/${HEAD}`, { state: 'success', context: 'berth/plan', description: 'no changes' })]);
    fx.done();
  });
});

describe('truncateDescription', () => {
  it('keeps short descriptions and cuts long ones on a code point boundary', () => {
    expect(truncateDescription('no changes')).toBe('no changes');
    const cut = truncateDescription('🚢'.repeat(100));
    expect(cut.length).toBeLessThanOrEqual(140);
    expect(cut).toBe('🚢'.repeat(69) + '…');
  });
});

describe('createGitHubClient', () => {
  it('rejects a repository that is not owner/name, without echoing the token', () => {
    expect(() => createGitHubClient({ repo: 'nope', token: TOKEN })).toThrow(/owner\/name/);
  });
});
