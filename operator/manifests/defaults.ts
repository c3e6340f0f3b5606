/** Kind detection and defaulting: schema-valid plain data -> typed manifests (each kind's spec by its descriptor). */
import { API_VERSION } from '../model/manifest.ts';
import type { Manifest, ManifestKind, Metadata } from '../model/manifest.ts';
import type { ManifestIssue } from '../model/errors.ts';
import type { RawDoc } from './yaml-source.ts';
import { KINDS, descriptorOf } from './kinds/index.ts';
import { isObj } from './raw.ts';
import type { Obj } from './raw.ts';

export { isObj } from './raw.ts';
export { KINDS } from './kinds/index.ts';

/** Returns the document's kind, or an E_UNKNOWN_KIND issue at its `apiVersion` / `kind` node. */
export function identifyKind(doc: RawDoc): ManifestKind | ManifestIssue {
  const issue = (path: string[], field: string, message: string): ManifestIssue => ({ ...doc.loc.at(path), code: 'E_UNKNOWN_KIND', field, message });
  if (!isObj(doc.value)) return issue([], '', `document must be a mapping with apiVersion: ${API_VERSION} and kind (one of: ${KINDS.join(', ')})`);
  const { apiVersion, kind } = doc.value;
  if (apiVersion === undefined) return issue([], 'apiVersion', `is required (expected ${API_VERSION})`);
  if (apiVersion !== API_VERSION) return issue(['apiVersion'], 'apiVersion', `unknown apiVersion ${JSON.stringify(apiVersion)} (expected ${API_VERSION})`);
  if (kind === undefined) return issue([], 'kind', `is required (one of: ${KINDS.join(', ')})`);
  if (!KINDS.includes(kind as ManifestKind)) return issue(['kind'], 'kind', `unknown kind ${JSON.stringify(kind)} (known: ${KINDS.join(', ')})`);
  return kind as ManifestKind;
}

/** Builds the typed manifest, with defaults, from a document that passed its schema. */
export function toManifest(kind: ManifestKind, doc: RawDoc): Manifest {
  const value = doc.value as Obj;
  const d = descriptorOf(kind);
  const base: Pick<Manifest, 'apiVersion' | 'metadata' | 'source'> = { apiVersion: API_VERSION, metadata: toMetadata(kind, value.metadata as Obj), source: doc.loc.start };
  return { ...base, kind, spec: d.toSpec(value.spec as Obj | undefined, doc) } as Manifest;
}

/** Cluster-scoped kinds (Node) have namespace '' (their schema refuses metadata.namespace). */
function toMetadata(kind: ManifestKind, m: Obj): Metadata {
  return {
    name: m.name as string,
    namespace: descriptorOf(kind).clusterScoped ? '' : ((m.namespace as string | undefined) ?? 'default'),
    labels: { ...((m.labels as Record<string, string> | undefined) ?? {}) },
  };
}
