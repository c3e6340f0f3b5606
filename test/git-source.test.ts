/** GitSource against a real git smart-HTTP server (git-http-backend) and against local repositories. */
import { chmod, mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { gzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { BerthError } from '../operator/model/errors.ts';
import { STATUS_BRANCH } from '../operator/model/keys.ts';
import { openGitSource } from '../operator/source/git-source.ts';
import type { GitSource } from '../operator/source/source.ts';
import { initBareRepo, startGitServer, type GitRequestInfo } from '../scripts/git-http-server.ts';
import { gitEnv, makeRemote, runGit, withAuth, writeFiles, type Remote, type RemoteOptions } from './helpers/git.ts';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

async function tempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function remote(files: Record<string, string>, opts?: RemoteOptions): Promise<Remote> {
  const r = await makeRemote(files, opts);
  cleanups.push(() => r.close());
  return r;
}

async function open(repo: string, branch = 'main'): Promise<GitSource> {
  return openGitSource({ repo, branch, cacheDir: await tempDir('berth-git-cache-') });
}

/** The BerthError a promise rejects with (fails the test when it resolves or throws anything else). */
async function berthError(p: Promise<unknown>): Promise<BerthError> {
  const err = await p.then(() => null, (e: unknown) => e);
  expect(err).toBeInstanceOf(BerthError);
  return err as BerthError;
}

/** Path → size and mtime of every file below `dir`. */
async function fileStates(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const name of await readdir(dir, { recursive: true })) {
    const s = await stat(join(dir, name));
    if (s.isFile()) out[name] = `${s.size}@${s.mtimeMs}`;
  }
  return out;
}

/** A fetch is a protocol-v1 upload-pack exchange; polling uses protocol-v2 ls-refs only. */
function isFetch(r: GitRequestInfo): boolean {
  const uploadPack = r.path.endsWith('/git-upload-pack') || r.query === 'service=git-upload-pack';
  return uploadPack && r.gitProtocol !== 'version=2';
}

const svc = (name: string, replicas = 1): string => `kind: Service\nmetadata: { name: ${name} }\nspec: { image: app:1, replicas: ${replicas} }\n`;

describe('remote repository over smart HTTP', () => {
  it('head() is stable without fetching, and follows a push', async () => {
    const requests: GitRequestInfo[] = [];
    const r = await remote({ 'a.yaml': svc('a') }, { onRequest: (info) => void requests.push(info) });
    const cacheDir = await tempDir('berth-git-cache-');
    const source = await openGitSource({ repo: r.url, branch: 'main', cacheDir });
    expect(source.description).toBe(r.url);
    const before = await fileStates(cacheDir);
    requests.length = 0;
    const first = await source.head();
    const second = await source.head();
    expect(first).toBe(await r.git(['rev-parse', 'HEAD']));
    expect(second).toBe(first);
    expect(requests.length).toBeGreaterThan(0);
    expect(requests.filter(isFetch)).toEqual([]);
    expect(await fileStates(cacheDir)).toEqual(before);

    const pushed = await r.commit({ 'b.yaml': svc('b') });
    requests.length = 0;
    expect(await source.head()).toBe(pushed);
    expect(requests.filter(isFetch).length).toBeGreaterThan(0);
    expect((await (await source.snapshot(pushed)).read('b.yaml')).toString()).toBe(svc('b'));
  });

  it('orders concurrent calls: polls, snapshot reads and status writes', async () => {
    const r = await remote({ 'a.yaml': svc('a') });
    const source = await open(r.url);
    const first = await source.head();
    const snap = await source.snapshot(first);
    const next = await r.commit({ 'b.yaml': svc('b') });
    const results = await Promise.all([
      source.head(), snap.read('a.yaml'), source.writeStatus({ 's.yaml': '1' }, 's1'), snap.list(''),
      source.head(), source.writeStatus({ 's.yaml': '2' }, 's2'), source.readStatus('s.yaml'),
    ]);
    expect(results[0]).toBe(next);
    expect(results[1]?.toString()).toBe(svc('a'));
    expect(results[3]).toEqual([{ path: 'a.yaml', mode: 0o100644 }]);
    expect(results[6]).toBe('2');
    expect(await runGit(r.bareDir, ['rev-list', '--count', STATUS_BRANCH], gitEnv(r.bareDir))).toBe('2');
  });

  it('reuses the cache clone across restarts', async () => {
    const r = await remote({ 'a.yaml': svc('a') });
    const cacheDir = await tempDir('berth-git-cache-');
    const head = await (await openGitSource({ repo: r.url, branch: 'main', cacheDir })).head();
    expect((await readdir(cacheDir)).filter((n) => n.endsWith('.git'))).toHaveLength(1);
    const before = await fileStates(join(cacheDir, (await readdir(cacheDir))[0] ?? '', 'objects'));
    expect(await (await openGitSource({ repo: r.url, branch: 'main', cacheDir })).head()).toBe(head);
    expect(await fileStates(join(cacheDir, (await readdir(cacheDir))[0] ?? '', 'objects'))).toEqual(before);
  });

  it('snapshot lists, reads and identifies trees', async () => {
    const r = await remote({ 'svc/a.yaml': svc('a'), 'svc/deep/b.yaml': svc('b'), 'other/x.txt': 'x', 'run.sh': '#!/bin/sh\n', 'Z.md': 'z' });
    await chmod(join(r.workDir, 'run.sh'), 0o755);
    const c1 = await r.commit({}, 'chmod');
    const source = await open(r.url);
    const s1 = await source.snapshot(c1);
    expect(s1.revision).toBe(c1);
    expect(await s1.list('')).toEqual([
      { path: 'Z.md', mode: 0o100644 }, { path: 'other/x.txt', mode: 0o100644 }, { path: 'run.sh', mode: 0o100755 },
      { path: 'svc/a.yaml', mode: 0o100644 }, { path: 'svc/deep/b.yaml', mode: 0o100644 },
    ]);
    expect((await s1.list('./svc/')).map((e) => e.path)).toEqual(['svc/a.yaml', 'svc/deep/b.yaml']);
    expect((await s1.read('svc/deep/b.yaml')).toString()).toBe(svc('b'));
    expect(await s1.treeId('svc')).toBe(await r.git(['rev-parse', `${c1}:svc`]));
    expect(await s1.treeId('')).toBe(await r.git(['rev-parse', `${c1}^{tree}`]));
    expect(await s1.treeId('nope')).toBeNull();
    expect(await s1.treeId('run.sh')).toBeNull();
    for (const p of [s1.read('svc/nope.yaml'), s1.read('svc'), s1.list('nope'), s1.list('run.sh'), s1.read('../etc/passwd')]) {
      const err = await berthError(p);
      expect(err.code).toBe('E_PATH_MISSING');
      expect(err.message).toContain(c1.slice(0, 7));
    }

    const c2 = await r.commit({ 'other/x.txt': 'y' });
    const c3 = await r.commit({ 'svc/a.yaml': svc('a', 3) });
    await source.head();
    const [s2, s3] = [await source.snapshot(c2), await source.snapshot(c3)];
    expect(await s2.treeId('svc')).toBe(await s1.treeId('svc'));
    expect(await s2.treeId('other')).not.toBe(await s1.treeId('other'));
    expect(await s3.treeId('svc')).not.toBe(await s2.treeId('svc'));
    expect(await s3.treeId('svc/deep')).toBe(await s2.treeId('svc/deep'));
    expect((await s3.read('svc/a.yaml')).toString()).toBe(svc('a', 3));
    expect((await s1.read('svc/a.yaml')).toString()).toBe(svc('a'));
  });

  it('resolves branches, tags, commit ids and refs/pull/N/head', async () => {
    const r = await remote({ 'a.yaml': svc('a') });
    const c1 = await r.git(['rev-parse', 'HEAD']);
    await r.git(['tag', 'v1']);
    const c2 = await r.commit({ 'a.yaml': svc('a', 2) });
    await r.git(['tag', '-a', '-m', 'release 2', 'v2']);
    await r.git(['push', '--quiet', 'origin', 'v1', 'v2']);
    const source = await open(r.url);
    // A pull request head: a commit on no branch, only reachable from refs/pull/1/head.
    await r.git(['checkout', '--quiet', '-b', 'feature']);
    const pr = await r.git(['commit', '--quiet', '--allow-empty', '-m', 'pr']).then(() => r.git(['rev-parse', 'HEAD']));
    await r.git(['push', '--quiet', 'origin', 'feature:refs/heads/tmp-pr']);
    await runGit(r.bareDir, ['update-ref', 'refs/pull/1/head', pr], gitEnv(r.bareDir));
    await r.git(['push', '--quiet', 'origin', ':refs/heads/tmp-pr']);

    expect(await source.resolve('main')).toBe(c2);
    expect(await source.resolve('v1')).toBe(c1);
    expect(await source.resolve('v2')).toBe(c2);
    expect(await source.resolve('refs/tags/v2')).toBe(c2);
    expect(await source.resolve(c1)).toBe(c1);
    expect(await source.resolve('refs/pull/1/head')).toBe(pr);
    expect((await source.snapshot(pr)).revision).toBe(pr);

    const err = await berthError(source.resolve('no-such-ref'));
    expect([err.code, err.terminal]).toEqual(['E_GIT', false]);
    expect(err.message).toContain('no-such-ref');
    expect((await berthError(source.resolve('0'.repeat(40)))).code).toBe('E_GIT');
  });

  it('fetches a commit id that is only on the server', async () => {
    const r = await remote({ 'a.yaml': svc('a') });
    const source = await open(r.url);
    await r.git(['checkout', '--quiet', '-b', 'side']);
    await writeFiles(r.workDir, { 'pr.yaml': svc('pr') });
    await r.git(['add', '-A']);
    await r.git(['commit', '--quiet', '-m', 'side']);
    await r.git(['push', '--quiet', 'origin', 'side:refs/pull/2/head']);
    const sha = await r.git(['rev-parse', 'HEAD']);
    const snap = await source.snapshot(sha);
    expect((await snap.read('pr.yaml')).toString()).toBe(svc('pr'));
    expect(await source.resolve(sha)).toBe(sha);
  });
});

describe('status branch write-back', () => {
  it('commits, skips unchanged content, chains commits and deletes files', async () => {
    const r = await remote({ 'a.yaml': svc('a') });
    const main = await r.git(['rev-parse', 'HEAD']);
    const source = await open(r.url);
    const bare = (args: string[]): Promise<string> => runGit(r.bareDir, args, gitEnv(r.bareDir));
    expect(await source.readStatus('default/status.yaml')).toBeNull();

    const c1 = await source.writeStatus({ 'default/status.yaml': 'ready: true\n', 'default/plans/x.md': '# plan\n' }, 'status 1');
    expect(c1).toMatch(/^[0-9a-f]{40}$/);
    expect(await bare(['rev-parse', STATUS_BRANCH])).toBe(c1);
    expect(await bare(['rev-list', '--parents', '-n1', STATUS_BRANCH])).toBe(c1);
    expect(await bare(['show', `${STATUS_BRANCH}:default/plans/x.md`])).toBe('# plan');
    expect(await bare(['log', '-1', '--format=%an <%ae>|%s', STATUS_BRANCH])).toBe('berth <berth@localhost>|status 1');

    expect(await source.writeStatus({ 'default/status.yaml': 'ready: true\n' }, 'same')).toBeNull();
    expect(await bare(['rev-parse', STATUS_BRANCH])).toBe(c1);

    const c2 = await source.writeStatus({ 'default/status.yaml': 'ready: false\n', 'default/plans/x.md': null }, 'status 2');
    expect(await bare(['rev-list', '--parents', '-n1', STATUS_BRANCH])).toBe(`${c2} ${c1}`);
    expect(await bare(['ls-tree', '-r', '--name-only', STATUS_BRANCH])).toBe('default/status.yaml');
    expect(await source.readStatus('default/status.yaml')).toBe('ready: false\n');
    expect(await source.readStatus('default/plans/x.md')).toBeNull();
    expect(await bare(['rev-parse', 'main'])).toBe(main);

    const fresh = await open(r.url);
    expect(await fresh.readStatus('default/status.yaml')).toBe('ready: false\n');
    expect(await fresh.writeStatus({ 'default/status.yaml': 'ready: false\n' }, 'same')).toBeNull();
  });

  for (const when of ['before our ref discovery', 'after our ref discovery, before our pack'] as const) {
    it(`lands both changes when another writer pushes ${when}`, async () => {
      let armed = false;
      let interleaved = '';
      const other = await tempDir('berth-git-other-');
      const env = gitEnv(other);
      const r = await remote({ 'a.yaml': svc('a') }, {
        onRequest: async (info) => {
          const hit = when === 'before our ref discovery' ? info.query === 'service=git-receive-pack' : info.method === 'POST' && info.path.endsWith('/git-receive-pack');
          if (!armed || !hit) return;
          armed = false;
          await runGit(other, ['fetch', '--quiet', 'origin', STATUS_BRANCH], env);
          await runGit(other, ['checkout', '--quiet', '-B', 'st', 'FETCH_HEAD'], env);
          await writeFiles(other, { 'other/status.yaml': 'from: other\n' });
          await runGit(other, ['add', '-A'], env);
          await runGit(other, ['commit', '--quiet', '-m', 'other writer'], env);
          await runGit(other, ['push', '--quiet', 'origin', `st:refs/heads/${STATUS_BRANCH}`], env);
          interleaved = await runGit(other, ['rev-parse', 'HEAD'], env);
        },
      });
      await runGit(other, ['clone', '--quiet', r.url, '.'], env);
      const source = await open(r.url);
      await source.writeStatus({ 'default/status.yaml': 'v: 1\n' }, 'first');
      armed = true;
      const ours = await source.writeStatus({ 'default/status.yaml': 'v: 2\n' }, 'second');
      expect(interleaved).toMatch(/^[0-9a-f]{40}$/);
      const bare = (args: string[]): Promise<string> => runGit(r.bareDir, args, env);
      expect(await bare(['rev-parse', STATUS_BRANCH])).toBe(ours);
      expect(await bare(['rev-list', '--parents', '-n1', STATUS_BRANCH])).toBe(`${ours} ${interleaved}`);
      expect(await bare(['show', `${STATUS_BRANCH}:other/status.yaml`])).toBe('from: other');
      expect(await source.readStatus('default/status.yaml')).toBe('v: 2\n');
    });
  }
});

describe('local repository read in place', () => {
  async function workTree(): Promise<{ dir: string; git: (args: string[]) => Promise<string> }> {
    const dir = await tempDir('berth-git-local-');
    const git = (args: string[]): Promise<string> => runGit(dir, args, gitEnv(dir));
    await git(['init', '--quiet', '--initial-branch=main']);
    await writeFiles(dir, { 'svc/a.yaml': svc('a'), 'README.md': 'hi' });
    await git(['add', '-A']);
    await git(['commit', '--quiet', '-m', 'init']);
    await git(['tag', 'v1']);
    return { dir, git };
  }

  it('reads a work tree repository and writes its status branch', async () => {
    const { dir, git } = await workTree();
    const source = await open(dir);
    const head = await git(['rev-parse', 'HEAD']);
    expect(source.description).toBe(dir);
    expect(await source.head()).toBe(head);
    expect(await source.resolve('v1')).toBe(head);
    expect((await (await source.snapshot(head)).read('svc/a.yaml')).toString()).toBe(svc('a'));
    const c1 = await source.writeStatus({ 'default/status.yaml': 'ok\n' }, 'status');
    expect(await git(['rev-parse', STATUS_BRANCH])).toBe(c1);
    expect(await source.writeStatus({ 'default/status.yaml': 'ok\n' }, 'status')).toBeNull();
    expect(await source.readStatus('default/status.yaml')).toBe('ok\n');
    expect(await git(['status', '--porcelain'])).toBe('');
    expect(await git(['symbolic-ref', 'HEAD'])).toBe('refs/heads/main');
    const next = await git(['commit', '--quiet', '--allow-empty', '-m', 'next']).then(() => git(['rev-parse', 'HEAD']));
    expect(await source.head()).toBe(next);
  });

  it('reads a bare repository', async () => {
    const { dir } = await workTree();
    const bareDir = join(await tempDir('berth-git-bare-'), 'repo.git');
    await runGit(dir, ['clone', '--quiet', '--bare', dir, bareDir], gitEnv(dir));
    const source = await open(bareDir);
    const head = await runGit(bareDir, ['rev-parse', 'main'], gitEnv(dir));
    expect(await source.head()).toBe(head);
    expect((await (await source.snapshot(head)).list('')).map((e) => e.path)).toEqual(['README.md', 'svc/a.yaml']);
    const c1 = await source.writeStatus({ 'x/y.md': 'y' }, 'status');
    expect(await runGit(bareDir, ['show', `${c1}:x/y.md`], gitEnv(dir))).toBe('y');
    expect((await berthError(open(join(bareDir, 'objects')))).code).toBe('E_GIT');
  });
});

describe('errors', () => {
  it('an unreachable server is a transient E_GIT, at open and later', async () => {
    const probe = await startGitServer({ root: await tempDir('berth-git-none-') });
    await probe.close();
    const err = await berthError(open(`http://127.0.0.1:${probe.port}/repo.git`));
    expect([err.code, err.terminal]).toEqual(['E_GIT', false]);
    expect(err.message).toContain(`127.0.0.1:${probe.port}/repo.git`);
    expect(err.message).toContain("'main'");

    const r = await makeRemote({ 'a.yaml': svc('a') });
    const source = await open(r.url);
    await r.close();
    const later = await berthError(source.head());
    expect([later.code, later.terminal]).toEqual(['E_GIT', false]);
  });

  it('a missing branch is E_GIT naming the branch', async () => {
    const r = await remote({ 'a.yaml': svc('a') });
    const err = await berthError(open(r.url, 'release'));
    expect(err.code).toBe('E_GIT');
    expect(err.message).toContain("'release'");
    expect(err.message).toContain(r.url);
    expect((await berthError(open(await tempDir('berth-git-empty-')))).code).toBe('E_GIT');
    expect((await berthError(open('git@github.com:o/r.git'))).code).toBe('E_CONFIG');
    expect((await berthError(open('ssh://git@github.com/o/r.git'))).code).toBe('E_CONFIG');
  });

  it('credentials from the URL are used but never shown', async () => {
    const auth = { username: 'berth-user', password: 'secret' };
    const r = await remote({ 'a.yaml': svc('a') }, { auth });
    const cacheDir = await tempDir('berth-git-cache-');
    const source = await openGitSource({ repo: withAuth(r.url, auth), branch: 'main', cacheDir });
    expect(source.description).toBe(r.url);
    expect(await source.head()).toBe(await r.git(['rev-parse', 'HEAD']));
    expect(await source.writeStatus({ 's.yaml': 'ok' }, 'status')).toMatch(/^[0-9a-f]{40}$/);
    for (const name of await readdir(cacheDir, { recursive: true })) {
      const path = join(cacheDir, name);
      if ((await stat(path)).isFile()) expect(await readFile(path, 'latin1')).not.toContain('secret');
    }
    const bad = [
      await berthError(open(withAuth(r.url, { username: 'berth-user', password: 'wrong-secret' }))),
      await berthError(open(withAuth(r.url.replace(/:\d+\//, ':1/'), auth))),
      await berthError(open(`${withAuth(r.url, auth)}x`)),
    ];
    for (const err of bad) {
      expect(err.code).toBe('E_GIT');
      expect(inspect(err, { depth: 10 })).not.toContain('secret');
    }
  });
});

describe('git http server', () => {
  /** Waits until `cond()` holds, failing after `ms`. */
  async function until(cond: () => boolean, ms: number): Promise<void> {
    const deadline = Date.now() + ms;
    while (!cond()) {
      if (Date.now() > deadline) throw new Error(`condition not met within ${ms} ms`);
      await new Promise((ok) => setTimeout(ok, 10));
    }
  }

  it('reports pushes, accepts gzipped bodies and closes kept-alive connections promptly', async () => {
    const root = await tempDir('berth-git-srv-');
    const pushes: string[] = [];
    await initBareRepo(root, 'repo.git');
    const server = await startGitServer({ root, onPush: (repo) => void pushes.push(repo) });
    cleanups.push(() => server.close());
    const work = await tempDir('berth-git-work-');
    const env = gitEnv(work);
    await runGit(work, ['init', '--quiet', '--initial-branch=main'], env);
    await runGit(work, ['commit', '--quiet', '--allow-empty', '-m', 'x'], env);
    await runGit(work, ['push', '--quiet', `${server.url}/repo.git`, 'main'], env);
    await until(() => pushes.length === 1, 5_000);
    expect(pushes).toEqual(['repo.git']);

    const pkt = (line: string): string => `${(line.length + 4).toString(16).padStart(4, '0')}${line}`;
    const body = gzipSync(Buffer.from(`${pkt('command=ls-refs\n')}0001${pkt('ref-prefix refs/heads/\n')}0000`));
    const res = await fetch(`${server.url}/repo.git/git-upload-pack`, {
      method: 'POST', body,
      headers: { 'Content-Type': 'application/x-git-upload-pack-request', 'Content-Encoding': 'gzip', 'Git-Protocol': 'version=2' },
    });
    expect(res.status).toBe(200);
    expect(await res.text()).toContain(`${await runGit(work, ['rev-parse', 'HEAD'], env)} refs/heads/main`);
    expect((await fetch(`${server.url}/missing.git/info/refs?service=git-upload-pack`)).status).toBe(404);

    const started = Date.now();
    await server.close();
    expect(Date.now() - started).toBeLessThan(1_000);
  });
});
