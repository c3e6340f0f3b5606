/**
 * Image update automation with real parts: a git smart-HTTP server (git-http-backend), a real registry
 * (docker-registry with TLS and htpasswd auth) read by the real RegistryClient, and, for pull-request mode, the local
 * GitHub API double replaying GitHub-shaped responses. The clock is injected: no test sleeps for an interval.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ImageAutomation, imageUpdateBranch, type ImageAutomationDeps } from '../operator/images/automation.ts';
import { RegistryClient } from '../operator/images/registry-client.ts';
import { loadDesired } from '../operator/manifests/load.ts';
import { createGitHubClient } from '../operator/review/github.ts';
import { openGitSource } from '../operator/source/git-source.ts';
import type { GitSource } from '../operator/source/source.ts';
import { createLogger } from '../operator/util/log.ts';
import { startGitHubFixtures, type FixtureExchange, type GitHubFixtures } from './doubles/github-fixtures.ts';
import { TEST_IMAGE } from './helpers/docker.ts';
import { gitEnv, makeRemote, runGit, type Remote } from './helpers/git.ts';
import { DOCKER_CERTS_DIR, startTestRegistry, type TestRegistry } from './helpers/registry.ts';

const TOKEN = 'ghs_imageAutomationToken0123456789abcd';
const REPO = 'berth-fixture-org/shop-manifests';
const API = `/repos/${REPO}`;
const MINUTE = 60_000;

let reg: TestRegistry;
let client: RegistryClient;
const digests: Record<string, string> = {};
const cleanups: Array<() => Promise<unknown>> = [];
const logs: string[] = [];
const log = createLogger({ level: 'debug', write: (l) => logs.push(l) });

/** A manifest as a person writes one: comments, a quoted range, a flow mapping, and the tag on a line of its own. */
const manifest = (o: { name: string; image: string; policy: string[] }): string => [
  '# Shop API: owned by the payments team.',
  'apiVersion: berth/v1',
  'kind: Service',
  `metadata: { name: ${o.name}, namespace: shop }   # flow mapping kept`,
  'spec:',
  '  # the image berth moves along the policy below',
  `  image: ${o.image}`,
  '  replicas: 2',
  '  env: { MODE: "fast" }',
  ...o.policy,
  '',
  '---',
  '# a second document, untouched',
  'apiVersion: berth/v1',
  'kind: Service',
  'metadata: { name: other, namespace: shop }',
  'spec:',
  `  image: ${o.image}`,
  '',
].join('\n');
const SEMVER = ['  imagePolicy:', "    semver: '>=2.3 <3'   # minor updates only", '    interval: 1m'];

async function remote(files: Record<string, string>): Promise<Remote> {
  const r = await makeRemote(files);
  cleanups.push(() => r.close());
  return r;
}

async function source(r: Remote): Promise<GitSource> {
  const cacheDir = await mkdtemp(join(tmpdir(), 'berth-imgauto-cache-'));
  cleanups.push(() => rm(cacheDir, { recursive: true, force: true }));
  return openGitSource({ repo: r.url, branch: 'main', cacheDir });
}

/** Runs git in the served bare repository. */
const bare = (r: Remote, args: string[]): Promise<string> => runGit(r.bareDir, args, gitEnv(r.bareDir));

interface Setup {
  r: Remote;
  src: GitSource;
  auto: ImageAutomation;
  clock: { t: number };
  track(): Promise<void>;
}

async function setup(files: Record<string, string>, extra: Partial<ImageAutomationDeps> = {}): Promise<Setup> {
  const r = await remote(files);
  const src = await source(r);
  const clock = { t: 1_700_000_000_000 };
  const auto = new ImageAutomation({ source: src, branch: 'main', lister: client, log, mode: 'branch', now: () => clock.t, ...extra });
  const track = async (): Promise<void> => auto.track(await loadDesired(await src.snapshot(await src.head()), { instance: 'imgauto', path: '' }));
  await track();
  return { r, src, auto, clock, track };
}

beforeAll(async () => {
  reg = await startTestRegistry();
  cleanups.push(() => reg.stop());
  client = new RegistryClient({ credentials: { get: async () => ({ username: reg.username, password: reg.password }) }, certsDir: DOCKER_CERTS_DIR });
  // Distinct images (a layer of random bytes each) so every tag has its own digest.
  for (const tag of ['2.3.0', '2.4.0', '3.0.0']) digests[`api:${tag}`] = await reg.pushSized(`shop/api:${tag}`, 0.01);
  for (const tag of ['2.3.0', '2.4.0']) digests[`pr:${tag}`] = await reg.push(TEST_IMAGE, `shop/pr:${tag}`);
  for (const tag of ['build-9', 'build-10', 'build-2', 'main-77']) await reg.push(TEST_IMAGE, `shop/nightly:${tag}`);
}, 180_000);

afterAll(async () => {
  for (const fn of cleanups.reverse()) await fn().catch(() => undefined);
  // Neither the registry's password nor the GitHub token ever reached a log line.
  for (const line of logs) {
    expect(line).not.toContain(reg.password);
    expect(line).not.toContain(TOKEN);
  }
}, 60_000);

describe('branch mode', () => {
  it('(a)+(b) commits the selected tag on the tracked branch, only the tag changing; nothing twice; a new tag at the next interval', async () => {
    const text = manifest({ name: 'api', image: `${reg.host}/shop/api:2.3.0`, policy: SEMVER });
    const s = await setup({ 'shop/api.yaml': text, 'README.md': '# manifests\n' });
    const before = await bare(s.r, ['rev-parse', 'main']);

    const [u, ...more] = await s.auto.tick();
    expect(more).toEqual([]);
    expect(u).toMatchObject({ service: 'shop/api', file: 'shop/api.yaml', from: '2.3.0', to: '2.4.0', fromDigest: digests['api:2.3.0'], toDigest: digests['api:2.4.0'] });
    // On the server: one commit on top of the previous tip, with only the tag changed, by berth.
    expect(await bare(s.r, ['rev-parse', 'main'])).toBe(u!.commit);
    expect(await bare(s.r, ['rev-parse', `${u!.commit}^`])).toBe(before);
    expect(await bare(s.r, ['show', `main:shop/api.yaml`])).toBe(text.replace(`shop/api:2.3.0\n  replicas`, `shop/api:2.4.0\n  replicas`).trimEnd());
    expect(await bare(s.r, ['diff', '--stat', before, 'main'])).toMatch(/^shop\/api\.yaml \| 2 \+-\n 1 file changed, 1 insertion\(\+\), 1 deletion\(-\)$/);
    expect(await bare(s.r, ['log', '-1', '--format=%an <%ae>|%cn <%ce>', 'main'])).toBe('berth <berth@localhost>|berth <berth@localhost>');
    const message = await bare(s.r, ['log', '-1', '--format=%B', 'main']);
    const short = (d: string | undefined): string => d!.slice(0, 'sha256:'.length + 12);
    expect(message.split('\n')[0]).toBe(`image: shop/api 2.3.0 -> 2.4.0 (${short(digests['api:2.3.0'])} -> ${short(digests['api:2.4.0'])})`);
    expect(message).toContain(`From digest: ${digests['api:2.3.0']}`);
    expect(message).toContain(`To digest: ${digests['api:2.4.0']}`);
    expect(message).toContain(`Policy: semver ">=2.3 <3" in shop/api.yaml`);
    // The other Service of the file, with the same image and no policy, is untouched.
    expect(await bare(s.r, ['show', `main:shop/api.yaml`])).toContain(`name: other, namespace: shop }\nspec:\n  image: ${reg.host}/shop/api:2.3.0`);

    // A second tick (due again, berth has not applied it yet): nothing committed.
    s.clock.t += MINUTE;
    expect(await s.auto.tick()).toEqual([]);
    expect(await bare(s.r, ['rev-parse', 'main'])).toBe(u!.commit);
    // Applied (the revision in force now has 2.4.0), due again: still nothing.
    await s.track();
    s.clock.t += MINUTE;
    expect(await s.auto.tick()).toEqual([]);
    expect(await bare(s.r, ['rev-list', '--count', 'main'])).toBe('2');

    // (b) 2.5.0 pushed: the next due tick commits it. Measured: push done -> commit on the git server.
    const t0 = performance.now();
    digests['api:2.5.0'] = await reg.pushSized('shop/api:2.5.0', 0.01);
    const t1 = performance.now();
    s.clock.t += 30_000;
    expect(await s.auto.tick()).toEqual([]); // not due yet: half an interval
    s.clock.t += 30_000;
    const t2 = performance.now();
    const [u2] = await s.auto.tick();
    const onServer = await bare(s.r, ['rev-parse', 'main']);
    const t3 = performance.now();
    expect(u2).toMatchObject({ from: '2.4.0', to: '2.5.0', toDigest: digests['api:2.5.0'] });
    expect(onServer).toBe(u2!.commit);
    console.log(`[bench] image automation: docker push of the new tag ${(t1 - t0).toFixed(0)} ms; tick (list tags, resolve, commit, push to git) -> commit on the server ${(t3 - t2).toFixed(0)} ms (goal: within one poll interval + 2 s)`);
    expect(t3 - t2).toBeLessThan(2_000);
    expect(await bare(s.r, ['show', 'main:shop/api.yaml'])).toContain(`image: ${reg.host}/shop/api:2.5.0\n  replicas: 2`);
  });

  it('(d) a pattern policy with numerical order picks build-10 over build-9 and build-2', async () => {
    const policy = ['  imagePolicy:', '    pattern: "^build-(?P<n>[0-9]+)$"', '    order: numerical', '    extract: $n', '    interval: 10m'];
    const text = manifest({ name: 'nightly', image: `${reg.host}/shop/nightly:build-9`, policy });
    const s = await setup({ 'nightly.yaml': text });
    const [u] = await s.auto.tick();
    expect(u).toMatchObject({ service: 'shop/nightly', from: 'build-9', to: 'build-10' });
    expect(await bare(s.r, ['show', 'main:nightly.yaml'])).toBe(text.replace(`nightly:build-9\n  replicas`, `nightly:build-10\n  replicas`).trimEnd());
    expect(await bare(s.r, ['log', '-1', '--format=%B', 'main'])).toContain('Policy: pattern "^build-(?P<n>[0-9]+)$" order numerical extract "$n" in nightly.yaml');
    expect(s.auto.nextDue()).toBe(s.clock.t + 10 * MINUTE);
  });

  it('a manual pin newer than the policy selects is left alone', async () => {
    const s = await setup({ 'api.yaml': manifest({ name: 'api', image: `${reg.host}/shop/api:2.9.9`, policy: SEMVER }) });
    const tip = await bare(s.r, ['rev-parse', 'main']);
    expect(await s.auto.tick()).toEqual([]);
    expect(await bare(s.r, ['rev-parse', 'main'])).toBe(tip);
  });
});

describe('GitSource.commitFiles on a real server', () => {
  it('creates a branch from a commit, and edits again on the new tip when a push lands between the read and the commit', async () => {
    const r = await remote({ 'a.yaml': 'a: 1\n', 'b.yaml': 'b: 1\n' });
    const src = await source(r);
    const base = await src.head();
    const created = await src.commitFiles('berth/image-updates/shop/x', async (tip) => {
      expect(tip?.revision).toBe(base);
      return { 'a.yaml': `${(await tip!.read('a.yaml')).toString()}x: 1\n` };
    }, 'on a new branch', { createFrom: base });
    expect(await bare(r, ['rev-parse', 'berth/image-updates/shop/x'])).toBe(created);
    expect(await bare(r, ['show', 'berth/image-updates/shop/x:a.yaml'])).toBe('a: 1\nx: 1');
    await expect(src.commitFiles('nowhere', async () => ({ 'a.yaml': 'z' }), 'm')).rejects.toThrow(/not found/);

    const seen: string[] = [];
    const commit = await src.commitFiles('main', async (tip) => {
      seen.push(tip!.revision);
      if (seen.length === 1) await r.commit({ 'b.yaml': 'b: 2\n' }, 'someone else'); // lands before our push
      return { 'a.yaml': 'a: 2\n' };
    }, 'ours');
    expect(seen).toHaveLength(2);
    expect(seen[0]).toBe(base);
    expect(await bare(r, ['rev-parse', 'main'])).toBe(commit);
    expect(await bare(r, ['rev-parse', 'main^'])).toBe(seen[1]);
    expect(await bare(r, ['show', 'main:b.yaml'])).toBe('b: 2');
    expect(await bare(r, ['show', 'main:a.yaml'])).toBe('a: 2');
    expect(await src.commitFiles('main', async () => ({ 'a.yaml': 'a: 2\n' }), 'same')).toBeNull();
    await expect(src.commitFiles('main', async () => ({ '../evil': 'x' }), 'bad')).rejects.toThrow(/invalid/);
    await expect(src.commitFiles('bad..name', async () => ({ 'a.yaml': 'x' }), 'bad')).rejects.toThrow(/invalid branch/);
  });
});

describe('pull request mode', () => {
  let gh: GitHubFixtures | undefined;
  afterAll(async () => gh?.close());

  it('(c) commits on berth/image-updates/<ns>/<name> from the tracked tip and opens the pull request into it, then updates it', async () => {
    const branch = imageUpdateBranch('shop', 'pr');
    const user = { login: 'berth[bot]', id: 41898282, type: 'Bot' };
    const repoObj = { id: 1, name: 'shop-manifests', full_name: REPO, owner: { login: 'berth-fixture-org', id: 1, type: 'Organization' } };
    const pull = (number: number, title: string, body: string) => ({
      url: `https://api.github.com${API}/pulls/${number}`, id: 7000 + number, number, state: 'open', title, body, user,
      html_url: `https://github.com/${REPO}/pull/${number}`, draft: false, merged_at: null,
      head: { label: `berth-fixture-org:${branch}`, ref: branch, sha: 'x', repo: repoObj, user },
      base: { label: 'berth-fixture-org:main', ref: 'main', sha: 'y', repo: repoObj, user },
    });
    const ok = (body: unknown, status = 200): FixtureExchange['response'] => ({ status, headers: { 'content-type': 'application/json; charset=utf-8', 'x-ratelimit-remaining': '4999' }, body });
    const list = (...pulls: unknown[]): FixtureExchange => ({ request: { method: 'GET', path: `${API}/pulls?state=open&head=berth-fixture-org:${branch}&base=main&per_page=100` }, response: ok(pulls) });
    gh = await startGitHubFixtures([
      list(),
      { request: { method: 'POST', path: `${API}/pulls` }, response: ok(pull(12, 'created', ''), 201) },
      list(pull(12, 'image: shop/pr 2.3.0 -> 2.4.0 (old title)', 'old body')),
      { request: { method: 'PATCH', path: `${API}/pulls/12` }, response: ok(pull(12, 'new', 'new')) },
    ], { token: TOKEN });
    const github = createGitHubClient({ repo: REPO, token: TOKEN, apiUrl: gh.url, log, retry: { unitMs: 10 } });
    const text = manifest({ name: 'pr', image: `${reg.host}/shop/pr:2.3.0`, policy: SEMVER });
    const s = await setup({ 'shop/pr.yaml': text }, { mode: 'pr', github });
    const mainTip = await bare(s.r, ['rev-parse', 'main']);

    const [u] = await s.auto.tick();
    expect(u).toMatchObject({ service: 'shop/pr', from: '2.3.0', to: '2.4.0', pull: 12, toDigest: digests['pr:2.4.0'] });
    // The tracked branch is untouched; the update branch, from its tip, holds the new tag.
    expect(await bare(s.r, ['rev-parse', 'main'])).toBe(mainTip);
    expect(await bare(s.r, ['rev-parse', branch])).toBe(u!.commit);
    expect(await bare(s.r, ['rev-parse', `${branch}^`])).toBe(mainTip);
    expect(await bare(s.r, ['show', `${branch}:shop/pr.yaml`])).toBe(text.replace(`shop/pr:2.3.0\n  replicas`, `shop/pr:2.4.0\n  replicas`).trimEnd());
    const created = gh.requests[1]!;
    expect(created.authorized).toBe(true);
    expect(created.body).toMatchObject({ head: branch, base: 'main', title: expect.stringMatching(/^image: shop\/pr 2\.3\.0 -> 2\.4\.0 \(sha256:[0-9a-f]{12} -> sha256:[0-9a-f]{12}\)$/) });
    expect((created.body as { body: string }).body).toContain('Policy: semver ">=2.3 <3" in shop/pr.yaml');

    // Nothing new at the next interval: no commit, no GitHub call.
    s.clock.t += MINUTE;
    expect(await s.auto.tick()).toEqual([]);
    expect(gh.requests).toHaveLength(2);

    // 2.5.0 before the merge: one more commit on the same branch; the same pull request, retitled (exists).
    await reg.push(TEST_IMAGE, 'shop/pr:2.5.0');
    s.clock.t += MINUTE;
    const [u2] = await s.auto.tick();
    expect(u2).toMatchObject({ from: '2.3.0', to: '2.5.0', pull: 12 });
    expect(await bare(s.r, ['rev-parse', `${branch}^`])).toBe(u!.commit);
    expect(await bare(s.r, ['show', `${branch}:shop/pr.yaml`])).toContain(`image: ${reg.host}/shop/pr:2.5.0\n  replicas`);
    expect(await bare(s.r, ['rev-parse', 'main'])).toBe(mainTip);
    expect((gh.requests[3]!.body as { title: string }).title).toMatch(/^image: shop\/pr 2\.3\.0 -> 2\.5\.0 /);
    gh.done();
  });

  it('openPull: a pull request created meanwhile by another writer (422) is found, not duplicated; a failure names no token', async () => {
    const head = 'berth/image-updates/shop/race';
    const listPath = `${API}/pulls?state=open&head=berth-fixture-org:${head}&base=main&per_page=100`;
    const json = { 'content-type': 'application/json; charset=utf-8' };
    const raced = { number: 31, title: 't', body: 'b', head: { ref: head, sha: 'x', repo: null }, base: { ref: 'main', sha: 'y', repo: null } };
    const fx = await startGitHubFixtures([
      { request: { method: 'GET', path: listPath }, response: { status: 200, headers: json, body: [] } },
      { request: { method: 'POST', path: `${API}/pulls` }, response: { status: 422, headers: json, body: { message: 'Validation Failed', errors: [{ resource: 'PullRequest', code: 'custom', message: `A pull request already exists for berth-fixture-org:${head}.` }] } } },
      { request: { method: 'GET', path: listPath }, response: { status: 200, headers: json, body: [raced] } },
      { request: { method: 'GET', path: listPath }, response: { status: 401, headers: json, body: { message: 'Bad credentials' } } },
    ], { token: TOKEN });
    cleanups.push(() => fx.close());
    const github = createGitHubClient({ repo: REPO, token: TOKEN, apiUrl: fx.url, log, retry: { unitMs: 10 } });
    expect(await github.openPull(head, 'main', 't', 'b')).toEqual({ number: 31, action: 'exists' });
    const err = await github.openPull(head, 'main', 't', 'b').then(() => undefined, (e: unknown) => e as Error & { code?: string });
    expect(err?.code).toBe('E_GITHUB');
    expect(err?.message).toMatch(/open a pull request from berth\/image-updates\/shop\/race into main: HTTP 401/);
    expect(`${err?.message} ${err?.stack}`).not.toContain(TOKEN);
    fx.done();
  });
});
