/** Listing repository directories for the checks that read files of a revision (probe scripts, Secret files). */
import { BerthError } from '../model/errors.ts';
import type { RepoSnapshot, TreeEntry } from '../source/source.ts';

/** `snapshot.list`, each directory listed at most once per check; a missing directory lists as empty. */
export function directoryLister(snapshot: RepoSnapshot): (dir: string) => Promise<TreeEntry[]> {
  const lists = new Map<string, Promise<TreeEntry[]>>();
  return (dir) => {
    const hit = lists.get(dir);
    if (hit) return hit;
    const p = snapshot.list(dir).catch((err: unknown) => {
      if (err instanceof BerthError && err.code === 'E_PATH_MISSING') return [];
      throw err;
    });
    lists.set(dir, p);
    return p;
  };
}
