/** loadDesired: a repository snapshot -> validated desired state, or every issue of the revision. */
import { BerthError, ValidationError } from '../model/errors.ts';
import type { DesiredState } from '../model/state.ts';
import type { RepoSnapshot } from '../source/source.ts';
import { checkBuilds, normalizeRoot } from './build-context.ts';
import { buildDesired } from './desired.ts';
import { parseEntries, sortIssues } from './parse.ts';
import { checkScripts, withRepoScriptPaths } from './script-check.ts';

export interface LoadOptions {
  /** berth instance name (part of Docker volume names and spec hashes). */
  instance: string;
  /** manifests root inside the repo, '' or '.' = repo root */
  path: string;
}

/**
 * Reads every *.yaml / *.yml under opts.path of the snapshot (hidden files and directories skipped), validates all,
 * returns the desired state. Throws ValidationError with EVERY issue of the revision, or BerthError 'E_EMPTY_REVISION'
 * (terminal) when there are zero manifests; lets snapshot.list's 'E_PATH_MISSING' propagate.
 */
export async function loadDesired(snapshot: RepoSnapshot, opts: LoadOptions): Promise<DesiredState> {
  const root = normalizeRoot(opts.path);
  const listed = await snapshot.list(root);
  const paths = listed.map((e) => e.path).filter((p) => isManifestFile(root, p));
  const files = await Promise.all(paths.map(async (path) => ({ path, content: (await snapshot.read(path)).toString('utf8') })));
  const { entries, issues } = parseEntries(files);
  const [builds, scripts] = await Promise.all([checkBuilds(snapshot, root, entries), checkScripts(snapshot, root, entries)]);
  const all = sortIssues([...issues, ...builds.issues, ...scripts]);
  if (all.length > 0) throw new ValidationError(all);
  const manifests = entries.flatMap((e) => (e.manifest ? [withRepoScriptPaths(root, e.manifest)] : []));
  if (manifests.length === 0) {
    throw new BerthError('E_EMPTY_REVISION', `no manifests under ${root || 'the repository root'} at revision ${snapshot.revision}; refusing to treat it as "delete everything"`);
  }
  return buildDesired(opts.instance, snapshot.revision, manifests, builds.builds);
}

/** A *.yaml / *.yml file under `root` with no hidden segment (name starting with '.') below the root. */
export function isManifestFile(root: string, path: string): boolean {
  const rel = root === '' ? path : path.startsWith(`${root}/`) ? path.slice(root.length + 1) : undefined;
  if (rel === undefined) return false;
  if (rel.split('/').some((seg) => seg.startsWith('.'))) return false;
  return /\.ya?ml$/i.test(rel);
}
