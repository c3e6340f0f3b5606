/** kind Service: defaults (schema-valid data -> model). */
import type { BuildSpec, ContainerSettings, ImagePolicySpec, PortSpec, PullPolicy, ResourceSpec, SecurityContext, ServiceFile, ServiceSecretRef, ServiceSpec, VolumeMount } from '../../../model/manifest.ts';
import type { RawDoc } from '../../yaml-source.ts';
import { parseCpu, parseDuration, parseMemory } from '../../quantity.ts';
import { toHealth, toUpdate } from '../../probes.ts';
import { toLoadBalancer, toPublish } from '../../load-balancer.ts';
import { toPlacement } from '../../placement.ts';
import { toAutoscale } from './autoscale.ts';
import { convertAt, isObj } from '../../raw.ts';
import type { Obj } from '../../raw.ts';

/** Defaults of a schema-valid Service spec (README: replicas 1, restart always, update and probe defaults, ...). */
export function toServiceSpec(s: Obj, doc: RawDoc): ServiceSpec {
  const spec: ServiceSpec = {
    env: toEnv((s.env ?? {}) as Obj, doc),
    replicas: (s.replicas as number | undefined) ?? 1,
    ports: ((s.ports ?? []) as Obj[]).map(toPort),
    resources: toResources((s.resources ?? {}) as Obj),
    restart: { policy: ((s.restart as Obj | undefined)?.policy as ServiceSpec['restart']['policy'] | undefined) ?? 'always' },
    update: toUpdate(s.update),
    health: toHealth(s.health),
    volumes: ((s.volumes ?? []) as Obj[]).map(toMount),
    dependsOn: ((s.dependsOn ?? []) as (string | Obj)[]).map((d) => (typeof d === 'string' ? d : (d.service as string))),
    placement: toPlacement(s.placement as Obj | undefined),
    pullPolicy: (s.pullPolicy as PullPolicy | undefined) ?? defaultPullPolicy(typeof s.image === 'string' ? s.image : undefined),
  };
  // A host port is held by one container at a time: a service binding one replaces its replica stop-first unless told otherwise.
  if (spec.ports.some((p) => p.hostPort !== undefined) && !(isObj(s.update) && s.update.order !== undefined)) spec.update.order = 'stop-first';
  if (typeof s.image === 'string') spec.image = s.image;
  // Only when one dependency is `condition: healthy`: the others keep the model (and plan) of a berth without conditions.
  const healthy = ((s.dependsOn ?? []) as (string | Obj)[]).flatMap((d) => (isObj(d) && d.condition === 'healthy' ? [d.service as string] : []));
  if (healthy.length) spec.healthyDependencies = healthy;
  if (Array.isArray(s.secrets) && s.secrets.length) spec.secrets = (s.secrets as Obj[]).map(toSecretRef);
  // Only when written: absent = the namespace's own network, with the spec hash of a berth without the field.
  if (Array.isArray(s.networks)) spec.networks = (s.networks as (string | Obj)[]).map((n) => (typeof n === 'string' ? { name: n, aliases: [] } : { name: n.name as string, aliases: [...((n.aliases as string[] | undefined) ?? [])] }));
  if (Array.isArray(s.files) && s.files.length) spec.files = (s.files as Obj[]).map(toServiceFile);
  if (Array.isArray(s.anonymousVolumes) && s.anonymousVolumes.length) spec.anonymousVolumes = [...(s.anonymousVolumes as string[])];
  if (isObj(s.imagePolicy)) spec.imagePolicy = toImagePolicySpec(s.imagePolicy);
  const container = toContainerSettings(s);
  if (container) spec.container = container;
  if (isObj(s.build)) spec.build = toBuild(s.build, doc);
  if (Array.isArray(s.command)) spec.command = [...(s.command as string[])];
  if (isObj(s.loadBalancer)) spec.loadBalancer = toLoadBalancer(s.loadBalancer, spec.ports);
  if (isObj(s.autoscale)) spec.autoscale = toAutoscale(s.autoscale);
  // Only when written: an absent securityContext keeps the spec hash (and the replicas) of a berth without the field.
  if (isObj(s.securityContext)) spec.securityContext = toSecurityContext(s.securityContext);
  return spec;
}

/** Kubernetes' rule: a reference without a tag, or with :latest, is always asked of its registry; a digest never needs it. */
export function defaultPullPolicy(image: string | undefined): PullPolicy {
  if (image === undefined || image.includes('@')) return 'IfNotPresent';
  const colon = image.lastIndexOf(':');
  const tag = colon > image.lastIndexOf('/') ? image.slice(colon + 1) : undefined;
  return tag === undefined || tag === 'latest' ? 'Always' : 'IfNotPresent';
}

/** spec.entrypoint, user, workingDir, readOnly, tmpfs, ulimits, sysctls, extraHosts, stopSignal, stopGracePeriod, securityOpt; undefined when none is set. */
function toContainerSettings(s: Obj): ContainerSettings | undefined {
  const c: ContainerSettings = {};
  if (Array.isArray(s.entrypoint)) c.entrypoint = [...(s.entrypoint as string[])];
  if (typeof s.user === 'string') c.user = s.user;
  if (typeof s.workingDir === 'string') c.workingDir = s.workingDir;
  if (typeof s.containerName === 'string') c.containerName = s.containerName;
  if (typeof s.hostname === 'string') c.hostname = s.hostname;
  if (typeof s.stdinOpen === 'boolean') c.stdinOpen = s.stdinOpen;
  if (typeof s.tty === 'boolean') c.tty = s.tty;
  if (typeof s.readOnly === 'boolean') c.readOnly = s.readOnly;
  if (Array.isArray(s.tmpfs)) {
    c.tmpfs = (s.tmpfs as Obj[]).map((t, i) => ({
      path: t.path as string,
      ...(t.size !== undefined ? { sizeBytes: convertAt(['spec', 'tmpfs', i, 'size'], () => parseMemory(t.size as string | number)) } : {}),
      ...(typeof t.mode === 'string' ? { mode: t.mode } : {}),
    }));
  }
  if (isObj(s.ulimits)) {
    c.ulimits = Object.fromEntries(Object.entries(s.ulimits).map(([k, v]) => [k, typeof v === 'number' ? { soft: v, hard: v } : { soft: (v as Obj).soft as number, hard: (v as Obj).hard as number }]));
  }
  if (isObj(s.sysctls)) c.sysctls = Object.fromEntries(Object.entries(s.sysctls).map(([k, v]) => [k, String(v)]));
  if (Array.isArray(s.extraHosts)) c.extraHosts = [...(s.extraHosts as string[])];
  if (typeof s.stopSignal === 'string') c.stopSignal = /^[0-9]+$/.test(s.stopSignal) || s.stopSignal.startsWith('SIG') ? s.stopSignal : `SIG${s.stopSignal}`;
  if (s.stopGracePeriod !== undefined) c.stopGracePeriodMs = convertAt(['spec', 'stopGracePeriod'], () => parseDuration(s.stopGracePeriod as string | number));
  if (Array.isArray(s.securityOpt)) c.securityOpt = [...(s.securityOpt as string[])];
  return Object.keys(c).length ? c : undefined;
}

/** Default interval of spec.imagePolicy: 5 minutes. */
export const IMAGE_POLICY_INTERVAL_MS = 5 * 60_000;

function toImagePolicySpec(p: Obj): ImagePolicySpec {
  const out: ImagePolicySpec = {
    intervalMs: p.interval === undefined ? IMAGE_POLICY_INTERVAL_MS : convertAt(['spec', 'imagePolicy', 'interval'], () => parseDuration(p.interval as string | number)),
  };
  if (typeof p.semver === 'string') out.semver = p.semver;
  if (typeof p.pattern === 'string') out.pattern = p.pattern;
  if (p.order === 'numerical' || p.order === 'alphabetical') out.order = p.order;
  if (typeof p.extract === 'string') out.extract = p.extract;
  return out;
}

/** Defaults of spec.securityContext: not privileged, nothing added or dropped besides NET_RAW, escalation as privileged. */
export function toSecurityContext(c: Obj): SecurityContext {
  const privileged = (c.privileged as boolean | undefined) ?? false;
  return {
    privileged,
    capAdd: [...((c.capAdd ?? []) as string[])],
    capDrop: [...((c.capDrop ?? []) as string[])],
    allowPrivilegeEscalation: (c.allowPrivilegeEscalation as boolean | undefined) ?? privileged,
  };
}

/** Env values are strings; a number keeps its YAML spelling (`1.0` stays "1.0", not "1"). */
/** spec.build; args and target only when written (absent: the content hash of a berth without them). */
function toBuild(b: Obj, doc: RawDoc): BuildSpec {
  const build: BuildSpec = { context: b.context as string, dockerfile: (b.dockerfile as string | undefined) ?? 'Dockerfile' };
  if (isObj(b.args) && Object.keys(b.args).length) {
    build.args = Object.fromEntries(Object.entries(b.args).map(([k, v]) => [k, typeof v === 'number' ? (doc.loc.plainText(['spec', 'build', 'args', k]) ?? String(v)) : String(v)]));
  }
  if (typeof b.target === 'string') build.target = b.target;
  return build;
}

function toEnv(env: Obj, doc: RawDoc): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) {
    out[k] = typeof v === 'number' ? (doc.loc.plainText(['spec', 'env', k]) ?? String(v)) : String(v);
  }
  return out;
}

function toPort(p: Obj): PortSpec {
  const port: PortSpec = { port: p.port as number, protocol: (p.protocol as PortSpec['protocol'] | undefined) ?? 'tcp' };
  if (typeof p.name === 'string') port.name = p.name;
  if (typeof p.hostPort === 'number') port.hostPort = p.hostPort;
  if (typeof p.hostIp === 'string') port.hostIp = p.hostIp;
  if (isObj(p.publish)) port.publish = toPublish(p.publish);
  return port;
}

function toResources(r: Obj): ResourceSpec {
  const out: ResourceSpec = {};
  if (r.cpu !== undefined) out.cpu = convertAt(['spec', 'resources', 'cpu'], () => parseCpu(r.cpu as string | number));
  if (r.memory !== undefined) out.memory = convertAt(['spec', 'resources', 'memory'], () => parseMemory(r.memory as string | number));
  return out;
}

function toMount(v: Obj): VolumeMount {
  return { volume: v.volume as string, mountPath: v.mountPath as string, readOnly: (v.readOnly as boolean | undefined) ?? false };
}

/** The directory secrets go to by default: /run/secrets/<secret>[/<key>]. */
export const SECRETS_DIR = '/run/secrets';

function toSecretRef(r: Obj): ServiceSecretRef {
  const secret = r.secret as string;
  const key = r.key as string | undefined;
  const mode = (r.mode as string | undefined) ?? '0400';
  return {
    secret,
    ...(key !== undefined ? { key } : {}),
    ...(typeof r.env === 'string' ? { env: r.env } : {}),
    target: (r.target as string | undefined) ?? (key !== undefined ? `${SECRETS_DIR}/${secret}/${key}` : `${SECRETS_DIR}/${secret}`),
    mode: mode.length === 3 ? `0${mode}` : mode,
    ...(typeof r.uid === 'number' ? { uid: r.uid } : {}),
    ...(typeof r.gid === 'number' ? { gid: r.gid } : {}),
  };
}

/** One spec.files entry as written (the schema checked the types; file-checks.ts that exactly one of source and content is set). */
function toServiceFile(f: Obj): ServiceFile {
  const out: ServiceFile = { target: f.target as string };
  if (typeof f.source === 'string') out.source = f.source;
  if (typeof f.content === 'string') out.content = f.content;
  if (typeof f.mode === 'string') out.mode = f.mode;
  if (typeof f.uid === 'number') out.uid = f.uid;
  if (typeof f.gid === 'number') out.gid = f.gid;
  return out;
}
