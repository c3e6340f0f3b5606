/** Read-only views of a commit's tree, with tree objects cached by oid (trees are immutable). */
import git from 'isomorphic-git';
import { BerthError } from '../model/errors.ts';
import type { RepoSnapshot, TreeEntry } from './source.ts';
import type { Repo } from './git-repo.ts';

/** One entry of a git tree object. */
export interface TreeItem {
  name: string;
  /** Octal string as isomorphic-git reports it: '100644', '100755', '120000', '040000', '160000'. */
  mode: string;
  oid: string;
  type: 'blob' | 'tree' | 'commit';
}

const ROOT_MODE = '040000';

/** Small blobs (manifests) are kept up to this many bytes in total; larger ones are always read from the repository. */
const BLOB_BUDGET = 32 * 1024 * 1024;
const BLOB_MAX = 256 * 1024;

/**
 * Caches immutable objects by oid: parsed trees, commit → root tree and small blobs, each bounded
 * (least recently used entries are dropped). Repeated snapshots of the same or a nearby revision read almost nothing.
 */
export class TreeCache {
  readonly repo: Repo;
  private readonly max: number;
  private readonly trees = new Map<string, readonly TreeItem[]>();
  private readonly roots = new Map<string, string>();
  private readonly blobs = new Map<string, Buffer>();
  private blobBytes = 0;

  constructor(repo: Repo, max = 20_000) {
    this.repo = repo;
    this.max = max;
  }

  /** The entries of tree `oid`. */
  async tree(oid: string): Promise<readonly TreeItem[]> {
    const hit = this.trees.get(oid);
    if (hit) {
      this.trees.delete(oid);
      this.trees.set(oid, hit);
      return hit;
    }
    const { tree } = await git.readTree({ fs: this.repo.fs, gitdir: this.repo.gitdir, oid, cache: this.repo.cache });
    const items = tree.map((e) => ({ name: e.path, mode: e.mode, oid: e.oid, type: e.type }));
    remember(this.trees, oid, items, this.max);
    return items;
  }

  /** The content of blob `oid` (a copy: callers may modify it). */
  async blob(oid: string): Promise<Buffer> {
    const hit = this.blobs.get(oid);
    if (hit) {
      this.blobs.delete(oid);
      this.blobs.set(oid, hit);
      return Buffer.from(hit);
    }
    const { blob } = await git.readBlob({ fs: this.repo.fs, gitdir: this.repo.gitdir, oid, cache: this.repo.cache });
    const data = Buffer.from(blob);
    if (data.length <= BLOB_MAX) this.keepBlob(oid, Buffer.from(data));
    return data;
  }

  private keepBlob(oid: string, data: Buffer): void {
    this.blobs.set(oid, data);
    this.blobBytes += data.length;
    for (const [old, buf] of this.blobs) {
      if (this.blobBytes <= BLOB_BUDGET) break;
      this.blobs.delete(old);
      this.blobBytes -= buf.length;
    }
  }

  /** The root tree oid of commit `oid` (which must be present locally). */
  async rootOf(commit: string): Promise<string> {
    const hit = this.roots.get(commit);
    if (hit) return hit;
    const { commit: c } = await git.readCommit({ fs: this.repo.fs, gitdir: this.repo.gitdir, oid: commit, cache: this.repo.cache });
    remember(this.roots, commit, c.tree, this.max);
    return c.tree;
  }

  /** The entry at `parts` below tree `root` (the root itself for []), or null when absent. */
  async lookup(root: string, parts: readonly string[]): Promise<TreeItem | null> {
    let current: TreeItem = { name: '', mode: ROOT_MODE, oid: root, type: 'tree' };
    for (const part of parts) {
      if (current.type !== 'tree') return null;
      const next = (await this.tree(current.oid)).find((e) => e.name === part);
      if (!next) return null;
      current = next;
    }
    return current;
  }

  /** Every file (blob or symlink) below tree `oid`, paths prefixed with `prefix`; submodules are skipped. */
  async files(oid: string, prefix: string): Promise<TreeEntry[]> {
    const items = await this.tree(oid);
    const nested = await Promise.all(items.map(async (item): Promise<TreeEntry[]> => {
      const path = prefix ? `${prefix}/${item.name}` : item.name;
      if (item.type === 'tree') return this.files(item.oid, path);
      if (item.type === 'blob') return [{ path, mode: Number.parseInt(item.mode, 8) }];
      return [];
    }));
    return nested.flat();
  }
}

function remember<V>(map: Map<string, V>, key: string, value: V, max: number): void {
  map.set(key, value);
  if (map.size <= max) return;
  const oldest = map.keys().next();
  if (!oldest.done) map.delete(oldest.value);
}

/** Repository-relative path segments ('' and '.' are the root), or null for a path leaving the repository. */
export function splitPath(path: string): string[] | null {
  const parts = path.split('/').filter((p) => p !== '' && p !== '.');
  return parts.includes('..') ? null : parts;
}

/** The E_PATH_MISSING error for `path` at `revision`. */
export function pathMissing(path: string, revision: string): BerthError {
  return new BerthError('E_PATH_MISSING', `path ${path || '.'} does not exist at revision ${revision.slice(0, 7)}`);
}

/** Runs a read of repository objects (lets the source keep reads apart from fetches that write packs). */
export type ReadGuard = <T>(task: () => Promise<T>) => Promise<T>;

/** A RepoSnapshot of `revision`, a commit present in the cache's repository; every read goes through `guard`. */
export async function createSnapshot(trees: TreeCache, revision: string, guard: ReadGuard): Promise<RepoSnapshot> {
  const root = await trees.rootOf(revision);
  const at = async (path: string): Promise<TreeItem | null> => {
    const parts = splitPath(path);
    return parts ? trees.lookup(root, parts) : null;
  };
  return {
    revision,
    list: (dir) => guard(async () => {
      const entry = await at(dir);
      if (entry?.type !== 'tree') throw pathMissing(dir, revision);
      const prefix = (splitPath(dir) ?? []).join('/');
      const files = await trees.files(entry.oid, prefix);
      return files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    }),
    read: (path) => guard(async () => {
      const entry = await at(path);
      if (entry?.type !== 'blob' || entry.name === '') throw pathMissing(path, revision);
      return trees.blob(entry.oid);
    }),
    treeId: (dir) => guard(async () => {
      const entry = await at(dir);
      return entry?.type === 'tree' ? entry.oid : null;
    }),
  };
}
