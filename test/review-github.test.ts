/**
 * Release review on GitHub, end to end: berth run against a real git smart-HTTP server (pull request heads
 * pushed to refs/pull/N/head as GitHub does) and a local GitHub API replaying GitHub-shaped responses in order. The
 * test asserts every request berth made: the plan comment (first post, update, unchanged -> no call), `berth/plan`
 * statuses (success, failure with file:line), a fork's plan ("build at merge", nothing built), and after the merge
 * `berth/sync` pending -> success plus the result comment on the merged pull request. The token never leaks.
 */
import { writeFile, mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGitHubFixtures, type FixtureExchange, type GitHubFixtures, type RecordedRequest } from './doubles/github-fixtures.ts';
import { makeRemote, type Remote } from './helpers/git.ts';
import { cleanupInstance, testDocker, uniqueInstance, waitFor } from './helpers/docker.ts';
import { service, signedWebhook, startTestOperator, statusFromBranch, type TestOperator } from './helpers/operator.ts';

const HOOK_SECRET = 'review-hook-secret';
let hooks = 0;

const docker = testDocker();
const instance = uniqueInstance('review');
const TOKEN = 'ghs_berthTestToken0123456789abcdef';
const REPO = 'berth-fixture-org/shop-manifests';
const API = `/repos/${REPO}`;
let remote: Remote;
let gh: GitHubFixtures;
let op: TestOperator;
const sha = { m1: "", h1: "", h2: "", h3: "", f1: "", m2: "" };

const web = (replicas: number, env?: Record<string, string>) => service('web', { replicas, env });
const api = `apiVersion: berth/v1
kind: Service
metadata: { name: api, namespace: test }
spec:
  build: { context: images/api }
  command: [sleep, "3600"]
`;

/** Commits `files` on the work tree's current branch without pushing; returns the commit id. */
async function commitLocal(files: Record<string, string>, message: string): Promise<string> {
  for (const [path, content] of Object.entries(files)) {
    await mkdir(dirname(join(remote.workDir, path)), { recursive: true });
    await writeFile(join(remote.workDir, path), content);
  }
  await remote.git(['add', '-A']);
  await remote.git(['commit', '--quiet', '-m', message]);
  return remote.git(['rev-parse', 'HEAD']);
}

// GitHub-shaped response bodies (https://docs.github.com/rest: pulls, issue comments, statuses).
const user = (login: string, type: 'User' | 'Bot') => ({ login, id: type === 'Bot' ? 41898282 : 1001, node_id: 'MDQ6VXNlcjE=', type, site_admin: false, url: `https://api.github.com/users/${login}`, html_url: `https://github.com/${login}` });
const repoObj = (fullName: string) => ({ id: fullName.length, node_id: 'R_kgDOAAAAAA', name: fullName.split('/')[1], full_name: fullName, private: false, owner: user(fullName.split('/')[0]!, 'User'), html_url: `https://github.com/${fullName}` });
function pull(number: number, headSha: string, o: { fork?: boolean; merged?: string } = {}) {
  const headRepo = o.fork ? 'mallory/shop-manifests' : REPO;
  return {
    url: `https://api.github.com${API}/pulls/${number}`, id: 9000 + number, node_id: 'PR_kwDOAAAAAA', html_url: `https://github.com/${REPO}/pull/${number}`,
    number, state: o.merged ? 'closed' : 'open', locked: false, title: `change #${number}`, user: user('alice', 'User'), body: null,
    created_at: '2026-11-25T10:00:00Z', updated_at: '2026-11-25T10:00:00Z', closed_at: o.merged ? '2026-11-25T11:00:00Z' : null,
    merged_at: o.merged ? '2026-11-25T11:00:00Z' : null, merge_commit_sha: o.merged ?? null, draft: false,
    head: { label: `${headRepo.split('/')[0]}:feature`, ref: 'feature', sha: headSha, user: user('alice', 'User'), repo: repoObj(headRepo) },
    base: { label: 'berth-fixture-org:main', ref: 'main', sha: sha.m1, user: user('berth-fixture-org', 'User'), repo: repoObj(REPO) },
  };
}
const comment = (id: number, pr: number) => ({
  url: `https://api.github.com${API}/issues/comments/${id}`, html_url: `https://github.com/${REPO}/pull/${pr}#issuecomment-${id}`,
  issue_url: `https://api.github.com${API}/issues/${pr}`, id, node_id: 'IC_kwDOAAAAAA', user: user('berth[bot]', 'Bot'),
  created_at: '2026-11-25T10:00:01Z', updated_at: '2026-11-25T10:00:01Z', author_association: 'NONE', body: '(body as sent)',
});
const status = (state: string, context: string) => ({
  url: `https://api.github.com${API}/statuses/x`, id: 1, node_id: 'SC_kwDOAAAAAA', state, description: '', target_url: null, context,
  created_at: '2026-11-25T10:00:02Z', updated_at: '2026-11-25T10:00:02Z', creator: user('berth[bot]', 'Bot'),
});
const ok = (body: unknown, statusCode = 200): FixtureExchange['response'] => ({ status: statusCode, headers: { 'content-type': 'application/json; charset=utf-8', 'x-github-api-version-selected': '2022-11-28', 'x-ratelimit-remaining': '4990' }, body });
const listPulls = (...pulls: unknown[]): FixtureExchange => ({ request: { method: 'GET', path: `${API}/pulls?state=open&base=main&per_page=100` }, response: ok(pulls) });
const setStatus = (commit: string, context: string, state: string): FixtureExchange => ({ request: { method: 'POST', path: `${API}/statuses/${commit}` }, response: ok(status(state, context), 201) });

/** The requests from index `from` on, as `METHOD path`. */
const lines = (from: number, to?: number): string[] => gh.requests.slice(from, to).map((r) => `${r.method} ${r.path}`);
const bodyOf = (r: RecordedRequest | undefined) => r?.body as { body?: string; state?: string; description?: string; context?: string } | undefined;

async function webhook(event: string): Promise<void> {
  const res = await signedWebhook(op.url, HOOK_SECRET, event, JSON.stringify({ action: 'synchronize', number: 7, delivery: ++hooks }));
  expect(res.status).toBe(202);
}

beforeAll(async () => {
  remote = await makeRemote({ 'web.yaml': web(1) });
  sha.m1 = await remote.git(['rev-parse', 'HEAD']);
  await remote.git(['checkout', '--quiet', '-b', 'feature']);
  sha.h1 = await commitLocal({ 'web.yaml': web(2) }, 'web x2');
  sha.h2 = await commitLocal({ 'web.yaml': web(2, { MODE: 'fast' }) }, 'web x2, fast');
  await remote.git(['checkout', '--quiet', '-b', 'bad']);
  sha.h3 = await commitLocal({ 'web.yaml': web(2).replace('replicas: 2', 'replicas: two') }, 'broken');
  await remote.git(['checkout', '--quiet', '-b', 'fork', sha.m1]);
  sha.f1 = await commitLocal({ 'api.yaml': api, 'images/api/Dockerfile': 'FROM berth-local/busybox:1\nRUN echo never-built\n' }, 'fork adds api');
  await remote.git(['checkout', '--quiet', 'main']);
  await remote.git(['merge', '--quiet', '--no-ff', '-m', 'Merge pull request #7 from feature', 'feature']);
  sha.m2 = await remote.git(['rev-parse', 'HEAD']);
  await remote.git(['reset', '--quiet', '--hard', sha.m1]);
  await remote.git(['push', '--quiet', 'origin', `${sha.h1}:refs/pull/7/head`]);

  gh = await startGitHubFixtures([
    // first pass applies main: berth/sync on it; no pull request merged it
    setStatus(sha.m1, 'berth/sync', 'pending'), setStatus(sha.m1, 'berth/sync', 'success'),
    { request: { method: 'GET', path: `${API}/commits/${sha.m1}/pulls` }, response: ok([]) },
    // then the review round: pull request #7 gets its first plan comment and berth/plan
    listPulls(pull(7, sha.h1)),
    { request: { method: 'GET', path: `${API}/issues/7/comments?per_page=100` }, response: ok([]) },
    { request: { method: 'POST', path: `${API}/issues/7/comments` }, response: ok(comment(5001, 7), 201) },
    setStatus(sha.h1, 'berth/plan', 'success'),
    // push to the pull request: the same comment is updated (3 calls in all)
    listPulls(pull(7, sha.h2)),
    { request: { method: 'PATCH', path: `${API}/issues/comments/5001` }, response: ok(comment(5001, 7)) },
    setStatus(sha.h2, 'berth/plan', 'success'),
    // nothing changed: only the listing
    listPulls(pull(7, sha.h2)),
    // a broken push, and a fork's pull request that would build an image
    listPulls(pull(7, sha.h3), pull(8, sha.f1, { fork: true })),
    { request: { method: 'PATCH', path: `${API}/issues/comments/5001` }, response: ok(comment(5001, 7)) },
    setStatus(sha.h3, 'berth/plan', 'failure'),
    { request: { method: 'GET', path: `${API}/issues/8/comments?per_page=100` }, response: ok([]) },
    { request: { method: 'POST', path: `${API}/issues/8/comments` }, response: ok(comment(5002, 8), 201) },
    setStatus(sha.f1, 'berth/plan', 'success'),
    // merge of #7 into main: berth/sync pending -> success, result comment on #7, then a review round with no pulls
    setStatus(sha.m2, 'berth/sync', 'pending'), setStatus(sha.m2, 'berth/sync', 'success'),
    { request: { method: 'GET', path: `${API}/commits/${sha.m2}/pulls` }, response: ok([pull(7, sha.h2, { merged: sha.m2 })]) },
    { request: { method: 'POST', path: `${API}/issues/7/comments` }, response: ok(comment(5003, 7), 201) },
    listPulls(),
  ], { token: TOKEN });
  process.env.BERTH_TEST_GITHUB_TOKEN = TOKEN;
  op = await startTestOperator(remote.url, instance, { 'github-repo': REPO, 'github-api-url': gh.url, 'github-token-env': 'BERTH_TEST_GITHUB_TOKEN', 'webhook-secret': HOOK_SECRET });
}, 60_000);

afterAll(async () => {
  await op?.stop();
  await gh?.close();
  await remote?.close();
  await cleanupInstance(docker, instance);
  delete process.env.BERTH_TEST_GITHUB_TOKEN;
}, 60_000);

describe('pull requests on GitHub', () => {
  it('posts one plan comment and berth/plan on the head after the first pass', async () => {
    await waitFor(() => gh.requests.length >= 7, { what: 'first review round', timeoutMs: 30_000 });
    expect(lines(0, 7)).toEqual([
      `POST ${API}/statuses/${sha.m1}`, `POST ${API}/statuses/${sha.m1}`, `GET ${API}/commits/${sha.m1}/pulls`,
      `GET ${API}/pulls?state=open&base=main&per_page=100`, `GET ${API}/issues/7/comments?per_page=100`,
      `POST ${API}/issues/7/comments`, `POST ${API}/statuses/${sha.h1}`,
    ]);
    expect(bodyOf(gh.requests[0])).toMatchObject({ context: 'berth/sync', state: 'pending' });
    expect(bodyOf(gh.requests[1])).toMatchObject({ context: 'berth/sync', state: 'success', description: expect.stringMatching(/^applied in [\d.]+ s: 1 to create/) });
    const body = bodyOf(gh.requests[5])!.body!;
    expect(body.startsWith(`<!-- berth:plan instance=${instance} -->`)).toBe(true);
    expect(body).toContain('**1 to create**');
    expect(body).toContain(`revision \`${sha.h1.slice(0, 7)}\``);
    expect(bodyOf(gh.requests[6])).toMatchObject({ context: 'berth/plan', state: 'success', description: '1 to create' });
    expect(gh.requests.every((r) => r.authorized)).toBe(true);
  });

  it('updates the same comment when the pull request moves, and makes no write when nothing changed', async () => {
    await remote.git(['push', '--quiet', '--force', 'origin', `${sha.h2}:refs/pull/7/head`]);
    const before = gh.requests.length;
    await webhook('pull_request');
    await waitFor(() => gh.requests.length >= before + 3, { what: 'update round', timeoutMs: 30_000 });
    expect(lines(before)).toEqual([`GET ${API}/pulls?state=open&base=main&per_page=100`, `PATCH ${API}/issues/comments/5001`, `POST ${API}/statuses/${sha.h2}`]);
    expect(bodyOf(gh.requests[before + 1])!.body).toMatch(/1 to create, 1 to replace/);

    const again = gh.requests.length;
    await webhook('pull_request');
    await waitFor(() => gh.requests.length >= again + 1, { what: 'unchanged round', timeoutMs: 30_000 });
    await op.reviewIdle();
    expect(lines(again)).toEqual([`GET ${API}/pulls?state=open&base=main&per_page=100`]);
  });

  it('fails berth/plan with file:line on invalid manifests, and plans a fork without building anything', async () => {
    await remote.git(['push', '--quiet', '--force', 'origin', `${sha.h3}:refs/pull/7/head`, `${sha.f1}:refs/pull/8/head`]);
    const before = gh.requests.length;
    await webhook('pull_request');
    await waitFor(() => gh.requests.length >= before + 6, { what: 'broken + fork round', timeoutMs: 30_000 });
    const broken = bodyOf(gh.requests[before + 1])!.body!;
    expect(broken).toMatch(/❌ \*\*1 error\(s\)\*\*/);
    expect(broken).toContain('`web.yaml:');
    expect(bodyOf(gh.requests[before + 2])).toMatchObject({ state: 'failure', description: expect.stringMatching(/^1 error\(s\): web\.yaml:\d+:\d+: spec\.replicas: /) });
    const fork = bodyOf(gh.requests[before + 4])!.body!;
    expect(fork).toContain('build at merge');
    expect(fork).toContain('From a fork: planned only');
    const images = await docker.listImages({ filters: { reference: ['berth.local/test/api'] } });
    expect(images).toEqual([]);
  });

  it('after the merge, sets berth/sync on the merge commit and comments the result on the pull request', async () => {
    await remote.git(['push', '--quiet', 'origin', `${sha.m2}:refs/heads/main`]);
    const before = gh.requests.length;
    await webhook('push');
    await waitFor(() => gh.requests.length >= before + 5, { what: 'sync report', timeoutMs: 60_000 });
    await op.reviewIdle();
    expect(lines(before)).toEqual([
      `POST ${API}/statuses/${sha.m2}`, `POST ${API}/statuses/${sha.m2}`, `GET ${API}/commits/${sha.m2}/pulls`,
      `POST ${API}/issues/7/comments`, `GET ${API}/pulls?state=open&base=main&per_page=100`,
    ]);
    expect(bodyOf(gh.requests[before + 1])).toMatchObject({ context: 'berth/sync', state: 'success', description: expect.stringMatching(/^applied in [\d.]+ s: 1 to create, 1 to replace/) });
    const result = bodyOf(gh.requests[before + 3])!.body!;
    expect(result).toContain(`revision \`${sha.m2.slice(0, 7)}\``);
    expect(result).toMatch(/\| `test\/web` \| 2\/2 \| Healthy \|/);
    gh.done();
    const st = await statusFromBranch(remote.bareDir, instance);
    expect(st?.text).toBeDefined();
    expect(st?.text).not.toContain(TOKEN);
  });
});
