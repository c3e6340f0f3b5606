/**
 * spec.files against the repository snapshot: each source is a file or directory of the repository at the revision
 * (relative to the manifests root, inside the repository). Their bytes are read here, once per revision whatever how
 * many services name them, within the loader's limits (--max-file-size per file; all of them, with the manifests, within
 * --max-revision-size; at most MAX_FILES_PER_SOURCE files per entry), and go into the desired service with their content
 * hash: apply copies them into each replica before it starts (runtime: the same archive write as secret files).
 */
import { createHash } from 'node:crypto';
import { posix } from 'node:path';
import type { ManifestIssue } from '../../../model/errors.ts';
import { resourceKey } from '../../../model/keys.ts';
import type { ServiceFile } from '../../../model/manifest.ts';
import type { DesiredFileEntry, DesiredFileMount } from '../../../model/state.ts';
import type { RepoSnapshot, TreeEntry } from '../../../source/source.ts';
import { resolveContext } from '../../build-context.ts';
import { formatSize } from '../../limits.ts';
import type { ManifestLimits } from '../../limits.ts';
import { formatPath } from '../../path.ts';
import { directoryLister } from '../../repo-files.ts';
import type { Entry } from '../../semantic.ts';
import type { PathSegment } from '../../yaml-source.ts';

const MODE_LINK = 0o120000;
const MODE_EXEC = 0o100755;
/** Files one spec.files entry may copy: a directory of more is refused (node_modules belongs in the image). */
export const MAX_FILES_PER_SOURCE = 10_000;

export interface FileCheckResult {
  issues: ManifestIssue[];
  /** By service key (`namespace/name`), for services whose every entry passed. */
  files: Map<string, DesiredFileMount[]>;
}

/** What the reads of one revision share: each path read once, and the bytes read so far against the budget. */
interface Reads {
  snapshot: RepoSnapshot;
  list: (dir: string) => Promise<TreeEntry[]>;
  content: Map<string, Promise<Buffer>>;
  /** Bytes left of --max-revision-size once the manifests are counted; distinct files only. */
  budget: { left: number; total: number };
  maxFileSize: number;
}

/**
 * Reads the spec.files of every typed Service; issues are E_SEMANTIC (E_TOO_LARGE for a limit) at spec.files[i].source.
 * `manifestBytes`: the bytes of the manifests of the revision, which share --max-revision-size with these files.
 */
export async function checkServiceFiles(snapshot: RepoSnapshot, root: string, entries: readonly Entry[], limits: Pick<ManifestLimits, 'maxFileSize' | 'maxRevisionSize'>, manifestBytes = 0): Promise<FileCheckResult> {
  const reads: Reads = {
    snapshot,
    list: directoryLister(snapshot),
    content: new Map(),
    budget: { left: limits.maxRevisionSize - manifestBytes, total: limits.maxRevisionSize },
    maxFileSize: limits.maxFileSize,
  };
  const issues: ManifestIssue[] = [];
  const files = new Map<string, DesiredFileMount[]>();
  // One service after the other, one file after the other: the budget is spent in document order, and a directory of
  // thousands of files is a sequence of awaited reads, never one long synchronous stretch.
  for (const e of entries) {
    if (e.manifest?.kind !== 'Service' || !e.manifest.spec.files?.length) continue;
    const mounts: DesiredFileMount[] = [];
    let ok = true;
    for (const [i, f] of e.manifest.spec.files.entries()) {
      const at: PathSegment[] = ['spec', 'files', i, 'source'];
      if (f.source === undefined) {
        if (f.content !== undefined) mounts.push(inlineFile(f));
        continue; // neither: reported by file-checks.ts
      }
      const result = await readSource(reads, root, f, f.source);
      if ('message' in result) {
        ok = false;
        issues.push({ ...e.doc.loc.at(at), code: result.tooLarge ? 'E_TOO_LARGE' : 'E_SEMANTIC', field: formatPath(at), message: result.message });
        if (result.tooLarge) break;
      } else mounts.push(result);
    }
    if (ok) files.set(resourceKey(e.namespace, e.name), mounts);
  }
  return { issues, files };
}

type Failure = { message: string; tooLarge?: boolean };

/** A file given by its content in the manifest (bounded by the manifest limits). */
function inlineFile(f: ServiceFile): DesiredFileMount {
  const bytes = Buffer.from(f.content ?? '', 'utf8');
  const entry: DesiredFileEntry = { path: f.target, mode: f.mode === undefined ? 0o644 : Number.parseInt(f.mode, 8) & 0o7777, ...owner(f), content: bytes.toString('base64') };
  return { source: '', target: f.target, contentHash: hashEntries([[entry, bytes]]), entries: [entry] };
}

const owner = (f: ServiceFile): { uid?: number; gid?: number } => ({ ...(f.uid !== undefined ? { uid: f.uid } : {}), ...(f.gid !== undefined ? { gid: f.gid } : {}) });

/** sha256 hex over each entry's path, mode, owner and content hash (or link target). */
function hashEntries(list: readonly [DesiredFileEntry, Buffer][]): string {
  const hash = createHash('sha256');
  for (const [e, bytes] of list) {
    const what = e.link !== undefined ? `link:${e.link}` : createHash('sha256').update(bytes).digest('hex');
    hash.update(`${e.path}\0${e.mode.toString(8)}\0${e.uid ?? 0}:${e.gid ?? 0}\0${what}\n`);
  }
  return hash.digest('hex');
}

async function readSource(reads: Reads, root: string, f: ServiceFile, source: string): Promise<DesiredFileMount | Failure> {
  const { target, mode } = f;
  const resolved = resolveContext(root, source);
  if ('error' in resolved) return { message: resolved.error };
  const path = resolved.path;
  const dir = path === '.' ? '' : posix.dirname(path) === '.' ? '' : posix.dirname(path);
  const listed = await reads.list(path === '.' ? '' : dir);
  const exact = listed.find((t) => t.path === path);
  const prefix = path === '.' ? '' : `${path}/`;
  const tree = exact ? [exact] : listed.filter((t) => t.path.startsWith(prefix));
  if (tree.length === 0) return { message: `${path} does not exist at revision ${reads.snapshot.revision}` };
  if (tree.length > MAX_FILES_PER_SOURCE) return { message: `${path} has ${tree.length} files, more than ${MAX_FILES_PER_SOURCE}: copy fewer files (or put them into the image)`, tooLarge: true };
  const fixed = mode === undefined ? undefined : Number.parseInt(mode, 8) & 0o7777;
  const entries: DesiredFileEntry[] = [];
  const hashed: [DesiredFileEntry, Buffer][] = [];
  for (const t of tree) {
    const into = exact ? target : `${target === '/' ? '' : target}/${t.path.slice(prefix.length)}`;
    const bytes = await readOnce(reads, t);
    if ('message' in bytes) return bytes;
    const entry: DesiredFileEntry = t.mode === MODE_LINK
      ? { path: into, mode: 0o777, ...owner(f), link: bytes.toString('utf8') }
      : { path: into, mode: fixed ?? (t.mode === MODE_EXEC ? 0o755 : 0o644), ...owner(f), content: bytes.toString('base64') };
    entries.push(entry);
    hashed.push([entry, bytes]);
  }
  return { source: path, target, contentHash: hashEntries(hashed), entries };
}

/** The bytes of `t`, read at most once per revision; the size limits checked before reading when the size is known. */
async function readOnce(reads: Reads, t: TreeEntry): Promise<Buffer | Failure> {
  const over = (size: number): Failure | undefined => {
    if (size > reads.maxFileSize) return { message: `${t.path} is ${formatSize(size)}, more than --max-file-size ${formatSize(reads.maxFileSize)}`, tooLarge: true };
    if (size > reads.budget.left) return { message: `${t.path}: the manifests and the files of spec.files are more than --max-revision-size ${formatSize(reads.budget.total)}`, tooLarge: true };
    return undefined;
  };
  const hit = reads.content.get(t.path);
  if (hit) return hit;
  if (t.size !== undefined && over(t.size)) return over(t.size)!;
  const p = reads.snapshot.read(t.path);
  reads.content.set(t.path, p);
  const bytes = await p;
  const problem = over(bytes.length);
  if (problem) return problem;
  reads.budget.left -= bytes.length;
  return bytes;
}
