/** Plain-git review branches against a real git smart-HTTP server and a local repository: listing, fetching heads, plan files on the status branch. */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { STATUS_BRANCH } from '../operator/model/keys.ts';
import { matchReviewBranches, planFiles, publishBranchPlans, type BranchPlan } from '../operator/review/branches.ts';
import { openGitSource } from '../operator/source/git-source.ts';
import type { GitSource } from '../operator/source/source.ts';
import type { GitRequestInfo } from '../scripts/git-http-server.ts';
import { gitEnv, makeRemote, runGit, writeFiles, type Remote } from './helpers/git.ts';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

async function tempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** A fetch is a protocol-v1 upload-pack exchange; polling uses protocol-v2 ls-refs only. */
function isFetch(r: GitRequestInfo): boolean {
  const uploadPack = r.path.endsWith('/git-upload-pack') || r.query === 'service=git-upload-pack';
  return uploadPack && r.gitProtocol !== 'version=2';
}

const svc = (name: string, replicas = 1): string => `kind: Service\nmetadata: { name: ${name} }\nspec: { image: app:1, replicas: ${replicas} }\n`;

/** Commits `files` on top of `from` in `git` (a work tree whose own branch is main), pushes it as `branch`, returns the commit. */
async function pushBranch(git: (args: string[]) => Promise<string>, workDir: string, branch: string, from: string, files: Record<string, string | null>): Promise<string> {
  await git(['checkout', '--quiet', '--detach', from]);
  await writeFiles(workDir, files);
  await git(['add', '-A']);
  await git(['commit', '--quiet', '--allow-empty', '-m', `on ${branch}`]);
  const sha = await git(['rev-parse', 'HEAD']);
  await git(['push', '--quiet', 'origin', `HEAD:refs/heads/${branch}`]);
  await git(['checkout', '--quiet', 'main']);
  return sha;
}

const plan = (branch: string, sha: string, text: string): BranchPlan =>
  ({ branch, sha, markdown: `# ${branch}\n\n${text}\n`, json: { branch, revision: sha, summary: text } });

describe('review branches on a remote repository', () => {
  it('lists and fetches review heads without moving main, and keeps their plan files on the status branch', async () => {
    const requests: GitRequestInfo[] = [];
    const r: Remote = await makeRemote({ 'a.yaml': svc('a') }, { onRequest: (info) => void requests.push(info) });
    cleanups.push(() => r.close());
    const env = gitEnv(r.bareDir);
    const bare = (args: string[]): Promise<string> => runGit(r.bareDir, args, env);
    const push = (branch: string, from: string, files: Record<string, string | null>): Promise<string> => pushBranch(r.git, r.workDir, branch, from, files);
    const main = await r.git(['rev-parse', 'HEAD']);
    let a = await push('review/a', 'main', { 'a.yaml': svc('a', 2) });
    const b = await push('review/b', 'main', { 'b.yaml': svc('b') });

    const cacheDir = await tempDir('berth-git-cache-');
    const source = await openGitSource({ repo: r.url, branch: 'main', cacheDir });
    const [cache] = await readdir(cacheDir);
    const cacheGit = (args: string[]): Promise<string> => runGit(join(cacheDir, cache!), args, env);
    expect(await source.head()).toBe(main);
    const refsBefore = await cacheGit(['for-each-ref']);

    requests.length = 0;
    expect(await source.listBranches()).toEqual([{ name: 'main', sha: main }, { name: 'review/a', sha: a }, { name: 'review/b', sha: b }]);
    expect(requests.filter(isFetch)).toEqual([]);
    expect(requests.map((x) => x.gitProtocol)).toEqual(['version=2', 'version=2']);

    expect(await source.resolve('refs/heads/review/a')).toBe(a);
    expect(await source.resolve('review/b')).toBe(b);
    expect((await (await source.snapshot(a)).read('a.yaml')).toString()).toBe(svc('a', 2));
    expect(await cacheGit(['for-each-ref'])).toBe(refsBefore);
    requests.length = 0;
    expect(await source.head()).toBe(main);
    expect(requests.filter(isFetch)).toEqual([]);

    const reviewed = matchReviewBranches(await source.listBranches(), ['review/*'], 'main');
    expect(reviewed.map((x) => x.name)).toEqual(['review/a', 'review/b']);
    const first = await publishBranchPlans(source, 'prod', [plan('review/a', a, 'one'), plan('review/b', b, 'two')], ['review/a', 'review/b']);
    expect(first).toBe(await bare(['rev-parse', STATUS_BRANCH]));
    expect(await bare(['show', `${STATUS_BRANCH}:${planFiles('prod', 'review/a').md}`])).toBe('# review/a\n\none');
    expect(JSON.parse(await bare(['show', `${STATUS_BRANCH}:prod/plans/review/b.json`]))).toEqual({ branch: 'review/b', revision: b, summary: 'two' });
    expect(await bare(['log', '-1', '--format=%s', STATUS_BRANCH])).toBe(`berth: plans for review/a (${a.slice(0, 7)}), review/b (${b.slice(0, 7)})`);
    expect(await publishBranchPlans(source, 'prod', [plan('review/a', a, 'one'), plan('review/b', b, 'two')], ['review/a', 'review/b'])).toBeNull();
    expect(await bare(['rev-list', '--count', STATUS_BRANCH])).toBe('1');

    // review/a moves: its file follows, review/b's stays.
    a = await push('review/a', a, { 'c.yaml': svc('c') });
    expect((await source.listBranches()).find((x) => x.name === 'review/a')?.sha).toBe(a);
    expect(await source.resolve('refs/heads/review/a')).toBe(a);
    await publishBranchPlans(source, 'prod', [plan('review/a', a, 'three')], ['review/a', 'review/b']);
    expect(await bare(['show', `${STATUS_BRANCH}:prod/plans/review/a.md`])).toBe('# review/a\n\nthree');
    expect(await bare(['show', `${STATUS_BRANCH}:prod/plans/review/b.md`])).toBe('# review/b\n\ntwo');

    // review/b is deleted on the server: its files go, nothing else changes.
    await r.git(['push', '--quiet', 'origin', ':refs/heads/review/b']);
    const left = matchReviewBranches(await source.listBranches(), ['review/*'], 'main');
    expect(left.map((x) => x.name)).toEqual(['review/a']);
    await publishBranchPlans(source, 'prod', [], left.map((x) => x.name));
    expect((await bare(['ls-tree', '-r', '--name-only', STATUS_BRANCH])).split('\n')).toEqual(['prod/plans/review/a.json', 'prod/plans/review/a.md']);
    expect(await bare(['log', '-1', '--format=%s', STATUS_BRANCH])).toBe('berth: plans: review/b removed');
    expect(await bare(['rev-list', '--count', STATUS_BRANCH])).toBe('3');

    // A branch below a deleted one (review/a gone, review/a/x new) resolves: no stale ref is in the way.
    await r.git(['push', '--quiet', 'origin', ':refs/heads/review/a']);
    const nested = await push('review/a/x', main, { 'x.yaml': svc('x') });
    expect(await source.resolve('refs/heads/review/a/x')).toBe(nested);
    expect(matchReviewBranches(await source.listBranches(), ['review/**'], 'main')).toEqual([{ name: 'review/a/x', sha: nested }]);

    requests.length = 0;
    expect(await source.head()).toBe(main);
    expect(requests.filter(isFetch)).toEqual([]);
    expect(await bare(['rev-parse', 'main'])).toBe(main);
  });
});

describe('review branches in a local repository', () => {
  it('lists loose and packed branches, resolves them and reads the plans directory back', async () => {
    const dir = await tempDir('berth-git-local-');
    const env = gitEnv(dir);
    const git = (args: string[]): Promise<string> => runGit(dir, args, env);
    await git(['init', '--quiet', '--initial-branch=main']);
    await writeFiles(dir, { 'a.yaml': svc('a') });
    await git(['add', '-A']);
    await git(['commit', '--quiet', '-m', 'init']);
    const main = await git(['rev-parse', 'HEAD']);
    await git(['branch', 'review/packed']);
    await git(['pack-refs', '--all']);
    await git(['checkout', '--quiet', '-b', 'review/loose']);
    await git(['commit', '--quiet', '--allow-empty', '-m', 'loose']);
    const loose = await git(['rev-parse', 'HEAD']);
    await git(['checkout', '--quiet', 'main']);

    const source: GitSource = await openGitSource({ repo: dir, branch: 'main', cacheDir: await tempDir('berth-git-cache-') });
    expect(await source.listBranches()).toEqual([{ name: 'main', sha: main }, { name: 'review/loose', sha: loose }, { name: 'review/packed', sha: main }]);
    expect(await source.resolve('refs/heads/review/loose')).toBe(loose);

    expect(await source.readStatusDir('prod/plans')).toEqual({});
    await publishBranchPlans(source, 'prod', [plan('review/loose', loose, 'x')], ['review/loose']);
    expect(await source.readStatusDir('prod/plans')).toEqual({
      'prod/plans/review/loose.json': `{\n  "branch": "review/loose",\n  "revision": "${loose}",\n  "summary": "x"\n}\n`,
      'prod/plans/review/loose.md': '# review/loose\n\nx\n',
    });
    expect(await source.readStatusDir('other')).toEqual({});
    expect((await source.listBranches()).map((x) => x.name)).toEqual(['berth/status', 'main', 'review/loose', 'review/packed']);
    expect(await git(['rev-parse', 'main'])).toBe(main);
  });
});
