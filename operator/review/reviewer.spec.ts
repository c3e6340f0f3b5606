/**
 * Unit tests of the review round over fakes: an in-memory GitHubClient that keeps the real client's comment
 * cache semantics (an unchanged body costs no write), MemorySource (a pull request head is a branch named by its full
 * ref, `refs/pull/7/head`, which MemorySource.resolve looks up as is) and FakeRuntime. The real-server versions of
 * these behaviours are test/review-github.test.ts and test/review-run.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { loadDesired } from '../manifests/index.ts';
import { BerthError } from '../model/errors.ts';
import { MemorySource } from '../source/memory-source.ts';
import { silentLogger } from '../util/log.ts';
import { FakeRuntime } from '../../test/doubles/fake-runtime.ts';
import { COMMENT_MARKER, contentDigest, findMarkedComment } from './comment.ts';
import type { GitHubClient, MergedPull, OpenPull, StatusContext, StatusState, UpsertResult } from './github.ts';
import { Reviewer, type ReviewerOptions } from './reviewer.ts';

const INSTANCE = 't';

const svc = (name: string, replicas: number | string, extra = '') =>
  `apiVersion: berth/v1\nkind: Service\nmetadata: { name: ${name} }\nspec:\n  image: img:1\n  replicas: ${replicas}\n${extra}`;
const built = (name: string) =>
  `apiVersion: berth/v1\nkind: Service\nmetadata: { name: ${name} }\nspec:\n  build: { context: images/${name} }\n  command: [sleep, "3600"]\n`;

interface Comment { id: number; body: string }
interface StatusCall { sha: string; context: StatusContext; state: StatusState; description: string }

/**
 * An in-memory GitHubClient. Keeps the comments of each pull request and, like the real client, remembers the digest
 * of the last body upserted per instance#pr: an unchanged body is `unchanged` with 0 calls and no write.
 */
class FakeGitHub implements GitHubClient {
  /** Open pull requests (every base; listOpenPulls filters). */
  pulls: OpenPull[] = [];
  /** Every call, in order, failed ones included. */
  readonly calls: { method: keyof GitHubClient; args: unknown[] }[] = [];
  readonly comments = new Map<number, Comment[]>();
  readonly statuses: StatusCall[] = [];
  /** Comment creations and edits (what GitHub would notify about). */
  commentWrites = 0;
  private nextId = 100;
  private readonly cache = new Map<string, { id: number; digest: string }>();
  private readonly failures = new Map<keyof GitHubClient, BerthError>();

  /** The next call of `method` throws `err` (once). */
  failNext(method: keyof GitHubClient, err: BerthError): void {
    this.failures.set(method, err);
  }

  async listOpenPulls(base: string): Promise<OpenPull[]> {
    this.enter('listOpenPulls', [base]);
    return this.pulls.filter((p) => p.baseRef === base);
  }

  async upsertPlanComment(pr: number, instance: string, body: string): Promise<UpsertResult> {
    this.enter('upsertPlanComment', [pr, instance, body]);
    const key = `${instance}#${pr}`;
    const digest = contentDigest(body);
    const cached = this.cache.get(key);
    if (cached?.digest === digest) return { action: 'unchanged', id: cached.id, calls: 0 };
    const list = this.comments.get(pr) ?? [];
    this.comments.set(pr, list);
    const existing = findMarkedComment(list, instance);
    this.commentWrites++;
    if (existing) existing.body = body;
    else list.push({ id: this.nextId++, body });
    const id = existing?.id ?? this.nextId - 1;
    this.cache.set(key, { id, digest });
    return { action: existing ? 'updated' : 'created', id, calls: cached ? 1 : 2 };
  }

  async setStatus(sha: string, context: StatusContext, state: StatusState, description: string): Promise<void> {
    this.enter('setStatus', [sha, context, state, description]);
    this.statuses.push({ sha, context, state, description });
  }

  async commentOnPull(pr: number, body: string): Promise<{ id: number; url: string }> {
    this.enter('commentOnPull', [pr, body]);
    const id = this.nextId++;
    this.comments.set(pr, [...(this.comments.get(pr) ?? []), { id, body }]);
    return { id, url: `https://github.test/pull/${pr}#issuecomment-${id}` };
  }

  async pullForCommit(sha: string): Promise<MergedPull | null> {
    this.enter('pullForCommit', [sha]);
    return null;
  }

  count(method: keyof GitHubClient): number {
    return this.calls.filter((c) => c.method === method).length;
  }

  private enter(method: keyof GitHubClient, args: unknown[]): void {
    this.calls.push({ method, args });
    const err = this.failures.get(method);
    if (!err) return;
    this.failures.delete(method);
    throw err;
  }
}

function openPull(number: number, headSha: string, fromFork = false): OpenPull {
  return {
    number, headSha, headRef: `feature-${number}`, baseRef: 'main', fromFork,
    headRepo: fromFork ? 'mallory/shop' : 'org/shop',
  };
}

function setup(over: Partial<ReviewerOptions> = {}) {
  const source = new MemorySource();
  const runtime = new FakeRuntime();
  runtime.addImage('img:1', 'sha256:one');
  const github = new FakeGitHub();
  source.push({ 'web.yaml': svc('web', 1) });
  /** Pushes the head of pull request `n` to `refs/pull/<n>/head` and lists it as open; returns the head commit. */
  const openPr = (n: number, files: Record<string, string>, fromFork = false): string => {
    const sha = source.pushBranch(`refs/pull/${n}/head`, files);
    github.pulls = [...github.pulls.filter((p) => p.number !== n), openPull(n, sha, fromFork)];
    return sha;
  };
  const reviewer = new Reviewer({
    source, runtime, instance: INSTANCE, log: silentLogger, baseBranch: 'main', github,
    load: (s) => loadDesired(s, { instance: INSTANCE, path: '.' }), ...over,
  });
  return { source, runtime, github, reviewer, openPr };
}

const gitError = (message: string) => new BerthError('E_GIT', message, { terminal: false });

describe('Reviewer.round on GitHub pull requests', () => {
  it('posts one comment and a success status per open pull request, and an identical round writes nothing', async () => {
    const { github, reviewer, openPr } = setup();
    const a = openPr(7, { 'web.yaml': svc('web', 3) });
    const b = openPr(8, { 'web.yaml': svc('web', 1), 'api.yaml': svc('api', 1) });

    const first = await reviewer.round();
    expect(first.failed).toEqual([]);
    expect(first.planned.map((p) => [p.target.key, p.revision, p.ok])).toEqual([['pull/7', a, true], ['pull/8', b, true]]);
    expect(github.comments.get(7)).toHaveLength(1);
    expect(github.comments.get(8)).toHaveLength(1);
    expect(github.comments.get(7)![0]!.body.startsWith(COMMENT_MARKER(INSTANCE))).toBe(true);
    expect(github.comments.get(7)![0]!.body).toContain('**3 to create');
    expect(github.statuses).toEqual([
      { sha: a, context: 'berth/plan', state: 'success', description: first.planned[0]!.description },
      { sha: b, context: 'berth/plan', state: 'success', description: first.planned[1]!.description },
    ]);
    expect(first.planned[0]!.description).toMatch(/^3 to create/);
    // 1 listing + (2 upsert calls + 1 status) per pull request
    expect(first.githubCalls).toBe(7);

    const upserts = github.count('upsertPlanComment');
    const bodies = github.calls.filter((c) => c.method === 'upsertPlanComment').map((c) => c.args[2]);
    const second = await reviewer.round();
    expect(second.failed).toEqual([]);
    // The reviewer upserts every round with the same body; the client's cache turns it into no write.
    const again = github.calls.filter((c) => c.method === 'upsertPlanComment').slice(upserts).map((c) => c.args[2]);
    expect(again).toEqual(bodies);
    expect(github.commentWrites).toBe(2);
    expect(github.count('setStatus')).toBe(2);
    expect(second.githubCalls).toBe(1); // the listing only
  });

  it('shows the Jobs a merge would run and the next times of its CronJobs; within the hour a round writes nothing', async () => {
    let clock = Date.parse('2026-12-03T13:10:00.000Z');
    const { github, reviewer, openPr } = setup({ now: () => clock });
    const job = 'apiVersion: berth/v1\nkind: Job\nmetadata: { name: migrate }\nspec:\n  image: img:1\n';
    const cron = (schedule: string) => `apiVersion: berth/v1\nkind: CronJob\nmetadata: { name: nightly }\nspec:\n  schedule: "${schedule}"\n  timeZone: America/New_York\n  jobTemplate:\n    spec:\n      image: img:1\n`;
    openPr(7, { 'web.yaml': svc('web', 1, '  dependsOn: [migrate]\n'), 'migrate.yaml': job, 'nightly.yaml': cron('*/20 * * * *') });
    await reviewer.round();
    const body = github.comments.get(7)![0]!.body;
    expect(body).toMatch(/- `default\/migrate`: \*\*would run: 1 completion, parallelism 1 \(run [0-9a-f]{16}\)\*\*\n {2}- service `default\/web` rolls out after job `default\/migrate` succeeds/);
    expect(body).toContain("Next times after `2026-12-03T13:00:00Z`, on each CronJob's clock (UTC in brackets):");
    expect(body).toContain('  - next: `2026-12-03T08:20:00-05:00` (`2026-12-03T13:20:00Z`), `2026-12-03T08:40:00-05:00` (`2026-12-03T13:40:00Z`), `2026-12-03T09:00:00-05:00` (`2026-12-03T14:00:00Z`)');
    clock += 40 * 60_000; // 13:50: the same hour, the same comment
    await reviewer.round();
    expect(github.commentWrites).toBe(1);
    clock += 20 * 60_000; // 14:10: a new hour, new next times
    await reviewer.round();
    expect(github.commentWrites).toBe(2);
    expect(github.comments.get(7)![0]!.body).toContain('(`2026-12-03T14:20:00Z`)');
  });

  it('updates the comment and the status when the head moves', async () => {
    const { github, reviewer, openPr } = setup();
    openPr(7, { 'web.yaml': svc('web', 3) });
    await reviewer.round();
    const moved = openPr(7, { 'web.yaml': svc('web', 2) });
    const r = await reviewer.round();
    expect(r.planned[0]?.revision).toBe(moved);
    expect(github.comments.get(7)).toHaveLength(1);
    expect(github.comments.get(7)![0]!.body).toContain('**2 to create');
    expect(github.statuses.at(-1)).toMatchObject({ sha: moved, state: 'success' });
    expect(github.commentWrites).toBe(2);
  });

  it('sets failure with the first error as file:line:col and lists every issue in the comment', async () => {
    const { github, reviewer, openPr } = setup();
    const sha = openPr(7, { 'web.yaml': svc('web', 'many'), 'api.yaml': svc('api', 1).replace('image: img:1', 'image: 42') });
    const r = await reviewer.round();
    const planned = r.planned[0]!;
    expect(planned.ok).toBe(false);
    expect(planned.issues.length).toBe(2);
    const [first, second] = planned.issues;
    expect(github.statuses).toHaveLength(1);
    const status = github.statuses[0]!;
    expect(status).toMatchObject({ sha, context: 'berth/plan', state: 'failure' });
    expect(status.description.startsWith(`2 error(s): ${first!.file}:${first!.line}:${first!.col}`)).toBe(true);
    expect(status.description).toBe('2 error(s): api.yaml:5:10: spec.image: must be string');
    const body = github.comments.get(7)![0]!.body;
    for (const i of [first!, second!]) expect(body).toContain(`\`${i.file}:${i.line}:${i.col}\``);
    expect(body).toContain('web.yaml:');
    expect(body).toContain('**2 error(s)**');
  });

  it('plans a fork\'s build service as "build at merge" and builds nothing', async () => {
    const { github, runtime, reviewer, openPr } = setup();
    openPr(9, { 'api.yaml': built('api'), 'images/api/Dockerfile': 'FROM scratch\n' }, true);
    const r = await reviewer.round();
    expect(r.failed).toEqual([]);
    expect(r.planned[0]).toMatchObject({ ok: true });
    expect(r.planned[0]!.plan!.actions.map((a) => a.type)).toContain('build-image');
    const body = github.comments.get(9)![0]!.body;
    expect(body).toContain('build at merge');
    expect(body).toContain('From a fork');
    expect(runtime.calls.filter((c) => c.method === 'buildImage')).toEqual([]);
    expect(runtime.calls).toEqual([]); // planning changes nothing on the engine
  });

  it('survives a failed comment upsert: the other pull request is published and the next round posts exactly one comment', async () => {
    const { github, reviewer, openPr } = setup();
    openPr(7, { 'web.yaml': svc('web', 3) });
    openPr(8, { 'web.yaml': svc('web', 2) });
    github.failNext('upsertPlanComment', gitError('GitHub: upsert plan comment on #7: HTTP 403 (rate limited): API rate limit exceeded'));

    const first = await reviewer.round();
    expect(first.failed).toEqual([{ key: 'pull/7', error: 'E_GIT: GitHub: upsert plan comment on #7: HTTP 403 (rate limited): API rate limit exceeded' }]);
    expect(github.comments.get(7)).toBeUndefined();
    expect(github.comments.get(8)).toHaveLength(1);
    expect(github.statuses.map((s) => s.sha)).toEqual([github.pulls[1]!.headSha]); // no status for #7 without its comment

    const second = await reviewer.round();
    expect(second.failed).toEqual([]);
    expect(github.comments.get(7)).toHaveLength(1);
    expect(github.comments.get(8)).toHaveLength(1);
    expect(github.commentWrites).toBe(2);
    expect(github.statuses.map((s) => s.sha)).toEqual([github.pulls[1]!.headSha, github.pulls[0]!.headSha]);
  });

  it('retries a status that failed to post on the next round, without rewriting the comment', async () => {
    const { github, reviewer, openPr } = setup();
    const sha = openPr(7, { 'web.yaml': svc('web', 3) });
    github.failNext('setStatus', gitError('GitHub: set status berth/plan=success: HTTP 502: Bad Gateway'));
    const first = await reviewer.round();
    expect(first.failed.map((f) => f.key)).toEqual(['pull/7']);
    expect(github.statuses).toEqual([]);
    const second = await reviewer.round();
    expect(second.failed).toEqual([]);
    expect(github.statuses).toMatchObject([{ sha, state: 'success' }]);
    expect(github.commentWrites).toBe(1);
  });

  it('reports a pull request whose head ref is gone as failed, with no comment nor status for it', async () => {
    const { github, reviewer, openPr } = setup();
    openPr(7, { 'web.yaml': svc('web', 3) });
    github.pulls.push(openPull(10, 'f'.repeat(40))); // its refs/pull/10/head was never pushed (deleted)
    const r = await reviewer.round();
    expect(r.failed.map((f) => f.key)).toEqual(['pull/10']);
    expect(r.failed[0]!.error).toMatch(/^E_GIT: /);
    expect(github.comments.has(10)).toBe(false);
    expect(github.statuses.map((s) => s.sha)).not.toContain('f'.repeat(40));
    expect(github.comments.get(7)).toHaveLength(1);
  });

  it('reports a failed listing under key round and does not throw', async () => {
    const { github, reviewer, openPr } = setup();
    openPr(7, { 'web.yaml': svc('web', 3) });
    github.failNext('listOpenPulls', gitError('GitHub: list open pull requests of main: HTTP 503: Service Unavailable'));
    const r = await reviewer.round();
    expect(r.failed).toEqual([{ key: 'round', error: 'E_GIT: GitHub: list open pull requests of main: HTTP 503: Service Unavailable' }]);
    expect(r.planned).toEqual([]);
    expect(github.count('upsertPlanComment')).toBe(0);
    const next = await reviewer.round();
    expect(next.failed).toEqual([]);
    expect(github.comments.get(7)).toHaveLength(1);
  });

  it('still publishes review branch plans when the pull request listing fails', async () => {
    const { source, github, reviewer } = setup({ reviewBranches: ['review/*'] });
    source.pushBranch('review/scale', { 'web.yaml': svc('web', 3) });
    github.failNext('listOpenPulls', gitError('GitHub: list open pull requests of main: HTTP 503: Service Unavailable'));
    const r = await reviewer.round();
    expect(r.failed.map((f) => f.key)).toEqual(['round']);
    expect(r.planned.map((p) => p.target.key)).toEqual(['branch/review/scale']);
    expect(source.status.has(`${INSTANCE}/plans/review/scale.md`)).toBe(true);
  });

  it('compares against the applied revision read from the status branch', async () => {
    const { source, github, reviewer, openPr } = setup();
    const applied = await source.head();
    source.status.set(`${INSTANCE}/status.yaml`, `revision: { applied: ${applied}, latest: ${applied} }\nservices: {}\n`);
    openPr(7, { 'web.yaml': svc('web', 3) });
    await reviewer.round();
    expect(github.comments.get(7)![0]!.body).toContain(`against \`${applied.slice(0, 7)}\``);
  });
});

describe('Reviewer.round on plain-git review branches', () => {
  it('writes <instance>/plans/<branch>.md and .json, and removes a deleted branch\'s files on the next round', async () => {
    const { source, reviewer } = setup({ github: undefined, reviewBranches: ['review/*'] });
    const scale = source.pushBranch('review/scale', { 'web.yaml': svc('web', 3) });
    const broken = source.pushBranch('review/broken', { 'web.yaml': svc('web', 'many') });
    source.pushBranch('feature/other', { 'web.yaml': svc('web', 5) });

    const first = await reviewer.round();
    expect(first.failed).toEqual([]);
    expect(first.githubCalls).toBe(0);
    expect(first.planned.map((p) => p.target.key)).toEqual(['branch/review/broken', 'branch/review/scale']);
    const md = source.status.get(`${INSTANCE}/plans/review/scale.md`);
    expect(md).toContain(`revision \`${scale.slice(0, 7)}\``);
    expect(md).toContain('**3 to create');
    const json = JSON.parse(source.status.get(`${INSTANCE}/plans/review/scale.json`)!) as { revision: string; ok: boolean; errors: unknown[] };
    expect(json).toMatchObject({ revision: scale, ok: true, errors: [] });
    const brokenJson = JSON.parse(source.status.get(`${INSTANCE}/plans/review/broken.json`)!) as { revision: string; ok: boolean; errors: { file: string; code: string }[] };
    expect(brokenJson).toMatchObject({ revision: broken, ok: false });
    expect(brokenJson.errors.map((e) => e.file)).toEqual(['web.yaml']);
    expect(source.status.has(`${INSTANCE}/plans/feature/other.md`)).toBe(false);
    expect(source.statusCommits).toBe(1);

    const idle = await reviewer.round();
    expect(idle.failed).toEqual([]);
    expect(source.statusCommits).toBe(1); // nothing changed: no commit

    source.branches.delete('review/broken');
    await reviewer.round();
    expect(source.status.has(`${INSTANCE}/plans/review/broken.md`)).toBe(false);
    expect(source.status.has(`${INSTANCE}/plans/review/broken.json`)).toBe(false);
    expect(source.status.get(`${INSTANCE}/plans/review/scale.md`)).toBe(md);
    expect(source.statusCommits).toBe(2);
    expect(source.statusMessages.at(-1)).toBe('berth: plans: review/broken removed');
  });
});
