/** An in-memory GitSource for fast unit tests of the reconciler: commits are file maps, the status branch a map. */
import { createHash } from 'node:crypto';
import { BerthError } from '../model/errors.ts';
import type { GitSource, RepoSnapshot, TreeEntry } from './source.ts';

export class MemorySource implements GitSource {
  readonly description = 'memory://test';
  private readonly commits = new Map<string, Record<string, string>>();
  private tip = '';
  readonly status = new Map<string, string>();
  /** Number of status commits made (unchanged writes do not count). */
  statusCommits = 0;

  /** Adds a commit with exactly `files` and moves the branch to it; returns its id. */
  push(files: Record<string, string>): string {
    const id = createHash('sha1').update(JSON.stringify([this.tip, files])).digest('hex');
    this.commits.set(id, files);
    this.tip = id;
    return id;
  }

  async head(): Promise<string> {
    if (!this.tip) throw new BerthError('E_GIT', 'branch main does not exist');
    return this.tip;
  }

  async resolve(ref: string): Promise<string> {
    if (this.commits.has(ref)) return ref;
    if (ref === 'main') return this.head();
    throw new BerthError('E_GIT', `ref ${ref} not found`);
  }

  async snapshot(revision: string): Promise<RepoSnapshot> {
    const files = this.commits.get(revision);
    if (!files) throw new BerthError('E_GIT', `commit ${revision} not found`);
    return memorySnapshot(files, revision);
  }

  async readStatus(path: string): Promise<string | null> {
    return this.status.get(path) ?? null;
  }

  async writeStatus(files: Record<string, string | null>): Promise<string | null> {
    let changed = false;
    for (const [path, content] of Object.entries(files)) {
      if ((this.status.get(path) ?? null) === content) continue;
      changed = true;
      if (content === null) this.status.delete(path);
      else this.status.set(path, content);
    }
    if (!changed) return null;
    this.statusCommits++;
    return createHash('sha1').update(String(this.statusCommits)).digest('hex');
  }
}

/** A RepoSnapshot over a file map. */
export function memorySnapshot(files: Record<string, string>, revision: string): RepoSnapshot {
  const under = (dir: string): TreeEntry[] => {
    const prefix = dir === '' || dir === '.' ? '' : `${dir.replace(/\/$/, '')}/`;
    return Object.keys(files).filter((p) => p.startsWith(prefix)).sort().map((path) => ({ path, mode: 0o100644 }));
  };
  return {
    revision,
    async list(dir) {
      const entries = under(dir);
      if (!entries.length && dir !== '' && dir !== '.') throw new BerthError('E_PATH_MISSING', `path ${dir} does not exist at revision ${revision}`);
      return entries;
    },
    async read(path) {
      const c = files[path];
      if (c === undefined) throw new BerthError('E_PATH_MISSING', `path ${path} does not exist at revision ${revision}`);
      return Buffer.from(c);
    },
    async treeId(dir) {
      const entries = under(dir);
      if (!entries.length) return null;
      return createHash('sha1').update(JSON.stringify(entries.map((e) => [e.path, files[e.path]]))).digest('hex');
    },
  };
}
