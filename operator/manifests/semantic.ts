/** Semantic stage: checks a JSON Schema cannot express, within one document and across all of them. */
import type { ManifestIssue, SourceLocation } from '../model/errors.ts';
import type { Manifest, ManifestKind, NodeManifest, ServiceManifest } from '../model/manifest.ts';
import { resourceKey } from '../model/keys.ts';
import type { PathSegment, RawDoc } from './yaml-source.ts';
import { formatPath } from './schema.ts';
import { MIN_MEMORY_BYTES } from './quantity.ts';
import { isObj } from './defaults.ts';
import { checkHealth } from './health-checks.ts';
import { checkLoadBalancer } from './load-balancer-checks.ts';
import { checkPublishedPorts, checkRoute } from './route-checks.ts';
import type { Located } from './route-checks.ts';
import { checkNodes } from './node-checks.ts';
import type { LocatedNode } from './node-checks.ts';
import { checkPlacement } from './placement-checks.ts';
import { checkDependencies } from './dependency-checks.ts';
import { checkEngineLimits } from './engine-checks.ts';
import { checkMountPaths, normalizeMountPath } from './mount-checks.ts';
import { checkNamespaceSizes } from './namespace-checks.ts';
import { nulIssues } from './string-checks.ts';
import { checkVolume } from './volume-checks.ts';

/** A document of a known kind with a usable identity; `manifest` is set when it also passed its schema. */
export interface Entry {
  kind: ManifestKind;
  namespace: string;
  name: string;
  doc: RawDoc;
  manifest?: Manifest;
}

/** `Kind\0ns/name` of the resources the revision declares. */
export interface Declared {
  has(key: string): boolean;
}

type Report = (doc: RawDoc, path: PathSegment[], message: string, target?: 'key' | 'value') => void;

/** Runs every semantic check over all entries of a revision and returns the issues found. */
export function semanticIssues(entries: readonly Entry[], opts: { unreadable?: boolean } = {}): ManifestIssue[] {
  const issues: ManifestIssue[] = [];
  const report: Report = (doc, path, message, target) => {
    issues.push({ ...doc.loc.at(path, target), code: 'E_SEMANTIC', field: formatPath(path), message });
  };
  checkDuplicates(entries, report);
  for (const e of entries) issues.push(...nulIssues(e.doc));
  const known = new Set(entries.map((e) => `${e.kind}\0${resourceKey(e.namespace, e.name)}`));
  // While some document is unreadable, any reference may point into it: only the root errors are reported.
  const declared: Declared = opts.unreadable ? { has: () => true } : known;
  const typed: Located[] = entries.flatMap((e) => (e.manifest ? [{ doc: e.doc, manifest: e.manifest }] : []));
  const services = servicesByKey(typed);
  const nodes = typed.filter((l): l is LocatedNode => l.manifest.kind === 'Node');
  // Placement is checked against the declared Nodes only when all of them are typed (a Node with its own schema error
  // would make a constraint look impossible); the revision is rejected for that Node anyway.
  const allNodesTyped = entries.every((e) => e.kind !== 'Node' || e.manifest !== undefined);
  const placementNodes = allNodesTyped ? uniqueNodes(nodes) : [];
  for (const { doc, manifest } of typed) {
    checkLabels(doc, manifest, report);
    if (manifest.kind === 'Service') checkService(doc, manifest, declared, report);
    if (manifest.kind === 'Service' && allNodesTyped) checkPlacement(doc, manifest, placementNodes, report);
    if (manifest.kind === 'Route') checkRoute(doc, manifest, declared, (key) => services.get(key)?.m, report);
    if (manifest.kind === 'Volume') checkVolume(doc, manifest, report);
  }
  checkNodes(nodes, report);
  checkPublishedPorts(typed, report);
  checkDependencies(services, report);
  checkNamespaceSizes([...services.values()], report);
  return issues;
}

interface TypedService {
  doc: RawDoc;
  m: ServiceManifest;
}

/** Typed services by key with their documents; the first definition wins (a duplicate is reported elsewhere). */
function servicesByKey(typed: readonly Located[]): Map<string, TypedService> {
  const services = new Map<string, TypedService>();
  for (const { doc, manifest: m } of typed) {
    const key = resourceKey(m.metadata.namespace, m.metadata.name);
    if (m.kind === 'Service' && !services.has(key)) services.set(key, { doc, m });
  }
  return services;
}

/** Typed Nodes sorted by name, the first definition of a name winning (a duplicate is reported elsewhere). */
function uniqueNodes(nodes: readonly LocatedNode[]): NodeManifest[] {
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
    const label = e.kind === 'Node' ? e.name : resourceKey(e.namespace, e.name);
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

/**
 * Exactly one of spec.image / spec.build (instead of a noisy oneOf in the schema). Runs on the raw document of any
 * Service, schema-valid or not, so it is reported together with schema issues.
 */
export function imageXorBuildIssues(doc: RawDoc): ManifestIssue[] {
  const spec = isObj(doc.value) ? doc.value.spec : undefined;
  if (!isObj(spec)) return [];
  const hasImage = spec.image !== undefined && spec.image !== null;
  const hasBuild = spec.build !== undefined && spec.build !== null;
  const issue = (path: PathSegment[], message: string, target?: 'key'): ManifestIssue[] => [
    { ...doc.loc.at(path, target), code: 'E_SEMANTIC', field: formatPath(path), message },
  ];
  if (hasImage && hasBuild) return issue(['spec', 'build'], 'image and build are mutually exclusive: set exactly one', 'key');
  if (!hasImage && !hasBuild) return issue(['spec'], 'one of image or build is required');
  return [];
}

function checkService(doc: RawDoc, m: ServiceManifest, declared: Declared, report: Report): void {
  const { spec, metadata } = m;
  for (const key of Object.keys(spec.env)) {
    if (key === '' || key.includes('=')) report(doc, ['spec', 'env', key], 'environment variable names cannot be empty or contain "="', 'key');
  }
  if (spec.resources.cpu !== undefined && spec.resources.cpu <= 0) report(doc, ['spec', 'resources', 'cpu'], 'must be > 0');
  if (spec.resources.memory !== undefined && spec.resources.memory < MIN_MEMORY_BYTES) {
    report(doc, ['spec', 'resources', 'memory'], `must be at least 6Mi (Docker's minimum), got ${spec.resources.memory} bytes`);
  }
  checkPorts(doc, m, report);
  checkHealth(doc, m, report);
  checkLoadBalancer(doc, m, report);
  checkMounts(doc, m, declared, report);
  checkMountPaths(doc, m, report);
  checkEngineLimits(doc, m, report);
  spec.dependsOn.forEach((dep, i) => {
    if (dep === metadata.name) report(doc, ['spec', 'dependsOn', i], 'a service cannot depend on itself');
    else if (!declared.has(`Service\0${resourceKey(metadata.namespace, dep)}`)) {
      report(doc, ['spec', 'dependsOn', i], `no Service "${dep}" in namespace "${metadata.namespace}"`);
    }
  });
}

function checkPorts(doc: RawDoc, m: ServiceManifest, report: Report): void {
  const ports = new Map<string, number>();
  const names = new Map<string, number>();
  m.spec.ports.forEach((p, i) => {
    const id = `${p.port}/${p.protocol}`;
    const prev = ports.get(id);
    if (prev !== undefined) report(doc, ['spec', 'ports', i, 'port'], `duplicate port ${id} (also spec.ports[${prev}])`);
    else ports.set(id, i);
    if (p.name === undefined) return;
    const prevName = names.get(p.name);
    if (prevName !== undefined) report(doc, ['spec', 'ports', i, 'name'], `duplicate port name "${p.name}" (also spec.ports[${prevName}])`);
    else names.set(p.name, i);
  });
}

function checkMounts(doc: RawDoc, m: ServiceManifest, declared: Declared, report: Report): void {
  const paths = new Map<string, number>();
  m.spec.volumes.forEach((v, i) => {
    if (!declared.has(`Volume\0${resourceKey(m.metadata.namespace, v.volume)}`)) {
      report(doc, ['spec', 'volumes', i, 'volume'], `no Volume "${v.volume}" in namespace "${m.metadata.namespace}"`);
    }
    const path = normalizeMountPath(v.mountPath);
    const prev = paths.get(path);
    if (prev !== undefined) report(doc, ['spec', 'volumes', i, 'mountPath'], `duplicate mountPath ${path} (also spec.volumes[${prev}])`);
    else paths.set(path, i);
  });
}

