/**
 * Reads a revision's manifest files within the size limits, before any of them is parsed: sizes the snapshot lists are
 * checked before reading anything, and without them each file is checked as soon as it is read, reading stopping at
 * the first file over a limit. A 20 MB file is thus rejected having cost one read of it, never a parse.
 */
import { ValidationError } from '../model/errors.ts';
import type { ManifestIssue } from '../model/errors.ts';
import type { RepoSnapshot, TreeEntry } from '../source/source.ts';
import { DEFAULT_LIMITS, formatSize, tooLarge } from './limits.ts';
import type { ManifestLimits } from './limits.ts';
import { dotEnvPathOf, envFileRefs, isComposeFile, parseDotEnv } from '../compose/index.ts';

/** One manifest file's content, as read from the snapshot. */
export interface ManifestFile {
  path: string;
  bytes: Buffer;
}

/** A *.yaml / *.yml file under `root` with no hidden segment (name starting with '.') below the root. */
export function isManifestFile(root: string, path: string): boolean {
  const rel = root === '' ? path : path.startsWith(`${root}/`) ? path.slice(root.length + 1) : undefined;
  if (rel === undefined) return false;
  if (rel.split('/').some((seg) => seg.startsWith('.'))) return false;
  return /\.ya?ml$/i.test(rel);
}

/** The manifest files of `entries`, and the `.env` beside each compose file among them (its interpolation variables). */
function manifestEntries(root: string, entries: readonly TreeEntry[]): TreeEntry[] {
  const manifests = entries.filter((e) => isManifestFile(root, e.path));
  const dotEnvs = new Set(manifests.filter((e) => isComposeFile(e.path)).map((e) => dotEnvPathOf(e.path)));
  if (dotEnvs.size === 0) return manifests;
  return entries.filter((e) => dotEnvs.has(e.path) || isManifestFile(root, e.path));
}

/**
 * The manifest files under `root` (normalised), sorted by path, with the `.env` files beside compose files (within the
 * same size limits). Throws ValidationError with E_TOO_LARGE issues (at
 * `file:1:1`) when a file is over `maxFileSize` or the files together are over `maxRevisionSize`; lets
 * snapshot.list's E_PATH_MISSING propagate.
 */
export async function readManifests(snapshot: RepoSnapshot, root: string, limits: Pick<ManifestLimits, 'maxFileSize' | 'maxRevisionSize'> & Partial<ManifestLimits>, hostEnv?: Readonly<Record<string, string>>): Promise<ManifestFile[]> {
  const files = await readListed(snapshot, root, limits);
  return withEnvFiles(snapshot, files, limits, hostEnv ?? {});
}

/**
 * `files` and the files the `env_file` entries of its compose files name (found by reading each compose file's YAML
 * within the manifest limits), read within the same size limits, the revision total counting all. A file that cannot
 * be read is left out: the parse reports a required one at its env_file entry.
 */
async function withEnvFiles(snapshot: RepoSnapshot, files: ManifestFile[], limits: Pick<ManifestLimits, 'maxFileSize' | 'maxRevisionSize'> & Partial<ManifestLimits>, hostEnv: Readonly<Record<string, string>>): Promise<ManifestFile[]> {
  const composeFiles = files.filter((f) => isComposeFile(f.path) && f.bytes.includes('env_file'));
  if (composeFiles.length === 0) return files;
  const have = new Map(files.map((f) => [f.path, f]));
  const yamlLimits = { ...DEFAULT_LIMITS, ...limits };
  const wanted = new Set<string>();
  for (const f of composeFiles) {
    const dotEnv = have.get(dotEnvPathOf(f.path));
    const env = { ...(dotEnv ? parseDotEnv(dotEnv.bytes.toString('utf8'), hostEnv).vars : {}), ...hostEnv };
    for (const path of envFileRefs({ path: f.path, content: f.bytes.toString('utf8') }, yamlLimits, env)) {
      // a *.yaml env_file would be parsed as a manifest: not read as data (the parse reports it missing)
      if (!have.has(path) && !/\.ya?ml$/i.test(path)) wanted.add(path);
    }
  }
  if (wanted.size === 0) return files;
  let total = files.reduce((n, f) => n + f.bytes.length, 0);
  const out = [...files];
  for (const path of [...wanted].sort()) {
    let bytes: Buffer;
    try {
      bytes = await snapshot.read(path);
    } catch {
      continue;
    }
    total += bytes.length;
    const issue = sizeIssue(path, bytes.length, total, limits);
    if (issue) throw new ValidationError([issue]);
    out.push({ path, bytes });
  }
  return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

async function readListed(snapshot: RepoSnapshot, root: string, limits: Pick<ManifestLimits, 'maxFileSize' | 'maxRevisionSize'>): Promise<ManifestFile[]> {
  const listed = manifestEntries(root, await snapshot.list(root));
  const read = async (e: TreeEntry): Promise<ManifestFile> => ({ path: e.path, bytes: await snapshot.read(e.path) });
  if (listed.every((e) => e.size !== undefined)) {
    const listedIssues = sizeIssues(listed.map((e) => ({ path: e.path, size: e.size ?? 0 })), limits);
    if (listedIssues.length > 0) throw new ValidationError(listedIssues);
    // Within the limits, so all at once; a file that grew after it was listed is still caught.
    const files = await Promise.all(listed.map(read));
    const issues = sizeIssues(files.map((f) => ({ path: f.path, size: f.bytes.length })), limits);
    if (issues.length > 0) throw new ValidationError(issues);
    return files;
  }
  const files: ManifestFile[] = [];
  let total = 0;
  for (const entry of listed) {
    const file = await read(entry);
    total += file.bytes.length;
    const issue = sizeIssue(file.path, file.bytes.length, total, limits);
    if (issue) throw new ValidationError([issue]);
    files.push(file);
  }
  return files;
}

/**
 * Every file over the file limit, and the file at which the running total (in path order) of the other files passes
 * the revision limit.
 */
function sizeIssues(files: readonly { path: string; size: number }[], limits: Pick<ManifestLimits, 'maxFileSize' | 'maxRevisionSize'>): ManifestIssue[] {
  const issues: ManifestIssue[] = [];
  let total = 0;
  let totalReported = false;
  for (const f of files) {
    const tooBig = f.size > limits.maxFileSize;
    if (!tooBig) total += f.size;
    const issue = sizeIssue(f.path, f.size, totalReported ? 0 : total, limits);
    if (!issue) continue;
    issues.push(issue);
    if (!tooBig) totalReported = true;
  }
  return issues;
}

function sizeIssue(path: string, size: number, total: number, limits: Pick<ManifestLimits, 'maxFileSize' | 'maxRevisionSize'>): ManifestIssue | undefined {
  if (size > limits.maxFileSize) {
    return tooLarge(path, 1, 1, `file is ${formatSize(size)}, more than --max-file-size ${formatSize(limits.maxFileSize)}`);
  }
  if (total > limits.maxRevisionSize) {
    return tooLarge(path, 1, 1, `the manifests up to this file are ${formatSize(total)}, more than --max-revision-size ${formatSize(limits.maxRevisionSize)}`);
  }
  return undefined;
}
