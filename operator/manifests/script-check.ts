/** Checks of probe scripts (spec.health.<probe>.script.file) against the repository snapshot, and their resolved paths. */
import { directoryLister } from './repo-files.ts';
import { posix } from 'node:path';
import type { ManifestIssue } from '../model/errors.ts';
import type { HealthSpec, Manifest, ProbeKind } from '../model/manifest.ts';
import type { RepoSnapshot, TreeEntry } from '../source/source.ts';
import { resolveContext } from './build-context.ts';
import { PROBE_KINDS } from './probes.ts';
import { formatPath } from './path.ts';
import type { Entry } from './semantic.ts';
import type { PathSegment } from './yaml-source.ts';

const MODE_LINK = 0o120000;

interface ScriptRef {
  entry: Entry;
  kind: ProbeKind;
  file: string;
}

/**
 * Checks that every probe script of a schema-valid Service is a regular file of the repository at the snapshot's
 * revision; `file` is relative to the manifests root `root` and may not leave the repository. Returns E_SEMANTIC
 * issues located at the `file` field. Each directory is listed at most once.
 */
export async function checkScripts(snapshot: RepoSnapshot, root: string, entries: readonly Entry[]): Promise<ManifestIssue[]> {
  const list = directoryLister(snapshot);
  const found = await Promise.all(scriptRefs(entries).map((ref) => checkOne(ref, root, snapshot.revision, list)));
  return found.flatMap((issue) => (issue ? [issue] : []));
}

function scriptRefs(entries: readonly Entry[]): ScriptRef[] {
  const refs: ScriptRef[] = [];
  for (const entry of entries) {
    if (entry.manifest?.kind !== 'Service') continue;
    for (const kind of PROBE_KINDS) {
      const file = entry.manifest.spec.health[kind]?.script?.file;
      if (file !== undefined) refs.push({ entry, kind, file });
    }
  }
  return refs;
}

async function checkOne(ref: ScriptRef, root: string, revision: string, list: (dir: string) => Promise<TreeEntry[]>): Promise<ManifestIssue | undefined> {
  const path: PathSegment[] = ['spec', 'health', ref.kind, 'script', 'file'];
  const issue = (message: string): ManifestIssue => ({ ...ref.entry.doc.loc.at(path), code: 'E_SEMANTIC', field: formatPath(path), message });
  const resolved = resolveContext(root, ref.file);
  if ('error' in resolved) return issue(resolved.error);
  if (resolved.path === '.') return issue('must name a file, not the repository root');
  const dir = posix.dirname(resolved.path);
  const files = await list(dir === '.' ? '' : dir);
  const file = files.find((f) => f.path === resolved.path);
  if (file?.mode === MODE_LINK) return issue(`${resolved.path} is a symbolic link; a probe script must be a regular file of the repository`);
  if (file) return undefined;
  if (files.some((f) => f.path.startsWith(`${resolved.path}/`))) return issue(`${resolved.path} is a directory, not a file`);
  return issue(`${resolved.path} does not exist at revision ${revision}`);
}

/**
 * Returns the manifest with every probe script path resolved from the manifests root to a repository-relative path
 * (`../checks/web.sh` under root `deploy` -> `checks/web.sh`), so the health checker can read it from a snapshot
 * without knowing the root. Call only on manifests whose scripts passed checkScripts.
 */
export function withRepoScriptPaths(root: string, m: Manifest): Manifest {
  if (m.kind !== 'Service' || !PROBE_KINDS.some((k) => m.spec.health[k]?.script)) return m;
  const health: HealthSpec = { ...m.spec.health };
  for (const kind of PROBE_KINDS) {
    const probe = health[kind];
    if (!probe?.script) continue;
    const resolved = resolveContext(root, probe.script.file);
    if ('error' in resolved) continue;
    health[kind] = { ...probe, script: { ...probe.script, file: resolved.path } };
  }
  return { ...m, spec: { ...m.spec, health } };
}
