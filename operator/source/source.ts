/** Where manifests come from: a git repository at a revision. */

export interface TreeEntry {
  /** Repository-relative path, `/`-separated. */
  path: string;
  /** Unix mode as git records it (0o100644, 0o100755, 0o120000). */
  mode: number;
  /** Bytes of content, when the snapshot knows it without reading the file (a directory's stat; git trees hold none). */
  size?: number;
}

/** A read-only view of the repository at one revision. */
export interface RepoSnapshot {
  revision: string;
  /** Files under `dir` (repository-relative, '' or '.' = root), recursive, sorted by path. Throws BerthError E_PATH_MISSING when `dir` does not exist. */
  list(dir: string): Promise<TreeEntry[]>;
  /** Content of one file; throws BerthError E_PATH_MISSING when absent. */
  read(path: string): Promise<Buffer>;
  /** A content id of a directory (git tree oid) or null when absent: equal ids mean equal content. */
  treeId(dir: string): Promise<string | null>;
}

/** One branch of the repository. */
export interface Branch {
  /** The name without `refs/heads/`, e.g. `review/login`. */
  name: string;
  /** The commit id at its tip. */
  sha: string;
}

export interface GitSource {
  /** Human description (URL or path) without credentials. */
  readonly description: string;
  /** Commit id at the tip of the tracked branch, fetching only when the remote moved. Cheap when nothing changed. */
  head(): Promise<string>;
  /** Resolves a branch, tag, `refs/...` or commit id to a commit id, fetching it if needed (a fetch moves no ref: head() stays cheap). */
  resolve(ref: string): Promise<string>;
  /** Every branch of the repository, sorted by name: one ls-refs request for a remote (nothing is fetched), the refs of a local repository. */
  listBranches(): Promise<Branch[]>;
  /** A read-only view of the repository at `revision` (a commit id). */
  snapshot(revision: string): Promise<RepoSnapshot>;
  /** Reads a file of the status branch, or null when the branch or file is absent. */
  readStatus(path: string): Promise<string | null>;
  /** Every file below directory `dir` of the status branch (path -> content, paths repository-relative and sorted); empty when the branch or directory is absent. */
  readStatusDir(dir: string): Promise<Record<string, string>>;
  /**
   * Commits `files` (path -> content; null deletes) onto the status branch and pushes it.
   * Returns the new commit id, or null when the content is unchanged (no empty commits).
   * Retries on a rejected push by rebuilding the commit on the new tip.
   */
  writeStatus(files: Record<string, string | null>, message: string): Promise<string | null>;
  /**
   * Commits onto `branch` what `edit` returns for its tip (path -> content, null deletes; null = nothing to commit) and pushes.
   * When the branch does not exist it starts from commit `opts.createFrom` (required then; `edit` then sees that commit).
   * A rejected push (someone pushed meanwhile) calls `edit` again on the new tip, at most a few times. Returns the new
   * commit id, or null when edit returned null / nothing changed (no empty commits).
   * `edit` runs while the source is locked: it may read the snapshot it is given but must not call this source.
   * Throws E_GIT when the branch is absent without `createFrom`, on a path that leaves the repository, or when every
   * attempt was rejected.
   */
  commitFiles(
    branch: string,
    edit: (tip: RepoSnapshot | null) => Promise<Record<string, string | null> | null>,
    message: string,
    opts?: { createFrom?: string },
  ): Promise<string | null>;
}

/** A commit as `berth history` and `berth rollback` show it. */
export interface CommitInfo {
  sha: string;
  /** The first line of its message. */
  subject: string;
  author: { name: string; email: string };
  /** Committer time, ISO 8601 (UTC). */
  committedAt: string;
  parents: string[];
}

/** One version of a file of the status branch: the status commit that wrote it, and the content. */
export interface StatusFileVersion {
  commit: string;
  /** The status commit's committer time, ISO 8601 (UTC). */
  committedAt: string;
  content: string;
}

/** The history of the repository: past commits, past versions of the status, restoring a past tree (git-history.ts). */
export interface GitHistory {
  /** A commit id, or an unambiguous abbreviation of 4+ hex digits, a branch, a tag or `refs/...`, to a commit id; E_GIT naming it when unknown. */
  resolveRevision(ref: string): Promise<string>;
  /** The commit `sha` (fetched when needed); E_GIT when the repository has none. */
  commitInfo(sha: string): Promise<CommitInfo>;
  /** Whether commit `sha` is the tip of the tracked branch or one of its ancestors. */
  onTrackedBranch(sha: string): Promise<boolean>;
  /**
   * The versions of `path` on the status branch, newest first: each status commit whose `path` differs from its parent's,
   * walking at most `maxCommits` commits from the tip, and stopping early once `enough(versions so far)` holds.
   */
  statusVersions(path: string, opts: { maxCommits: number; enough?: (versions: readonly StatusFileVersion[]) => boolean }): Promise<StatusFileVersion[]>;
  /**
   * Commits onto `branch` its tip with directory `dir` ('.' = everything) replaced by `revision`'s, and pushes (never
   * forced; rebuilt on a newer tip when rejected). A missing `branch` starts from `opts.createFrom`. Returns the new
   * commit, or null when the tip's `dir` already equals `revision`'s. E_PATH_MISSING when `revision` has no `dir`.
   */
  restoreTree(branch: string, revision: string, dir: string, message: string, opts?: { createFrom?: string; author?: { name: string; email: string } }): Promise<string | null>;
}
