/** The pure pipeline: file contents -> YAML documents -> kind -> schema -> typed manifests -> semantic checks. */
import type { ManifestIssue } from '../model/errors.ts';
import type { Manifest, ManifestKind } from '../model/manifest.ts';
import { parseYamlFile } from './yaml-source.ts';
import type { RawDoc, YamlFile } from './yaml-source.ts';
import { formatPath, schemaIssues } from './schema.ts';
import { identifyKind, isObj, toManifest } from './defaults.ts';
import { probeKindIssues } from './probes.ts';
import { FieldError } from './raw.ts';
import { imageXorBuildIssues, semanticIssues } from './semantic.ts';
import type { Entry } from './semantic.ts';

export interface ParseResult {
  entries: Entry[];
  issues: ManifestIssue[];
}

/** Parses and validates file contents; entries keep their YAML positions for later checks. Issues are sorted by file, line, col. */
export function parseEntries(files: readonly YamlFile[]): ParseResult {
  const entries: Entry[] = [];
  const issues: ManifestIssue[] = [];
  const sorted = [...files].sort((a, b) => compare(a.path, b.path));
  for (const file of sorted) {
    const parsed = parseYamlFile(file);
    issues.push(...parsed.issues);
    for (const doc of parsed.docs) {
      const kind = identifyKind(doc);
      if (typeof kind !== 'string') {
        issues.push(kind);
        continue;
      }
      const entry = toEntry(kind, doc, issues);
      if (entry) entries.push(entry);
    }
  }
  issues.push(...semanticIssues(entries));
  return { entries, issues: sortIssues(issues) };
}

/** Pure: parse+validate file contents into manifests (with defaults) and issues. Paths are repository-relative. */
export function parseManifests(files: { path: string; content: string }[]): { manifests: Manifest[]; issues: ManifestIssue[] } {
  const { entries, issues } = parseEntries(files);
  return { manifests: entries.flatMap((e) => (e.manifest ? [e.manifest] : [])), issues };
}

/** Schema-checks one document; returns its entry when it has a usable identity (metadata.name), even if invalid. */
function toEntry(kind: ManifestKind, doc: RawDoc, issues: ManifestIssue[]): Entry | undefined {
  // A probe without exactly one kind is as malformed as a schema violation: no typed manifest, no further checks.
  const found = kind === 'Service' ? [...schemaIssues(kind, doc), ...probeKindIssues(doc)] : schemaIssues(kind, doc);
  issues.push(...found);
  if (kind === 'Service') issues.push(...imageXorBuildIssues(doc));
  const meta = isObj(doc.value) ? doc.value.metadata : undefined;
  const name = isObj(meta) ? meta.name : undefined;
  if (typeof name !== 'string') return undefined;
  // Nodes are cluster-wide: keyed by name alone, whatever a (refused) metadata.namespace says.
  const namespace = kind === 'Node' ? '' : isObj(meta) && typeof meta.namespace === 'string' ? meta.namespace : 'default';
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

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
