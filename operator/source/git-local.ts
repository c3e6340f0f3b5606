/** A repository read in place on the local file system: refs are the truth, nothing is fetched. */
import git from 'isomorphic-git';
import { BerthError } from '../model/errors.ts';
import type { Branch } from './source.ts';
import { isOid, peelToCommit, readRef, setRef, sortBranches, type RefSync, type Repo } from './git-repo.ts';

/** RefSync over a local repository (a work tree's `.git` or a bare repository). */
export class LocalSync implements RefSync {
  readonly description: string;
  readonly secrets: readonly string[] = [];
  private readonly repo: Repo;

  constructor(repo: Repo, description: string) {
    this.repo = repo;
    this.description = description;
  }

  /** `refs/heads/<branch>`, or null when absent. */
  async branchTip(branch: string): Promise<string | null> {
    return readRef(this.repo, `refs/heads/${branch}`);
  }

  /** Resolves like git: `refs/...` as given, otherwise tags before branches; annotated tags are peeled. */
  async resolve(ref: string): Promise<string> {
    if (isOid(ref)) return this.ensureCommit(ref);
    const candidates = ref.startsWith('refs/') ? [ref] : [`refs/tags/${ref}`, `refs/heads/${ref}`];
    for (const candidate of candidates) {
      const oid = await readRef(this.repo, candidate);
      if (!oid) continue;
      const commit = await peelToCommit(this.repo, oid);
      if (!commit) throw new BerthError('E_GIT', `ref '${ref}' of ${this.description} does not point to a commit`);
      return commit;
    }
    throw new BerthError('E_GIT', `ref '${ref}' not found in ${this.description}`);
  }

  /** Every `refs/heads/*` (loose and packed) with its tip. */
  async listBranches(): Promise<Branch[]> {
    const names = await git.listBranches({ fs: this.repo.fs, gitdir: this.repo.gitdir });
    const branches = await Promise.all(names.map(async (name) => ({ name, sha: await readRef(this.repo, `refs/heads/${name}`) })));
    return sortBranches(branches.filter((b): b is Branch => b.sha !== null));
  }

  /** The commit `oid` peels to; E_GIT when the object is not in the repository. */
  async ensureCommit(oid: string): Promise<string> {
    const commit = await peelToCommit(this.repo, oid);
    if (!commit) throw new BerthError('E_GIT', `commit ${oid} not found in ${this.description}`);
    return commit;
  }

  /** Moves `refs/heads/<branch>` if it still points at `expected` (a check-then-write: another writer in the same instant can win). */
  async publish(branch: string, commit: string, expected: string | null): Promise<boolean> {
    const ref = `refs/heads/${branch}`;
    if ((await readRef(this.repo, ref)) !== expected) return false;
    await setRef(this.repo, ref, commit);
    return true;
  }
}
