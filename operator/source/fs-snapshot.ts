/** A RepoSnapshot over a plain directory (for `berth validate <dir>` and tests). */
import { createHash } from 'node:crypto';
import { lstat, readFile, readdir, readlink } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { BerthError } from '../model/errors.ts';
import type { RepoSnapshot, TreeEntry } from './source.ts';

const MODE_FILE = 0o100644;
const MODE_EXEC = 0o100755;
const MODE_LINK = 0o120000;

/**
 * A read-only snapshot of `rootDir` as it is on disk. list() is recursive, sorted, and skips only `.git`
 * (git never tracks it; other filtering is the loader's job); symlinks are listed (mode 0o120000) and read as their
 * target path, like git, never followed.
 */
export function fsSnapshot(rootDir: string, revision = 'worktree'): RepoSnapshot {
  const missing = (path: string): BerthError => new BerthError('E_PATH_MISSING', `path ${path} does not exist at revision ${revision}`);
  return {
    revision,
    async list(dir) {
      const rel = normalize(dir);
      if (rel === null || !(await isDir(join(rootDir, rel)))) throw missing(dir);
      return walk(rootDir, rel);
    },
    async read(path) {
      const rel = normalize(path);
      if (rel === null || rel === '') throw missing(path);
      try {
        // As git stores them: a symlink reads as its target path, never what it points at (a device, a FIFO, a
        // file outside the tree); anything but a regular file or a link is absent.
        const abs = join(rootDir, rel);
        const st = await lstat(abs);
        if (st.isSymbolicLink()) return Buffer.from(await readlink(abs));
        if (!st.isFile()) throw missing(path);
        return await readFile(abs);
      } catch (err) {
        if (isFsMissing(err)) throw missing(path);
        throw err;
      }
    },
    async treeId(dir) {
      const rel = normalize(dir);
      if (rel === null || !(await isDir(join(rootDir, rel)))) return null;
      return hashTree(rootDir, rel, await walk(rootDir, rel));
    },
  };
}

/** Repository-relative, '/'-separated, '' for the root; null when the path leaves the root. */
function normalize(path: string): string | null {
  const n = posix.normalize(path === '' ? '.' : path.replace(/\\/g, '/')).replace(/\/+$/, '');
  if (n === '..' || n.startsWith('../') || posix.isAbsolute(n)) return null;
  return n === '.' ? '' : n;
}

async function isDir(abs: string): Promise<boolean> {
  try {
    return (await lstat(abs)).isDirectory();
  } catch (err) {
    if (isFsMissing(err)) return false;
    throw err;
  }
}

async function walk(rootDir: string, rel: string): Promise<TreeEntry[]> {
  const out: TreeEntry[] = [];
  const visit = async (dirRel: string): Promise<void> => {
    const names = await readdir(join(rootDir, dirRel));
    await Promise.all(
      names.map(async (name) => {
        const path = dirRel === '' ? name : `${dirRel}/${name}`;
        const st = await lstat(join(rootDir, path));
        if (st.isDirectory()) return name === '.git' ? undefined : visit(path);
        if (st.isSymbolicLink()) out.push({ path, mode: MODE_LINK });
        else if (st.isFile()) out.push({ path, mode: st.mode & 0o111 ? MODE_EXEC : MODE_FILE, size: st.size });
      }),
    );
  };
  await visit(rel);
  return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** sha1 over (path relative to `rel`, mode, sha1 of content) of every file, in path order. */
async function hashTree(rootDir: string, rel: string, entries: TreeEntry[]): Promise<string> {
  const lines = await Promise.all(
    entries.map(async (e) => {
      const abs = join(rootDir, e.path);
      const content = e.mode === MODE_LINK ? Buffer.from(await readlink(abs)) : await readFile(abs);
      const relPath = rel === '' ? e.path : e.path.slice(rel.length + 1);
      return `${relPath}\0${e.mode.toString(8)}\0${createHash('sha1').update(content).digest('hex')}\n`;
    }),
  );
  return createHash('sha1').update(lines.join('')).digest('hex');
}

function isFsMissing(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR';
}
