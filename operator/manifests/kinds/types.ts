/** What berth knows about one manifest kind: the contract every entry of the kind table (kinds/index.ts) fulfils. */
import type { AutoscaleStatus } from '../../autoscale/controller.ts';
import type { ManifestIssue } from '../../model/errors.ts';
import type { Manifest, NodeManifest, ServiceManifest } from '../../model/manifest.ts';
import type { DesiredFileMount, DesiredNetwork, DesiredSecret, DesiredState, ImageState, LastPull, ObservedContainer } from '../../model/state.ts';
import type { CrashLoopInfo, HeldUpdate } from '../../model/healing.ts';
import type { Health, ReplicaHealth } from '../../model/health.ts';
import type { OutputsByContainer } from '../../jobs/output.ts';
import type { ResolvedBuild } from '../build-context.ts';
import type { Obj } from '../raw.ts';
import type { PathSegment, RawDoc } from '../yaml-source.ts';

/** Engine objects berth creates; each carries `berth.kind` naming the kind that created it. */
export type ObjectType = 'container' | 'volume' | 'network' | 'image';

/** Reports one semantic issue at `path` of `doc` (at its key with target 'key'). */
export type Report = (doc: RawDoc, path: PathSegment[], message: string, target?: 'key' | 'value') => void;

/** `Kind\0ns/name` of the resources the revision declares. */
export interface Declared {
  /** True when the revision declares `Kind\0ns/name` (or may: while a document is unreadable, always). */
  has(key: string): boolean;
}

/** A typed manifest with the document it came from. */
export interface Typed<M extends Manifest = Manifest> {
  doc: RawDoc;
  manifest: M;
}

/** What the semantic checks of one kind may look up across the revision. */
export interface CheckContext {
  declared: Declared;
  /** Typed Services by key, the first definition winning (a duplicate is reported elsewhere). */
  services: ReadonlyMap<string, { doc: RawDoc; m: ServiceManifest }>;
  /** `ns/name` of every Service a typed Route names as a backend (traffic reaching it through berth's router). */
  routeBackends: ReadonlySet<string>;
  /** Typed Nodes sorted by name, first definition winning; undefined while some Node failed its schema. */
  placementNodes?: readonly NodeManifest[];
  /** Every typed manifest of the revision, in document order (a kind that looks at another kind's resources). */
  typed: readonly Typed[];
}

/** Issues a kind finds on the raw document, next to its schema's. */
export interface DocumentIssues {
  /** As bad as a schema violation: the document gets no typed manifest and no further checks. */
  blocking: ManifestIssue[];
  /** Reported with the schema issues; the document is still typed when its schema passed. */
  other: ManifestIssue[];
}

/** Inputs of desired state besides the manifests. */
export interface DesiredContext {
  instance: string;
  /** Checked build contexts, keyed by resource key (of a Service, a Job or a CronJob's template). */
  builds: ReadonlyMap<string, ResolvedBuild>;
  /** Secrets whose files were read and checked against the snapshot, keyed by resource key (absent: none). */
  secrets?: ReadonlyMap<string, DesiredSecret>;
  /** The revision's berth Networks (kind Network), keyed by resource key (absent: none). */
  networks?: ReadonlyMap<string, DesiredNetwork>;
  /** spec.files of each Service (Job, CronJob template) read from the snapshot, keyed by resource key (absent: none). */
  files?: ReadonlyMap<string, DesiredFileMount[]>;
}

/** The parts of the desired state a kind contributes (each list sorted by the kind). */
export type DesiredPart = Partial<Omit<DesiredState, 'revision'>>;

/** What a kind's status report reads: the desired state in force and the engine objects the kind claims. */
export interface StatusContext {
  desired: DesiredState | null;
  /** Only the containers this kind claims. */
  containers: readonly ObservedContainer[];
  /** Probe-based health of a running container (absent: running counts as healthy). */
  health?: (containerId: string) => ReplicaHealth | undefined;
  crashes?: ReadonlyMap<string, CrashLoopInfo>;
  held?: ReadonlyMap<string, HeldUpdate>;
  /** Several engines: entries name the node of each container. */
  multiNode: boolean;
  /** Nodes past their grace: their containers no longer count. */
  lostNodes?: ReadonlySet<string>;
  /** Resource key -> why some of its containers wait for a node. */
  unschedulable?: ReadonlyMap<string, string>;
  /** Image reference -> what its registry said this pass (images/resolver.ts). */
  images?: ReadonlyMap<string, ImageState>;
  /** Resource key -> why its image pull failed this pass. */
  pullErrors?: ReadonlyMap<string, string>;
  /** Resource key -> its image's last pull. */
  pulls?: ReadonlyMap<string, LastPull>;
  /** Service key -> what the autoscaler shows of it. */
  autoscale?: ReadonlyMap<string, AutoscaleStatus>;
  /** The time of the report (ms since the epoch): a Job's deadline and backoff are read against it (absent: now). */
  now?: number;
  /** This kind's section of the previous status document (a Job's record of a run whose containers are gone). */
  previous?: Readonly<Record<string, KindStatusEntry>>;
  /** Last lines of output of finished Job and CronJob containers, by container name (jobs/output.ts). */
  jobOutputs?: OutputsByContainer;
}

/** The part every kind's status entry has; the status conditions (Ready, Degraded) are computed from these. */
export interface KindStatusEntry {
  desired: number;
  ready: number;
  health: Health;
  message?: string;
  /** The containers that make up the resource (a Service's replicas). */
  replicas: readonly { health: Health; ready: boolean }[];
}

/** The kind's section of the status document (e.g. `services`), one entry per resource key. */
export interface KindStatus<E extends KindStatusEntry = KindStatusEntry> {
  readonly section: string;
  report(ctx: StatusContext): Record<string, E>;
}

/** One kind: name, schema, defaults, checks, desired state and the engine objects it owns. */
export interface KindDescriptor<M extends Manifest = Manifest> {
  readonly kind: M['kind'];
  /** The kind's JSON Schema (in schemas/, where editors and the validate workflow find it). */
  readonly schema: URL;
  /** Cluster-wide (Node): keyed by name alone, metadata.namespace is ''. */
  readonly clusterScoped: boolean;
  /** Engine objects this kind creates and labels `berth.kind=<kind>`: the only ones its pass may remove. */
  readonly objects: readonly ObjectType[];
  /** Objects of these types without a `berth.kind` label are this kind's (created before berth set the label). */
  readonly unlabelled: readonly ObjectType[];
  /** Builds the typed spec, with defaults, from `spec` of a document that passed the schema. */
  toSpec(spec: Obj | undefined, doc: RawDoc): M['spec'];
  /** Checks of the raw document (schema-valid or not) that the schema cannot express. */
  documentIssues?(doc: RawDoc): DocumentIssues;
  /** Semantic checks of one typed manifest of this kind. */
  check?(doc: RawDoc, manifest: M, ctx: CheckContext, report: Report): void;
  /** Semantic checks across every typed manifest of this kind (in document order). */
  checkAll?(typed: readonly Typed<M>[], ctx: CheckContext, report: Report): void;
  /** What the manifests of this kind (in document order) add to the desired state; absent = nothing runs. */
  desired?(manifests: readonly M[], ctx: DesiredContext): DesiredPart;
  /** How the kind's resources appear in the status document; absent = they do not. */
  readonly status?: KindStatus;
}
