/** Local repository access shared by the git source parts: object reads through isomorphic-git, ref helpers, error mapping. */
import fs from 'node:fs';
import { stat, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import git from 'isomorphic-git';
import { BerthError } from '../model/errors.ts';
import { redact } from '../util/redact.ts';
import type { Branch } from './source.ts';

/** A git directory (bare, or a work tree's `.git`) plus isomorphic-git's pack-index cache for it. */
export interface Repo {
  fs: typeof fs;
  gitdir: string;
  /** isomorphic-git `cache` object: keeps parsed pack indexes between calls. */
  cache: object;
}

const OID = /^[0-9a-f]{40}$/;

/** True for a full 40-hex commit id. */
export function isOid(ref: string): boolean {
  return OID.test(ref);
}

/** A Repo over an existing git directory. */
export function repoAt(gitdir: string): Repo {
  return { fs, gitdir, cache: {} };
}

/** Finds the git directory of a local repository path: `path/.git` (dir or `gitdir:` file), or `path` itself when bare. */
export async function findGitdir(path: string): Promise<string | null> {
  const root = resolve(path);
  const dotGit = join(root, '.git');
  const info = await stat(dotGit).catch(() => null);
  if (info?.isDirectory()) return dotGit;
  if (info?.isFile()) return linkedGitdir(root, dotGit);
  const [head, objects] = await Promise.all([stat(join(root, 'HEAD')).catch(() => null), stat(join(root, 'objects')).catch(() => null)]);
  return head?.isFile() && objects?.isDirectory() ? root : null;
}

/** A linked work tree or submodule: follow `gitdir:` and then `commondir`, where branches and objects live. */
async function linkedGitdir(root: string, dotGitFile: string): Promise<string | null> {
  const text = await readFile(dotGitFile, 'utf8');
  const match = /^gitdir:\s*(.+)$/m.exec(text);
  if (!match?.[1]) return null;
  const gitdir = resolve(root, match[1].trim());
  const common = await readFile(join(gitdir, 'commondir'), 'utf8').catch(() => null);
  return common ? resolve(gitdir, common.trim()) : gitdir;
}

/** The oid a ref points to, or null when the ref does not exist. */
export async function readRef(repo: Repo, ref: string): Promise<string | null> {
  try {
    return await git.resolveRef({ fs: repo.fs, gitdir: repo.gitdir, ref });
  } catch {
    return null;
  }
}

/** Points `ref` at `oid` (creating or moving it). */
export async function setRef(repo: Repo, ref: string, oid: string): Promise<void> {
  await git.writeRef({ fs: repo.fs, gitdir: repo.gitdir, ref, value: oid, force: true });
}

/** The commit id `oid` peels to (annotated tags are followed), or null when the object is not present. */
export async function peelToCommit(repo: Repo, oid: string): Promise<string | null> {
  try {
    const { oid: commit } = await git.readCommit({ fs: repo.fs, gitdir: repo.gitdir, oid, cache: repo.cache });
    return commit;
  } catch {
    return null;
  }
}

/** The root tree oid of a commit that is present locally. */
export async function commitTree(repo: Repo, oid: string): Promise<string> {
  const { commit } = await git.readCommit({ fs: repo.fs, gitdir: repo.gitdir, oid, cache: repo.cache });
  return commit.tree;
}

/** Sorts branches by name, in byte order (as git lists refs). */
export function sortBranches(branches: Branch[]): Branch[] {
  return branches.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}


/** A one-line reason for a failure of isomorphic-git or the network. */
export function describeGitError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const e = err as Error & { code?: string; data?: { statusCode?: number; statusMessage?: string } };
  if (e.code === 'HttpError') return `HTTP ${e.data?.statusCode ?? '?'} ${e.data?.statusMessage ?? ''}`.trim();
  if (e.code === 'UserCanceledError') return 'authentication failed';
  return e.message.split('\n')[0] ?? e.message;
}

/** A transient E_GIT error: `context: reason`, with secrets removed from both. */
export function gitError(context: string, err: unknown, secrets: readonly string[] = []): BerthError {
  const message = redact(`${context}: ${describeGitError(err)}`, secrets);
  return new BerthError('E_GIT', message, { cause: secrets.length > 0 ? sanitized(err, secrets) : err });
}

/** A copy of an error carrying only its code and a redacted message (the original may hold a URL with credentials). */
function sanitized(err: unknown, secrets: readonly string[]): Error {
  const e = err as { code?: unknown; message?: unknown };
  const copy = new Error(redact(String(e?.message ?? err), secrets));
  return Object.assign(copy, { code: e?.code });
}

/** How the source keeps its repository in step with where the branches really live (a remote server, or the local repo itself). */
export interface RefSync {
  /** Human description of the repository, without credentials. */
  readonly description: string;
  /** Secrets to strip from any message. */
  readonly secrets: readonly string[];
  /** Tip of `branch`, with its commit present locally; null when the branch does not exist. */
  branchTip(branch: string): Promise<string | null>;
  /** A branch, tag, `refs/...` name or commit id → a commit id present locally. Throws E_GIT when unknown. */
  resolve(ref: string): Promise<string>;
  /** Every branch with its tip commit id, sorted by name; nothing is fetched. */
  listBranches(): Promise<Branch[]>;
  /** Makes object `oid` present locally and returns the commit it peels to; throws E_GIT when the repository does not have it. */
  ensureCommit(oid: string): Promise<string>;
  /** Moves `branch` from `expected` (null: absent) to `commit` without forcing; false when someone else moved it first. */
  publish(branch: string, commit: string, expected: string | null): Promise<boolean>;
}
