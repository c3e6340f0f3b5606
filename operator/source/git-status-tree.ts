/** Builds the tree of a status-branch commit: the parent's tree with some files written or deleted. */
import git from 'isomorphic-git';
import { BerthError } from '../model/errors.ts';
import type { Repo } from './git-repo.ts';
import { splitPath, type TreeCache, type TreeItem } from './git-snapshot.ts';

/** Changes below one directory: a file's content, null to delete it, or a nested directory's changes. */
interface ChangeDir {
  [name: string]: string | null | ChangeDir;
}

const FILE_MODE = '100644';
const DIR_MODE = '040000';

/** Groups `files` (path → content | null) by directory. Throws E_GIT on a path that is empty or leaves the repository. */
export function changeTree(files: Record<string, string | null>): ChangeDir {
  const root: ChangeDir = {};
  for (const [path, content] of Object.entries(files)) {
    const parts = splitPath(path);
    const name = parts?.pop();
    if (!parts || !name) throw new BerthError('E_GIT', `invalid status file path '${path}'`, { terminal: true });
    let dir = root;
    for (const part of parts) {
      const next = dir[part];
      if (typeof next === 'object' && next !== null) {
        dir = next;
        continue;
      }
      const created: ChangeDir = {};
      dir[part] = created;
      dir = created;
    }
    dir[name] = content;
  }
  return root;
}

/**
 * Writes the objects of `base` (a tree oid, or null for none) with `changes` applied and returns the new root tree oid.
 * Directories left empty disappear; an empty root is git's empty tree.
 */
export async function applyChanges(trees: TreeCache, base: string | null, changes: ChangeDir): Promise<string> {
  const oid = await rewrite(trees, base, changes);
  return oid ?? git.writeTree({ fs: trees.repo.fs, gitdir: trees.repo.gitdir, tree: [] });
}

async function rewrite(trees: TreeCache, base: string | null, changes: ChangeDir): Promise<string | null> {
  const entries = new Map<string, TreeItem>();
  for (const item of base ? await trees.tree(base) : []) entries.set(item.name, item);
  for (const [name, change] of Object.entries(changes)) {
    const next = await applyOne(trees.repo, trees, entries.get(name), name, change);
    if (next) entries.set(name, next);
    else entries.delete(name);
  }
  if (entries.size === 0) return null;
  const tree = [...entries.values()].map((e) => ({ path: e.name, mode: e.mode, oid: e.oid, type: e.type }));
  return git.writeTree({ fs: trees.repo.fs, gitdir: trees.repo.gitdir, tree });
}

async function applyOne(repo: Repo, trees: TreeCache, current: TreeItem | undefined, name: string, change: string | null | ChangeDir): Promise<TreeItem | null> {
  if (change === null) return null;
  if (typeof change === 'string') {
    const oid = await git.writeBlob({ fs: repo.fs, gitdir: repo.gitdir, blob: Buffer.from(change, 'utf8') });
    return { name, mode: FILE_MODE, oid, type: 'blob' };
  }
  const base = current?.type === 'tree' ? current.oid : null;
  const oid = await rewrite(trees, base, change);
  return oid ? { name, mode: DIR_MODE, oid, type: 'tree' } : null;
}
