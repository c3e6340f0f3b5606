/**
 * Secrets against the repository snapshot: each Secret's `spec.file` must be a regular file of the repository at the
 * revision (relative to the manifests root, inside the repository, like probe scripts) and encrypted (a SOPS document or
 * an age file). Its bytes and their sha256 go into the desired state; nothing here decrypts.
 */
import { directoryLister } from '../../repo-files.ts';
import { createHash } from 'node:crypto';
import { posix } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { ManifestIssue } from '../../../model/errors.ts';
import { resourceKey } from '../../../model/keys.ts';
import type { DesiredSecret } from '../../../model/state.ts';
import type { RepoSnapshot, TreeEntry } from '../../../source/source.ts';
import { isAgeEncrypted } from '../../../secrets/age.ts';
import { isSopsDocument } from '../../../secrets/sops.ts';
import { resolveContext } from '../../build-context.ts';
import { formatPath } from '../../path.ts';
import type { Entry } from '../../semantic.ts';
import type { PathSegment } from '../../yaml-source.ts';

const MODE_LINK = 0o120000;
/** An encrypted file larger than this is refused (the decryption edge refuses more than 1 MiB too). */
export const MAX_SECRET_FILE_BYTES = 1024 * 1024;
const FILE: PathSegment[] = ['spec', 'file'];

export interface SecretCheckResult {
  issues: ManifestIssue[];
  /** By resource key (`namespace/name`), for Secrets whose file passed. */
  secrets: Map<string, DesiredSecret>;
}

/** Reads and checks the file of every typed Secret; issues are E_SEMANTIC at spec.file. */
export async function checkSecretFiles(snapshot: RepoSnapshot, root: string, entries: readonly Entry[]): Promise<SecretCheckResult> {
  const list = directoryLister(snapshot);
  const issues: ManifestIssue[] = [];
  const secrets = new Map<string, DesiredSecret>();
  await Promise.all(entries.map(async (e) => {
    if (e.manifest?.kind !== 'Secret') return;
    const result = await checkOne(snapshot, list, root, e);
    if ('message' in result) issues.push({ ...e.doc.loc.at(FILE), code: 'E_SEMANTIC', field: formatPath(FILE), message: result.message });
    else secrets.set(resourceKey(e.namespace, e.name), result);
  }));
  return { issues, secrets };
}

async function checkOne(snapshot: RepoSnapshot, list: (dir: string) => Promise<TreeEntry[]>, root: string, e: Entry): Promise<DesiredSecret | { message: string }> {
  const m = e.manifest;
  if (m?.kind !== 'Secret') throw new Error('internal: not a Secret');
  const resolved = resolveContext(root, m.spec.file);
  if ('error' in resolved) return { message: resolved.error };
  if (resolved.path === '.') return { message: 'must name a file, not the repository root' };
  const dir = posix.dirname(resolved.path);
  const files = await list(dir === '.' ? '' : dir);
  const file = files.find((f) => f.path === resolved.path);
  if (!file) {
    if (files.some((f) => f.path.startsWith(`${resolved.path}/`))) return { message: `${resolved.path} is a directory, not a file` };
    return { message: `${resolved.path} does not exist at revision ${snapshot.revision}` };
  }
  if (file.mode === MODE_LINK) return { message: `${resolved.path} is a symbolic link; a Secret's file must be a regular file of the repository` };
  if (file.size !== undefined && file.size > MAX_SECRET_FILE_BYTES) return { message: `${resolved.path} is larger than ${MAX_SECRET_FILE_BYTES} bytes` };
  const bytes = await snapshot.read(resolved.path);
  if (bytes.length > MAX_SECRET_FILE_BYTES) return { message: `${resolved.path} is larger than ${MAX_SECRET_FILE_BYTES} bytes` };
  const format = detectFormat(bytes, resolved.path, m.spec.format);
  if ('message' in format) return format;
  return {
    key: resourceKey(e.namespace, e.name),
    namespace: e.namespace,
    name: e.name,
    file: resolved.path,
    format: format.format,
    contentHash: createHash('sha256').update(bytes).digest('hex'),
    ciphertext: bytes.toString('base64'),
    source: m.source,
  };
}

/** The encrypted format of `bytes`, or why they are not encrypted as `declared` (absent: either) says. */
export function detectFormat(bytes: Buffer, path: string, declared: 'sops' | 'age' | undefined): { format: DesiredSecret['format'] } | { message: string } {
  if (declared !== 'sops' && isAgeEncrypted(bytes)) return { format: 'age' };
  if (declared !== 'age') {
    const text = bytes.toString('utf8');
    const json = /\.json$/i.test(path) || text.trimStart().startsWith('{');
    if (isSopsDocument(text, json ? 'json' : 'yaml')) return { format: json ? 'sops-json' : 'sops-yaml' };
    if (!json && isSopsDocument(text, 'json')) return { format: 'sops-json' };
  }
  const expected = declared === 'age' ? 'an age file' : declared === 'sops' ? 'a SOPS document (no "sops" metadata with a mac)' : 'a SOPS document or an age file';
  return { message: `not encrypted: ${path} is not ${expected}; encrypt it (sops --encrypt --age <recipient>, or age -r <recipient>) before committing it` };
}

/**
 * The item names of a Secret, read without decrypting: SOPS keeps every key in clear (only values are encrypted), so
 * its leaves' dotted paths (`a.b`, list items `a.0`) are known from the file; an age file has the one item `value`.
 * Undefined when the SOPS document cannot be read here (the decryption at apply time reports it then).
 */
export function secretItemNames(secret: DesiredSecret): string[] | undefined {
  if (secret.format === 'age') return ['value'];
  let doc: unknown;
  try {
    doc = parseYaml(Buffer.from(secret.ciphertext, 'base64').toString('utf8'), { maxAliasCount: 0 });
  } catch {
    return undefined;
  }
  if (typeof doc !== 'object' || doc === null) return undefined;
  const names: string[] = [];
  const walk = (v: unknown, path: string[]): void => {
    if (names.length > 20_000) return;
    if (Array.isArray(v)) v.forEach((x, i) => walk(x, [...path, String(i)]));
    else if (typeof v === 'object' && v !== null) for (const [k, x] of Object.entries(v)) walk(x, [...path, k]);
    else names.push(path.join('.'));
  };
  for (const [k, v] of Object.entries(doc)) if (k !== 'sops') walk(v, [k]);
  return names;
}

/** A Service's `spec.secrets[i].key` that its Secret does not have: an error at that field, before anything runs. */
export function secretKeyIssues(entries: readonly Entry[], secrets: ReadonlyMap<string, DesiredSecret>): ManifestIssue[] {
  const issues: ManifestIssue[] = [];
  for (const e of entries) {
    if (e.manifest?.kind !== 'Service') continue;
    e.manifest.spec.secrets?.forEach((ref, i) => {
      const secret = ref.key === undefined ? undefined : secrets.get(resourceKey(e.namespace, ref.secret));
      const names = secret && secretItemNames(secret);
      if (!names || names.includes(ref.key!)) return;
      const path: PathSegment[] = ['spec', 'secrets', i, 'key'];
      const shown = names.length > 20 ? `${names.slice(0, 20).join(', ')}, ... (${names.length})` : names.join(', ') || 'none';
      issues.push({ ...e.doc.loc.at(path), code: 'E_SEMANTIC', field: formatPath(path), message: `Secret ${e.namespace}/${ref.secret} (${secret!.file}) has no item "${ref.key}" (items: ${shown})` });
    });
  }
  return issues;
}
