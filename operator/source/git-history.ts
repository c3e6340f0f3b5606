/**
 * The history parts of the isomorphic-git source (GitHistory): abbreviated revisions, commit details, the past
 * versions of a status file, and a tree restored from a past revision as a new commit (berth rollback). Each runs
 * inside one exclusive task of the source (git-source.ts), like its other fetches and writes.
 */
import git from 'isomorphic-git';
import { BerthError } from '../model/errors.ts';
import { STATUS_BRANCH } from '../model/keys.ts';
import type { CommitInfo, StatusFileVersion } from './source.ts';
import { isOid, peelToCommit, type RefSync, type Repo } from './git-repo.ts';
import { pathMissing, splitPath, type TreeCache } from './git-snapshot.ts';

/** What the functions below use of the source. */
export interface HistoryContext {
  repo: Repo;
  sync: RefSync;
  trees: TreeCache;
  /** The tracked branch. */
  branch: string;
  description: string;
  author: { name: string; email: string };
}

const SHORT_OID = /^[0-9a-f]{4,39}$/i;
const DIR_MODE = '040000';
const MAX_PUSH_ATTEMPTS = 5;

/** A full id, an abbreviation (looked up among the objects present once the tracked branch is fetched), or a ref. */
export async function resolveRevision(ctx: HistoryContext, ref: string): Promise<string> {
  const unknown = () => new BerthError('E_GIT', `revision '${ref}' not found in ${ctx.description}`, { terminal: true });
  if (SHORT_OID.test(ref)) {
    await ctx.sync.branchTip(ctx.branch); // its history is what abbreviations are looked up in
    try {
      const oid = await git.expandOid({ fs: ctx.repo.fs, gitdir: ctx.repo.gitdir, oid: ref.toLowerCase(), cache: ctx.repo.cache });
      const commit = await peelToCommit(ctx.repo, oid);
      if (commit) return commit;
    } catch (err) {
      if ((err as { code?: string }).code === 'AmbiguousError') throw new BerthError('E_GIT', `revision '${ref}' is ambiguous in ${ctx.description}: give more digits`, { terminal: true });
    }
  }
  try {
    return isOid(ref) ? await ctx.sync.ensureCommit(ref) : await ctx.sync.resolve(ref);
  } catch (err) {
    if (err instanceof BerthError && /not found|does not point/.test(err.message)) throw unknown();
    throw err;
  }
}

/** The commit `sha` with its subject, author and committer time. */
export async function commitInfo(ctx: HistoryContext, sha: string): Promise<CommitInfo> {
  const oid = await ctx.sync.ensureCommit(sha);
  const { commit } = await git.readCommit({ fs: ctx.repo.fs, gitdir: ctx.repo.gitdir, oid, cache: ctx.repo.cache });
  return {
    sha: oid,
    subject: commit.message.split('\n')[0]!.trim(),
    author: { name: commit.author.name, email: commit.author.email },
    committedAt: new Date(commit.committer.timestamp * 1000).toISOString(),
    parents: commit.parent,
  };
}

/** Whether `sha` is the tracked branch's tip or one of its ancestors. */
export async function onTrackedBranch(ctx: HistoryContext, sha: string): Promise<boolean> {
  const tip = await ctx.sync.branchTip(ctx.branch);
  if (!tip) return false;
  if (tip === sha) return true;
  return git.isDescendent({ fs: ctx.repo.fs, gitdir: ctx.repo.gitdir, oid: tip, ancestor: sha, depth: -1, cache: ctx.repo.cache });
}

/**
 * The versions of `path` on the status branch, newest first (see GitHistory.statusVersions). A version counts only
 * when the commit before it was read too (or it is the first commit): one cut off by `maxCommits` is left out, so each
 * version's time is the commit that really wrote it.
 */
export async function statusVersions(ctx: HistoryContext, path: string, opts: { maxCommits: number; enough?: (v: readonly StatusFileVersion[]) => boolean }): Promise<StatusFileVersion[]> {
  const tip = await ctx.sync.branchTip(STATUS_BRANCH);
  const parts = splitPath(path);
  if (!tip || !parts) return [];
  const log = await git.log({ fs: ctx.repo.fs, gitdir: ctx.repo.gitdir, ref: tip, depth: opts.maxCommits, cache: ctx.repo.cache });
  const reachedRoot = log.length < opts.maxCommits || log[log.length - 1]!.commit.parent.length === 0;
  const blobAt = async (i: number): Promise<string | null> => {
    const item = await ctx.trees.lookup(log[i]!.commit.tree, parts);
    return item?.type === 'blob' ? item.oid : null;
  };
  const out: StatusFileVersion[] = [];
  let current = log.length ? await blobAt(0) : null;
  for (let i = 0; i < log.length; i++) {
    const older = i + 1 < log.length ? await blobAt(i + 1) : undefined;
    if (older === undefined && !reachedRoot) break;
    if (current && current !== older) {
      const entry = log[i]!;
      out.push({ commit: entry.oid, committedAt: new Date(entry.commit.committer.timestamp * 1000).toISOString(), content: (await ctx.trees.blob(current)).toString('utf8') });
      if (opts.enough?.(out)) break;
    }
    current = older ?? null;
  }
  return out;
}

/** Commits `branch`'s tip with `dir` replaced by `revision`'s and publishes it (see GitHistory.restoreTree). */
export async function restoreTree(ctx: HistoryContext, branch: string, revision: string, dir: string, message: string, opts: { createFrom?: string; author?: { name: string; email: string } } = {}): Promise<string | null> {
  const parts = splitPath(dir);
  if (!parts) throw new BerthError('E_CONFIG', `--path: "${dir}" leaves the repository`, { terminal: true });
  const target = await ctx.sync.ensureCommit(revision);
  const source = await ctx.trees.lookup(await ctx.trees.rootOf(target), parts);
  if (source?.type !== 'tree') throw pathMissing(dir, target);
  for (let attempt = 1; attempt <= MAX_PUSH_ATTEMPTS; attempt++) {
    const tip = await ctx.sync.branchTip(branch);
    const parent = tip ?? (opts.createFrom ? await ctx.sync.ensureCommit(opts.createFrom) : null);
    if (!parent) throw new BerthError('E_GIT', `branch '${branch}' not found in ${ctx.description}`);
    const base = await ctx.trees.rootOf(parent);
    const tree = await replaceAt(ctx, base, parts, source.oid);
    if (tree === base) return null;
    const now = new Date();
    const who = { ...(opts.author ?? ctx.author), timestamp: Math.floor(now.getTime() / 1000), timezoneOffset: now.getTimezoneOffset() };
    const commit = await git.writeCommit({
      fs: ctx.repo.fs, gitdir: ctx.repo.gitdir,
      commit: { message: message.endsWith('\n') ? message : `${message}\n`, tree, parent: [parent], author: who, committer: who },
    });
    if (await ctx.sync.publish(branch, commit, tip)) return commit;
  }
  throw new BerthError('E_GIT', `could not update '${branch}' of ${ctx.description}: rejected ${MAX_PUSH_ATTEMPTS} times by concurrent writers`);
}

/** Tree `root` (null: empty) with the entry at `parts` set to tree `oid`; returns the new root's id. */
async function replaceAt(ctx: HistoryContext, root: string | null, parts: readonly string[], oid: string): Promise<string> {
  if (parts.length === 0) return oid;
  const [name, ...rest] = parts as [string, ...string[]];
  const items = root ? [...(await ctx.trees.tree(root))] : [];
  const child = items.find((e) => e.name === name);
  const next = await replaceAt(ctx, child?.type === 'tree' ? child.oid : null, rest, oid);
  if (child?.type === 'tree' && child.oid === next && root) return root;
  const tree = [...items.filter((e) => e.name !== name), { name, mode: DIR_MODE, oid: next, type: 'tree' as const }]
    .map((e) => ({ path: e.name, mode: e.mode, oid: e.oid, type: e.type }));
  return git.writeTree({ fs: ctx.repo.fs, gitdir: ctx.repo.gitdir, tree });
}
