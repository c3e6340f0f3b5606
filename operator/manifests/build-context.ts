/** Checks of `spec.build` against the repository snapshot, and the content hash of each build context. */
import { createHash } from 'node:crypto';
import { posix } from 'node:path';
import type { ManifestIssue } from '../model/errors.ts';
import type { BuildSpec } from '../model/manifest.ts';
import type { RepoSnapshot, TreeEntry } from '../source/source.ts';
import type { Entry } from './semantic.ts';
import type { PathSegment } from './yaml-source.ts';
import { formatPath } from './path.ts';

/** Where a service's image is built from, resolved against the repository. */
export interface ResolvedBuild {
  /** Repository-relative context directory ('.' = repository root). */
  context: string;
  /** Dockerfile path relative to the context, as written (default `Dockerfile`). */
  dockerfile: string;
  /** sha256 hex of `${treeId(context)}\0${dockerfile}`, then `\0` and buildInputs() when args or target are set. */
  contentHash: string;
}

export interface BuildCheckResult {
  issues: ManifestIssue[];
  /** Per service key (`namespace/name`), for services whose build checks passed. */
  builds: Map<string, ResolvedBuild>;
}

/** Normalises the manifests root: '' / '.' / './x/' -> '' / '' / 'x'. */
export function normalizeRoot(path: string): string {
  const n = posix.normalize(path === '' ? '.' : path).replace(/\/+$/, '');
  return n === '.' ? '' : n;
}

/**
 * Resolves a build context (relative to the manifests root) to a repository-relative directory,
 * or returns an error message when it is absolute or leaves the repository.
 */
export function resolveContext(root: string, context: string): { path: string } | { error: string } {
  if (posix.isAbsolute(context)) return { error: 'must be a path relative to the manifests root, not an absolute path' };
  const joined = posix.normalize(posix.join(normalizeRoot(root) || '.', context)).replace(/\/+$/, '');
  if (joined === '..' || joined.startsWith('../')) return { error: `${context} leaves the repository (resolves to ${joined})` };
  return { path: joined === '' ? '.' : joined };
}

/** Checks every service build (context directory exists, Dockerfile inside it) and hashes the contexts. */
export async function checkBuilds(snapshot: RepoSnapshot, root: string, entries: readonly Entry[]): Promise<BuildCheckResult> {
  const issues: ManifestIssue[] = [];
  const builds = new Map<string, ResolvedBuild>();
  const trees = new Map<string, Promise<string | null>>();
  const lists = new Map<string, Promise<TreeEntry[]>>();
  const cached = <T>(cache: Map<string, Promise<T>>, key: string, load: () => Promise<T>): Promise<T> => {
    const hit = cache.get(key);
    if (hit) return hit;
    const p = load();
    cache.set(key, p);
    return p;
  };
  const io: SnapshotIo = {
    revision: snapshot.revision,
    treeId: (dir) => cached(trees, dir, () => snapshot.treeId(dir)),
    list: (dir) => cached(lists, dir, () => snapshot.list(dir)),
  };
  await Promise.all(
    entries.map(async (e) => {
      const m = e.manifest;
      if (m?.kind !== 'Service' || !m.spec.build) return;
      const result = await checkOne(io, root, m.spec.build, e);
      if ('issues' in result) issues.push(...result.issues);
      else builds.set(`${e.namespace}/${e.name}`, result);
    }),
  );
  return { issues, builds };
}

/** The build arguments (sorted by name) and target as canonical JSON; undefined when neither is set. */
export function buildInputs(build: Pick<BuildSpec, 'args' | 'target'>): string | undefined {
  if (build.args === undefined && build.target === undefined) return undefined;
  const args = Object.entries(build.args ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return JSON.stringify({ args, target: build.target ?? null });
}

interface SnapshotIo {
  revision: string;
  treeId(dir: string): Promise<string | null>;
  list(dir: string): Promise<TreeEntry[]>;
}

async function checkOne(io: SnapshotIo, root: string, build: BuildSpec, e: Entry): Promise<ResolvedBuild | { issues: ManifestIssue[] }> {
  const fail = (path: PathSegment[], message: string): { issues: ManifestIssue[] } => ({
    issues: [{ ...e.doc.loc.at(path), code: 'E_SEMANTIC', field: formatPath(path), message }],
  });
  const ctx = resolveContext(root, build.context);
  if ('error' in ctx) return fail(['spec', 'build', 'context'], ctx.error);
  const df = posix.normalize(build.dockerfile);
  if (posix.isAbsolute(df) || df === '..' || df.startsWith('../')) return fail(['spec', 'build', 'dockerfile'], 'must be a path inside the build context');
  const tree = await io.treeId(ctx.path);
  if (tree === null) return fail(['spec', 'build', 'context'], `directory ${ctx.path} does not exist at revision ${io.revision}`);
  const dfPath = ctx.path === '.' ? df : `${ctx.path}/${df}`;
  const files = await io.list(ctx.path);
  if (!files.some((f) => f.path === dfPath)) return fail(['spec', 'build', 'dockerfile'], `${dfPath} not found in the build context`);
  const inputs = buildInputs(build);
  const contentHash = createHash('sha256').update(`${tree}\0${build.dockerfile}${inputs === undefined ? '' : `\0${inputs}`}`).digest('hex');
  return { context: ctx.path, dockerfile: build.dockerfile, contentHash };
}
