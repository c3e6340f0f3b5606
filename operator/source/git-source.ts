/** The isomorphic-git adapter of GitSource: a remote smart-HTTP repository (bare cache clone) or a local repository read in place. */
import { resolve as resolvePath } from 'node:path';
import git from 'isomorphic-git';
import { asBerthError, BerthError } from '../model/errors.ts';
import { STATUS_BRANCH } from '../model/keys.ts';
import type { Branch, CommitInfo, GitHistory, GitSource, RepoSnapshot, StatusFileVersion } from './source.ts';
import { findGitdir, isOid, repoAt, type RefSync, type Repo } from './git-repo.ts';
import { LocalSync } from './git-local.ts';
import { openCacheRepo, parseRemoteUrl, RemoteSync } from './git-remote.ts';
import { createSnapshot, TreeCache } from './git-snapshot.ts';
import { applyChanges, changeTree } from './git-status-tree.ts';
import { commitInfo, onTrackedBranch, resolveRevision, restoreTree, statusVersions, type HistoryContext } from './git-history.ts';

export interface GitSourceOptions {
  /** http(s) URL (credentials may be given as userinfo), or a local repository path (work tree or bare). */
  repo: string;
  /** The tracked branch holding the manifests. */
  branch: string;
  /** Where bare clones of remote repositories are kept (`<sha1(url)>.git`), reused across restarts. */
  cacheDir: string;
  /** Author and committer of status commits; default `berth <berth@localhost>`. */
  author?: { name: string; email: string };
  /** Socket idle timeout of each HTTP request, in ms; default 30 000. */
  timeoutMs?: number;
}

const DEFAULT_AUTHOR = { name: 'berth', email: 'berth@localhost' };
const EMPTY_TREE = '4b825dc642cb6eb9a060e54bf8d69288fbee4904';
const MAX_WRITE_ATTEMPTS = 5;

/**
 * Opens a git source and checks that the repository is reachable and `branch` exists.
 * Throws BerthError E_GIT (transient) naming the repository (without credentials) and the branch otherwise.
 */
export async function openGitSource(opts: GitSourceOptions): Promise<GitSource & GitHistory> {
  const { repo, sync } = await openRepo(opts);
  const source = new IsoGitSource(repo, sync, opts.branch, opts.author ?? DEFAULT_AUTHOR);
  await source.open();
  return source;
}

/** The cache clone of a remote URL, or a local repository in place. */
async function openRepo(opts: GitSourceOptions): Promise<{ repo: Repo; sync: RefSync }> {
  const remote = parseRemoteUrl(opts.repo);
  if (remote) {
    const repo = await openCacheRepo(opts.cacheDir, remote, opts.branch);
    return { repo, sync: new RemoteSync(repo, remote, opts.branch, opts.timeoutMs ?? 30_000) };
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(opts.repo) || /^[^/\\]+@[^/\\:]+:/.test(opts.repo)) {
    throw new BerthError('E_CONFIG', 'unsupported repository location: use an http(s) URL or a local path (ssh and file:// are not supported)');
  }
  const path = resolvePath(opts.repo);
  const gitdir = await findGitdir(path);
  if (!gitdir) throw new BerthError('E_GIT', `${path} is not a git repository (branch '${opts.branch}')`);
  const repo = repoAt(gitdir);
  return { repo, sync: new LocalSync(repo, path) };
}

/**
 * Orders work on one repository: exclusive tasks (anything that fetches or writes refs and objects) run alone, in call order;
 * shared tasks (snapshot reads of immutable objects) run together between them. A read never sees a half-written pack index.
 */
class RepoLock {
  private lastExclusive: Promise<unknown> = Promise.resolve();
  private sharedSince: Array<Promise<unknown>> = [];

  /** Runs `task` after every task queued before it. */
  exclusive<T>(task: () => Promise<T>): Promise<T> {
    const result = Promise.all([this.lastExclusive, ...this.sharedSince]).then(task);
    this.lastExclusive = result.catch(() => undefined);
    this.sharedSince = [];
    return result;
  }

  /** Runs `task` after the exclusive tasks queued before it, alongside other shared tasks. */
  shared<T>(task: () => Promise<T>): Promise<T> {
    const result = this.lastExclusive.then(task);
    this.sharedSince.push(result.catch(() => undefined));
    if (this.sharedSince.length > 1000) this.sharedSince = [Promise.all(this.sharedSince)];
    return result;
  }
}

class IsoGitSource implements GitSource, GitHistory {
  readonly description: string;
  private readonly repo: Repo;
  private readonly sync: RefSync;
  private readonly branch: string;
  private readonly author: { name: string; email: string };
  private readonly trees: TreeCache;
  private readonly lock = new RepoLock();

  constructor(repo: Repo, sync: RefSync, branch: string, author: { name: string; email: string }) {
    this.repo = repo;
    this.sync = sync;
    this.branch = branch;
    this.author = author;
    this.description = sync.description;
    this.trees = new TreeCache(repo);
  }

  /** First contact: the repository must be reachable and the branch must exist (errors name both). */
  async open(): Promise<void> {
    let tip: string | null;
    try {
      tip = await this.lock.exclusive(() => this.sync.branchTip(this.branch));
    } catch (err) {
      const e = asBerthError(err, 'E_GIT');
      throw new BerthError(e.code, `${e.message} (opening branch '${this.branch}')`, { cause: e, terminal: e.terminal });
    }
    if (!tip) throw this.missingBranch();
  }

  /** Tip of the tracked branch; for a remote, one ls-refs request, plus a fetch only when the tip moved. */
  head(): Promise<string> {
    return this.lock.exclusive(async () => {
      const tip = await this.sync.branchTip(this.branch);
      if (!tip) throw this.missingBranch();
      return tip;
    });
  }

  private missingBranch(): BerthError {
    return new BerthError('E_GIT', `branch '${this.branch}' not found in ${this.description}`);
  }

  /** A branch, tag, `refs/...` name or 40-hex commit id → commit id, fetched if needed. */
  resolve(ref: string): Promise<string> {
    return this.lock.exclusive(() => this.sync.resolve(ref));
  }

  /** Every branch (an ls-refs for a remote, the refs of a local repository); reads no object, so it waits only for fetches and writes. */
  listBranches(): Promise<Branch[]> {
    return this.lock.shared(() => this.sync.listBranches());
  }

  /** A snapshot of commit `revision` (other refs are resolved first). */
  snapshot(revision: string): Promise<RepoSnapshot> {
    return this.lock.exclusive(async () => {
      const commit = isOid(revision) ? await this.sync.ensureCommit(revision) : await this.sync.resolve(revision);
      return createSnapshot(this.trees, commit, (task) => this.lock.shared(task));
    });
  }

  /** GitHistory (git-history.ts), each in one exclusive task. */
  resolveRevision(ref: string): Promise<string> {
    return this.lock.exclusive(() => resolveRevision(this.historyContext(), ref));
  }

  commitInfo(sha: string): Promise<CommitInfo> {
    return this.lock.exclusive(() => commitInfo(this.historyContext(), sha));
  }

  onTrackedBranch(sha: string): Promise<boolean> {
    return this.lock.exclusive(() => onTrackedBranch(this.historyContext(), sha));
  }

  statusVersions(path: string, opts: { maxCommits: number; enough?: (v: readonly StatusFileVersion[]) => boolean }): Promise<StatusFileVersion[]> {
    return this.lock.exclusive(() => statusVersions(this.historyContext(), path, opts));
  }

  restoreTree(branch: string, revision: string, dir: string, message: string, opts?: { createFrom?: string; author?: { name: string; email: string } }): Promise<string | null> {
    if (!isBranchName(branch)) return Promise.reject(new BerthError('E_GIT', `invalid branch name '${branch}'`, { terminal: true }));
    return this.lock.exclusive(() => restoreTree(this.historyContext(), branch, revision, dir, message, opts));
  }

  private historyContext(): HistoryContext {
    return { repo: this.repo, sync: this.sync, trees: this.trees, branch: this.branch, description: this.description, author: this.author };
  }

  /** A file at the tip of the status branch (fetched first for remotes), or null. */
  readStatus(path: string): Promise<string | null> {
    return this.lock.exclusive(async () => {
      const snap = await this.statusSnapshot();
      if (!snap) return null;
      const data = await snap.read(path).catch(nullIfMissing);
      return data ? data.toString('utf8') : null;
    });
  }

  /** Every file below `dir` at the tip of the status branch (fetched first for remotes), path -> content. */
  readStatusDir(dir: string): Promise<Record<string, string>> {
    return this.lock.exclusive(async () => {
      const snap = await this.statusSnapshot();
      const entries = snap ? await snap.list(dir).catch(nullIfMissing) : null;
      const out: Record<string, string> = {};
      if (!snap || !entries) return out;
      for (const entry of entries) out[entry.path] = (await snap.read(entry.path)).toString('utf8');
      return out;
    });
  }

  /** The tip of the status branch as a snapshot (read in the calling exclusive task), or null when the branch is absent. */
  private async statusSnapshot(): Promise<RepoSnapshot | null> {
    const tip = await this.sync.branchTip(STATUS_BRANCH);
    return tip ? createSnapshot(this.trees, tip, (task) => task()) : null;
  }

  /** Commits `files` onto the status branch and publishes it, rebuilding on the new tip when a push is rejected. */
  writeStatus(files: Record<string, string | null>, message: string): Promise<string | null> {
    return this.lock.exclusive(() => {
      const changes = changeTree(files);
      return this.commitLoop(STATUS_BRANCH, async () => changes, message, null);
    });
  }

  /** Commits what `edit` returns for the tip of `branch` (created from `opts.createFrom` when absent) and pushes it. */
  commitFiles(
    branch: string,
    edit: (tip: RepoSnapshot | null) => Promise<Record<string, string | null> | null>,
    message: string,
    opts: { createFrom?: string } = {},
  ): Promise<string | null> {
    if (!isBranchName(branch)) return Promise.reject(new BerthError('E_GIT', `invalid branch name '${branch}'`, { terminal: true }));
    return this.lock.exclusive(() =>
      this.commitLoop(branch, async (tip) => {
        const files = await edit(tip ? await createSnapshot(this.trees, tip, (task) => task()) : null);
        return files ? changeTree(files) : null;
      }, message, opts.createFrom ?? null),
    );
  }

  /**
   * The write loop shared by the status branch and commitFiles (run inside an exclusive task): read the branch tip
   * (or `createFrom` when the branch is absent), build the tree with `changesFor(tip)` applied, commit, publish
   * without force; a rejected publish starts over on the new tip.
   */
  private async commitLoop(
    branch: string,
    changesFor: (tip: string | null) => Promise<ReturnType<typeof changeTree> | null>,
    message: string,
    createFrom: string | null,
  ): Promise<string | null> {
    for (let attempt = 1; attempt <= MAX_WRITE_ATTEMPTS; attempt++) {
      const tip = await this.sync.branchTip(branch);
      let parent = tip;
      if (!parent && createFrom) parent = isOid(createFrom) ? await this.sync.ensureCommit(createFrom) : await this.sync.resolve(createFrom);
      if (!parent && branch !== STATUS_BRANCH) {
        throw new BerthError('E_GIT', `branch '${branch}' not found in ${this.description} (and no commit to create it from)`);
      }
      const changes = await changesFor(parent);
      if (!changes) return null;
      const base = parent ? await this.trees.rootOf(parent) : null;
      const tree = await applyChanges(this.trees, base, changes);
      if (tree === (base ?? EMPTY_TREE)) return null;
      const commit = await this.commit(tree, parent, message);
      if (await this.sync.publish(branch, commit, tip)) return commit;
    }
    throw new BerthError('E_GIT', `could not update '${branch}' of ${this.description}: rejected ${MAX_WRITE_ATTEMPTS} times by concurrent writers`);
  }

  private async commit(tree: string, parent: string | null, message: string): Promise<string> {
    const now = new Date();
    const who = { ...this.author, timestamp: Math.floor(now.getTime() / 1000), timezoneOffset: now.getTimezoneOffset() };
    return git.writeCommit({
      fs: this.repo.fs,
      gitdir: this.repo.gitdir,
      commit: { message: message.endsWith('\n') ? message : `${message}\n`, tree, parent: parent ? [parent] : [], author: who, committer: who },
    });
  }
}

/** A plausible git branch name (git check-ref-format's main rules): no `..`, no control or special characters, no `.lock` ends. */
function isBranchName(name: string): boolean {
  if (name === '' || name.length > 255 || name.startsWith('-') || name.startsWith('/') || name.endsWith('/') || name.endsWith('.')) return false;
  if (name.includes('..') || name.includes('//') || name.includes('@{') || name === '@') return false;
  if (/[\x00-\x20\x7f~^:?*[\\]/.test(name)) return false;
  return name.split('/').every((part) => part !== '' && !part.startsWith('.') && !part.endsWith('.lock'));
}

/** null for E_PATH_MISSING; any other error is rethrown. */
function nullIfMissing(err: unknown): null {
  if (err instanceof BerthError && err.code === 'E_PATH_MISSING') return null;
  throw err;
}
