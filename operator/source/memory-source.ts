/** An in-memory GitSource for fast unit tests of the reconciler: commits are file maps, the status branch a map. */
import { createHash } from 'node:crypto';
import { BerthError } from '../model/errors.ts';
import type { Branch, GitSource, RepoSnapshot, TreeEntry } from './source.ts';

export class MemorySource implements GitSource {
  readonly description = 'memory://test';
  private readonly commits = new Map<string, Record<string, string>>();
  private tip = '';
  /** Branches other than the tracked `main`: name -> commit id (set with pushBranch, or directly). */
  readonly branches = new Map<string, string>();
  readonly status = new Map<string, string>();
  /** Number of status commits made (unchanged writes do not count). */
  statusCommits = 0;
  /** The message of each status commit made, in order. */
  readonly statusMessages: string[] = [];

  /** Every commit made by commitFiles, in order. */
  readonly commitLog: Array<{ branch: string; commit: string; parent: string; message: string; files: Record<string, string | null> }> = [];
  /**
   * Called by commitFiles after `edit` and before it moves the branch (tests simulate a concurrent push here, e.g. with
   * push or pushBranch): when the branch moved meanwhile, the commit is dropped and `edit` runs again on the new tip.
   */
  beforePublish?: (branch: string, attempt: number) => void;

  /** Adds a commit with exactly `files` and moves the branch to it; returns its id. */
  push(files: Record<string, string>): string {
    const id = createHash('sha1').update(JSON.stringify([this.tip, files])).digest('hex');
    this.commits.set(id, files);
    this.tip = id;
    return id;
  }

  /** Adds a commit with exactly `files` on branch `name` (not the tracked one) and moves that branch to it; returns its id. */
  pushBranch(name: string, files: Record<string, string>): string {
    const id = createHash('sha1').update(JSON.stringify([name, this.branches.get(name) ?? '', files])).digest('hex');
    this.commits.set(id, files);
    this.branches.set(name, id);
    return id;
  }

  async head(): Promise<string> {
    if (!this.tip) throw new BerthError('E_GIT', 'branch main does not exist');
    return this.tip;
  }

  async resolve(ref: string): Promise<string> {
    if (this.commits.has(ref)) return ref;
    const name = ref.replace(/^refs\/heads\//, '');
    if (name === 'main') return this.head();
    const sha = this.branches.get(name);
    if (sha) return sha;
    throw new BerthError('E_GIT', `ref ${ref} not found`);
  }

  async listBranches(): Promise<Branch[]> {
    const all = [...(this.tip ? [{ name: 'main', sha: this.tip }] : []), ...[...this.branches].map(([name, sha]) => ({ name, sha }))];
    return all.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  async snapshot(revision: string): Promise<RepoSnapshot> {
    const files = this.commits.get(revision);
    if (!files) throw new BerthError('E_GIT', `commit ${revision} not found`);
    return memorySnapshot(files, revision);
  }

  async readStatus(path: string): Promise<string | null> {
    return this.status.get(path) ?? null;
  }

  async readStatusDir(dir: string): Promise<Record<string, string>> {
    const prefix = dir === '' || dir === '.' ? '' : `${dir.replace(/\/$/, '')}/`;
    const paths = [...this.status.keys()].filter((p) => p.startsWith(prefix)).sort();
    return Object.fromEntries(paths.map((p) => [p, this.status.get(p) ?? '']));
  }

  async writeStatus(files: Record<string, string | null>, message = ''): Promise<string | null> {
    let changed = false;
    for (const [path, content] of Object.entries(files)) {
      if ((this.status.get(path) ?? null) === content) continue;
      changed = true;
      if (content === null) this.status.delete(path);
      else this.status.set(path, content);
    }
    if (!changed) return null;
    this.statusCommits++;
    this.statusMessages.push(message);
    return createHash('sha1').update(String(this.statusCommits)).digest('hex');
  }

  /** As GitSource.commitFiles, on the file maps: `main` is the tracked branch, any other name lives in `branches`. */
  async commitFiles(
    branch: string,
    edit: (tip: RepoSnapshot | null) => Promise<Record<string, string | null> | null>,
    message: string,
    opts: { createFrom?: string } = {},
  ): Promise<string | null> {
    for (let attempt = 1; attempt <= 5; attempt++) {
      const tip = this.branchTip(branch);
      const parent = tip ?? (opts.createFrom !== undefined ? await this.resolve(opts.createFrom) : undefined);
      if (parent === undefined) throw new BerthError('E_GIT', `branch '${branch}' not found in ${this.description} (and no commit to create it from)`);
      const base = this.commits.get(parent) ?? {};
      const changes = await edit(memorySnapshot(base, parent));
      if (!changes) return null;
      const files: Record<string, string> = { ...base };
      for (const [path, content] of Object.entries(changes)) {
        if (path === '' || path.startsWith('/') || path.split('/').some((seg) => seg === '' || seg === '.' || seg === '..')) {
          throw new BerthError('E_GIT', `invalid file path '${path}'`, { terminal: true });
        }
        if (content === null) delete files[path];
        else files[path] = content;
      }
      if (JSON.stringify(sorted(files)) === JSON.stringify(sorted(base))) return null;
      this.beforePublish?.(branch, attempt);
      if (this.branchTip(branch) !== tip) continue; // someone pushed meanwhile: edit again on the new tip
      const id = createHash('sha1').update(JSON.stringify([branch, parent, sorted(files), message, this.commitLog.length])).digest('hex');
      this.commits.set(id, files);
      if (branch === 'main') this.tip = id;
      else this.branches.set(branch, id);
      this.commitLog.push({ branch, commit: id, parent, message, files: changes });
      return id;
    }
    throw new BerthError('E_GIT', `could not update '${branch}' of ${this.description}: rejected 5 times by concurrent writers`);
  }

  /** The files of `branch` at its tip, or undefined when the branch does not exist (tests). */
  filesOf(branch: string): Record<string, string> | undefined {
    const tip = this.branchTip(branch);
    return tip === undefined ? undefined : { ...(this.commits.get(tip) ?? {}) };
  }

  private branchTip(branch: string): string | undefined {
    if (branch === 'main') return this.tip || undefined;
    return this.branches.get(branch);
  }
}

function sorted(files: Record<string, string>): Array<[string, string]> {
  return Object.entries(files).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/** A RepoSnapshot over a file map. */
export function memorySnapshot(files: Record<string, string>, revision: string): RepoSnapshot {
  const under = (dir: string): TreeEntry[] => {
    const prefix = dir === '' || dir === '.' ? '' : `${dir.replace(/\/$/, '')}/`;
    return Object.keys(files).filter((p) => p.startsWith(prefix)).sort().map((path) => ({ path, mode: 0o100644, size: Buffer.byteLength(files[path] ?? '') }));
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
