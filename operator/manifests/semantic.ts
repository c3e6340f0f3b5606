/** Semantic stage: checks a JSON Schema cannot express, within one document and across all of them. */
import type { ManifestIssue, SourceLocation } from '../model/errors.ts';
import type { Manifest, ManifestKind, NodeManifest, ServiceManifest } from '../model/manifest.ts';
import { resourceKey } from '../model/keys.ts';
import type { RawDoc } from './yaml-source.ts';
import { formatPath } from './path.ts';
import { checkPublishedPorts } from './route-checks.ts';
import { checkHostPorts } from './host-port-checks.ts';
import { nulIssues } from './string-checks.ts';
import { KIND_TABLE, descriptorOf } from './kinds/index.ts';
import type { CheckContext, Declared, Report, Typed } from './kinds/index.ts';

export type { Declared } from './kinds/index.ts';
export { imageXorBuildIssues } from './kinds/service/checks.ts';

/** A document of a known kind with a usable identity; `manifest` is set when it also passed its schema. */
export interface Entry {
  kind: ManifestKind;
  namespace: string;
  name: string;
  doc: RawDoc;
  manifest?: Manifest;
}

/**
 * Runs every semantic check over all entries of a revision and returns the issues found: per document the reserved
 * labels and its kind's checks, then each kind's checks across its manifests (table order), then published ports.
 */
export function semanticIssues(entries: readonly Entry[], opts: { unreadable?: boolean } = {}): ManifestIssue[] {
  const issues: ManifestIssue[] = [];
  const report: Report = (doc, path, message, target) => {
    issues.push({ ...doc.loc.at(path, target), code: 'E_SEMANTIC', field: formatPath(path), message });
  };
  checkDuplicates(entries, report);
  for (const e of entries) issues.push(...nulIssues(e.doc));
  const typed: Typed[] = entries.flatMap((e) => (e.manifest ? [{ doc: e.doc, manifest: e.manifest }] : []));
  const ctx = checkContext(entries, typed, opts.unreadable === true);
  for (const { doc, manifest } of typed) {
    checkLabels(doc, manifest, report);
    descriptorOf(manifest.kind).check?.(doc, manifest, ctx, report);
  }
  for (const d of KIND_TABLE) d.checkAll?.(typed.filter((t) => t.manifest.kind === d.kind), ctx, report);
  checkPublishedPorts(typed, report);
  checkHostPorts(typed, report);
  return issues;
}

function checkContext(entries: readonly Entry[], typed: readonly Typed[], unreadable: boolean): CheckContext {
  const known = new Set(entries.map((e) => `${e.kind}\0${resourceKey(e.namespace, e.name)}`));
  // While some document is unreadable, any reference may point into it: only the root errors are reported.
  const declared: Declared = unreadable ? { has: () => true } : known;
  const nodes = typed.filter((l): l is Typed<NodeManifest> => l.manifest.kind === 'Node');
  // Placement is checked against the declared Nodes only when all of them are typed (a Node with its own schema error
  // would make a constraint look impossible); the revision is rejected for that Node anyway.
  const allNodesTyped = entries.every((e) => e.kind !== 'Node' || e.manifest !== undefined);
  const routeBackends = new Set(typed.flatMap(({ manifest: m }) => (m.kind === 'Route' ? m.spec.rules.flatMap((r) => r.backends.map((b) => resourceKey(m.metadata.namespace, b.service))) : [])));
  return { declared, services: servicesByKey(typed), routeBackends, typed, ...(allNodesTyped ? { placementNodes: uniqueNodes(nodes) } : {}) };
}

interface TypedService {
  doc: RawDoc;
  m: ServiceManifest;
}

/** Typed services by key with their documents; the first definition wins (a duplicate is reported elsewhere). */
function servicesByKey(typed: readonly Typed[]): Map<string, TypedService> {
  const services = new Map<string, TypedService>();
  for (const { doc, manifest: m } of typed) {
    const key = resourceKey(m.metadata.namespace, m.metadata.name);
    if (m.kind === 'Service' && !services.has(key)) services.set(key, { doc, m });
  }
  return services;
}

/** Typed Nodes sorted by name, the first definition of a name winning (a duplicate is reported elsewhere). */
function uniqueNodes(nodes: readonly Typed<NodeManifest>[]): NodeManifest[] {
  const byName = new Map<string, NodeManifest>();
  for (const { manifest } of nodes) if (!byName.has(manifest.metadata.name)) byName.set(manifest.metadata.name, manifest);
  return [...byName.values()].sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : a.metadata.name > b.metadata.name ? 1 : 0));
}

/**
 * A second resource of one kind and key (Nodes: of one name) is reported, naming where the first is (located only
 * then: locating every name would compose every document again in a large revision).
 */
function checkDuplicates(entries: readonly Entry[], report: Report): void {
  const first = new Map<string, Entry>();
  for (const e of entries) {
    const label = descriptorOf(e.kind).clusterScoped ? e.name : resourceKey(e.namespace, e.name);
    const id = `${e.kind}\0${label}`;
    const prevEntry = first.get(id);
    if (!prevEntry) {
      first.set(id, e);
      continue;
    }
    const prev: SourceLocation = prevEntry.doc.loc.at(['metadata', 'name']);
    report(e.doc, ['metadata', 'name'], `duplicate ${e.kind} ${label} (first defined at ${prev.file}:${prev.line})`);
  }
}

function checkLabels(doc: RawDoc, m: Manifest, report: Report): void {
  for (const key of Object.keys(m.metadata.labels)) {
    if (key.startsWith('berth.')) report(doc, ['metadata', 'labels', key], 'label keys starting with "berth." are reserved for berth', 'key');
  }
}
