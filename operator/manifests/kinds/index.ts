/**
 * The table of manifest kinds: one descriptor per kind (its folder under kinds/), in the order kinds are listed in
 * messages. Adding a kind = a folder with its descriptor + one entry here (README "Adding a kind").
 */
import { LABELS } from '../../model/keys.ts';
import type { ManifestKind } from '../../model/manifest.ts';
import type { KindDescriptor, ObjectType } from './types.ts';
import { SERVICE } from './service/index.ts';
import { VOLUME } from './volume/index.ts';
import { ROUTE } from './route/index.ts';
import { NODE } from './node/index.ts';
import { SECRET } from './secret/index.ts';
import { NETWORK } from './network/index.ts';
import { JOB } from './job/index.ts';
import { CRONJOB } from './cronjob/index.ts';

export type { CheckContext, Declared, DesiredContext, DesiredPart, DocumentIssues, KindDescriptor, KindStatus, KindStatusEntry, ObjectType, Report, StatusContext, Typed } from './types.ts';
export type { ReplicaStatus, ServiceStatus } from './service/status.ts';

export const KIND_TABLE: readonly KindDescriptor[] = [SERVICE, VOLUME, ROUTE, NODE, SECRET, NETWORK, JOB, CRONJOB];

/** Names of the known kinds, in table order. */
export const KINDS: readonly ManifestKind[] = KIND_TABLE.map((d) => d.kind);

const BY_KIND = new Map<string, KindDescriptor>(KIND_TABLE.map((d) => [d.kind, d]));

/** The descriptor of a known kind. */
export function descriptorOf(kind: ManifestKind): KindDescriptor {
  const d = BY_KIND.get(kind);
  if (!d) throw new Error(`internal: no descriptor for kind ${kind}`);
  return d;
}

/**
 * The kind an engine object of `type` belongs to: its `berth.kind` label, or, without one, the kind that created such
 * objects before berth set the label (containers and networks: Service; volumes: Volume). Undefined when no
 * descriptor claims it (e.g. berth.kind=Job on a berth without Jobs).
 */
export function claimantOf(type: ObjectType, labels: Readonly<Record<string, string>>): ManifestKind | undefined {
  const label = labels[LABELS.kind];
  const d = label === undefined ? KIND_TABLE.find((k) => k.unlabelled.includes(type)) : BY_KIND.get(label);
  return d && d.objects.includes(type) ? d.kind : undefined;
}

/** True when the object of `type` with `labels` belongs to `kind`: the only objects `kind`'s pass may change or remove. */
export function claims(kind: ManifestKind, type: ObjectType, labels: Readonly<Record<string, string>>): boolean {
  return claimantOf(type, labels) === kind;
}

/** The objects of `list` that `kind` claims: the only ones its pass reads as its own. */
export function claimedBy<T extends { labels: Readonly<Record<string, string>> }>(kind: ManifestKind, type: ObjectType, list: readonly T[]): T[] {
  return list.filter((o) => claims(kind, type, o.labels));
}
