/** The pure pipeline: file contents -> YAML documents -> kind -> schema -> typed manifests -> semantic checks. */
import type { ManifestIssue, ManifestWarning } from '../model/errors.ts';
import type { Manifest, ManifestKind } from '../model/manifest.ts';
import { DocCache, parseYamlFile } from './yaml-source.ts';
import type { RawDoc, YamlFile } from './yaml-source.ts';
import { schemaIssues } from './schema.ts';
import { formatPath } from './path.ts';
import { identifyKind, isObj, toManifest } from './defaults.ts';
import { FieldError } from './raw.ts';
import { semanticIssues } from './semantic.ts';
import { descriptorOf } from './kinds/index.ts';
import type { Entry } from './semantic.ts';
import { DEFAULT_LIMITS, resolveLimits } from './limits.ts';
import type { ManifestLimits } from './limits.ts';
import { resolveContext } from './build-context.ts';
import { dotEnvPathOf, isComposeFile, isDotEnvFile, parseComposeFile } from '../compose/index.ts';

export interface ParseResult {
  entries: Entry[];
  issues: ManifestIssue[];
  /** Worth a reviewer's attention, not rejecting the revision (a compose variable that is not set); absent when none. */
  warnings?: ManifestWarning[];
}

export interface ParseOptions {
  /** Defaults: DEFAULT_LIMITS. */
  limits?: Partial<ManifestLimits>;
  /** Called before each file is parsed (progress, for a timeout's message). */
  onFile?: (path: string) => void;
  /** The manifests root (--path), repository-relative: compose paths are rebased onto it. Default the repository root. */
  root?: string;
  /** Active compose profiles (--compose-profiles). */
  composeProfiles?: readonly string[];
  /** The operator host's compose variables (--compose-env FILE), over each `.env`. */
  composeEnv?: Readonly<Record<string, string>>;
}

/** At most this many issues are reported per revision; one more says how many were left out. */
export const MAX_REPORTED_ISSUES = 100;

/** A `.env`, or another file that is not YAML (an env_file): read for compose files, never parsed as manifests. */
function isDataFile(path: string): boolean {
  return isDotEnvFile(path) || !/\.ya?ml$/i.test(path);
}

/** A document with SOPS's metadata block (`sops: { mac, lastmodified, ... }`) and no kind. */
function isSopsData(value: unknown): boolean {
  if (!isObj(value) || value.kind !== undefined || value.apiVersion !== undefined) return false;
  const sops = value.sops;
  return isObj(sops) && typeof sops.mac === 'string' && sops.lastmodified !== undefined;
}

/**
 * Parses and validates file contents; entries keep their YAML positions for later checks. Issues are sorted by file,
 * line, col. A file over a limit stops the parse: the revision is rejected on its E_TOO_LARGE issue alone.
 */
export function parseEntries(files: readonly YamlFile[], opts: ParseOptions = {}): ParseResult {
  const limits = resolveLimits(opts.limits);
  // The composed documents of about one file are kept; older ones are composed again if an issue must be located.
  const cache = new DocCache(Math.max(2 * DEFAULT_LIMITS.maxFileSize, limits.maxFileSize));
  const entries: Entry[] = [];
  const issues: ManifestIssue[] = [];
  const warnings: ManifestWarning[] = [];
  // `.env` files and the files of env_file entries (any file that is not *.yaml / *.yml) come along only for the
  // compose files that use them (read-manifests.ts): variables, not manifests.
  const data = new Map(files.filter((f) => isDataFile(f.path)).map((f) => [f.path, f]));
  const sorted = files.filter((f) => !isDataFile(f.path)).sort((a, b) => compare(a.path, b.path));
  const compose = { limits, cache, root: opts.root ?? '', envFiles: data, ...(opts.composeProfiles ? { profiles: opts.composeProfiles } : {}), ...(opts.composeEnv ? { hostEnv: opts.composeEnv } : {}) };
  for (const file of sorted) {
    opts.onFile?.(file.path);
    const parsed: { docs: RawDoc[]; issues: ManifestIssue[]; warnings?: ManifestWarning[] } = isComposeFile(file.path)
      ? parseComposeFile(file, { ...compose, dotEnv: data.get(dotEnvPathOf(file.path)) })
      : parseYamlFile(file, { limits, cache });
    append(issues, parsed.issues);
    if (parsed.warnings) append(warnings, parsed.warnings);
    if (parsed.issues.some((i) => i.code === 'E_TOO_LARGE')) return { entries: [], issues: sortIssues(issues) };
    for (const doc of parsed.docs) {
      // a SOPS-encrypted file (a Secret's data) under the manifests path is data, not a manifest
      if (isSopsData(doc.value)) continue;
      const kind = identifyKind(doc);
      if (typeof kind !== 'string') {
        issues.push(kind);
        continue;
      }
      const entry = toEntry(kind, doc, issues);
      if (entry) entries.push(entry);
    }
  }
  dropDataFiles(issues, entries, opts.root ?? '');
  // A document that could not be read may hold what others refer to: no knock-on "missing" errors then.
  const unreadable = issues.some((i) => i.code === 'E_YAML' || i.code === 'E_UNKNOWN_KIND');
  append(issues, semanticIssues(entries, { unreadable }));
  return warnings.length > 0 ? { entries, issues: sortIssues(issues), warnings } : { entries, issues: sortIssues(issues) };
}

/**
 * A YAML file that no manifest comes from and that a Service copies into its replicas (a spec.files source, a compose
 * bind source or config file: prometheus.yml next to the compose file) is the application's data, not a manifest that
 * failed to parse: its issues are dropped, in place. A file or directory source covers the files under it.
 */
function dropDataFiles(issues: ManifestIssue[], entries: readonly Entry[], root: string): void {
  const sources: string[] = [];
  for (const e of entries) {
    if (e.manifest?.kind !== 'Service') continue;
    for (const f of e.manifest.spec.files ?? []) {
      if (f.source === undefined) continue;
      const r = resolveContext(root, f.source);
      if ('path' in r) sources.push(r.path);
    }
  }
  if (sources.length === 0) return;
  const manifestFiles = new Set(entries.map((e) => e.doc.file));
  const isData = (file: string): boolean => !manifestFiles.has(file) && sources.some((s) => s === '.' || file === s || file.startsWith(`${s}/`));
  const kept = issues.filter((i) => !isData(i.file));
  issues.splice(0, issues.length, ...kept);
}

/** Pure: parse+validate file contents into manifests (with defaults) and issues (capped). Paths are repository-relative. */
export function parseManifests(files: { path: string; content: string }[], opts: ParseOptions = {}): { manifests: Manifest[]; issues: ManifestIssue[] } {
  const { entries, issues } = parseEntries(files, opts);
  return { manifests: entries.flatMap((e) => (e.manifest ? [e.manifest] : [])), issues: capIssues(issues) };
}

/**
 * The first MAX_REPORTED_ISSUES of sorted `issues`, then one issue at the first left out saying how many more there
 * are (the count, not the list, is what matters past a hundred).
 */
export function capIssues(issues: readonly ManifestIssue[], max = MAX_REPORTED_ISSUES): ManifestIssue[] {
  if (issues.length <= max) return [...issues];
  const next = issues[max] as ManifestIssue;
  const more = issues.length - max;
  return [...issues.slice(0, max), { file: next.file, line: next.line, col: next.col, code: next.code, field: '', message: `and ${more} more error(s)` }];
}

/** Schema-checks one document; returns its entry when it has a usable identity (metadata.name), even if invalid. */
function toEntry(kind: ManifestKind, doc: RawDoc, issues: ManifestIssue[]): Entry | undefined {
  // The kind's blocking document issues (a Service's probe without exactly one kind) are as malformed as a schema
  // violation: no typed manifest, no further checks.
  const d = descriptorOf(kind);
  const own = d.documentIssues?.(doc);
  const found = own ? [...schemaIssues(kind, doc), ...own.blocking] : schemaIssues(kind, doc);
  append(issues, found);
  if (own) append(issues, own.other);
  const meta = isObj(doc.value) ? doc.value.metadata : undefined;
  const name = isObj(meta) ? meta.name : undefined;
  if (typeof name !== 'string') return undefined;
  // Cluster-wide kinds (Nodes) are keyed by name alone, whatever a (refused) metadata.namespace says.
  const namespace = d.clusterScoped ? '' : isObj(meta) && typeof meta.namespace === 'string' ? meta.namespace : 'default';
  const entry: Entry = { kind, namespace, name, doc };
  if (found.length > 0) return entry;
  try {
    entry.manifest = toManifest(kind, doc);
  } catch (err) {
    const path = err instanceof FieldError ? err.path : ['spec'];
    issues.push({ ...doc.loc.at(path), code: 'E_SCHEMA', field: formatPath(path), message: err instanceof Error ? err.message : String(err) });
  }
  return entry;
}

/** Orders issues by file, line, col (stable for equal positions). */
export function sortIssues(issues: readonly ManifestIssue[]): ManifestIssue[] {
  return [...issues].sort((a, b) => compare(a.file, b.file) || a.line - b.line || a.col - b.col);
}

/** push(...items) without spreading arguments: 100k issues would overflow the call stack. */
function append<T>(target: T[], items: readonly T[]): void {
  for (const item of items) target.push(item);
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
