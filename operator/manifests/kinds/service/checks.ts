/** kind Service: checks a JSON Schema cannot express (moved from manifests/semantic.ts). */
import type { ManifestIssue } from '../../../model/errors.ts';
import type { ServiceManifest } from '../../../model/manifest.ts';
import { resourceKey } from '../../../model/keys.ts';
import type { PathSegment, RawDoc } from '../../yaml-source.ts';
import { formatPath } from '../../path.ts';
import { MIN_MEMORY_BYTES } from '../../quantity.ts';
import { isObj, type Obj } from '../../raw.ts';
import { checkHealth } from '../../health-checks.ts';
import { checkLoadBalancer } from '../../load-balancer-checks.ts';
import { checkPlacement } from '../../placement-checks.ts';
import { checkDependencies } from '../../dependency-checks.ts';
import { checkEngineLimits } from '../../engine-checks.ts';
import { checkMountPaths, normalizeMountPath } from '../../mount-checks.ts';
import { checkNamespaceSizes } from '../../namespace-checks.ts';
import { checkSecurityContext } from '../../security-checks.ts';
import { checkImageFields } from '../../image-checks.ts';
import { checkContainerNames, checkContainerSettings } from '../../container-checks.ts';
import { probeKindIssues } from '../../probes.ts';
import type { CheckContext, Declared, DocumentIssues, Report } from '../types.ts';
import { checkDependencyNetworks, checkNetworkRefs } from './network-checks.ts';
import { checkFileTargets } from './file-checks.ts';
import { checkAutoscale, hasProxyInFront } from './autoscale.ts';

/**
 * Raw-document checks of a Service: a probe without exactly one kind blocks typing (as malformed as a schema
 * violation); image xor build is reported beside the schema issues.
 */
export function serviceDocumentIssues(doc: RawDoc): DocumentIssues {
  return { blocking: probeKindIssues(doc), other: imageXorBuildIssues(doc) };
}

/** Per Service: the checks of checkService, then placement against the declared Nodes when all of them are typed. */
export function checkServiceManifest(doc: RawDoc, m: ServiceManifest, ctx: CheckContext, report: Report): void {
  checkService(doc, m, ctx.declared, report);
  checkNetworkRefs(doc, m, ctx, report);
  checkDependencyNetworks(doc, m, ctx, report);
  const key = resourceKey(m.metadata.namespace, m.metadata.name);
  checkAutoscale(doc, m, hasProxyInFront(m, ctx.routeBackends, key), report);
  if (ctx.placementNodes) checkPlacement(doc, m, ctx.placementNodes, report);
}

/** Across Services: dependsOn cycles and depth, containers per namespace, container names. */
export function checkServices(ctx: CheckContext, report: Report): void {
  checkDependencies(ctx.services, report);
  checkNamespaceSizes([...ctx.services.values()], report);
  checkContainerNames(ctx.services.values(), report);
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
  checkContainerFields(doc, m, declared, report);
  checkPorts(doc, m, report);
  checkHealth(doc, m, report);
  checkLoadBalancer(doc, m, report);
  checkDependsOn(doc, m, declared, report);
}

/**
 * The checks of the fields that shape a container (env, resources, volumes, mount paths, engine limits, security,
 * image, container settings, secrets, files), which a Job shares with a Service: kind Job runs them on its spec seen
 * as a Service's (kinds/job/view.ts), so both report the same words at the same fields.
 */
export function checkContainerFields(doc: RawDoc, m: ServiceManifest, declared: Declared, report: Report): void {
  const { spec } = m;
  for (const key of Object.keys(spec.env)) {
    if (key === '' || key.includes('=')) report(doc, ['spec', 'env', key], 'environment variable names cannot be empty or contain "="', 'key');
  }
  if (spec.resources.cpu !== undefined && spec.resources.cpu <= 0) report(doc, ['spec', 'resources', 'cpu'], 'must be > 0');
  if (spec.resources.memory !== undefined && spec.resources.memory < MIN_MEMORY_BYTES) {
    report(doc, ['spec', 'resources', 'memory'], `must be at least 6Mi (Docker's minimum), got ${spec.resources.memory} bytes`);
  }
  checkMounts(doc, m, declared, report);
  checkMountPaths(doc, m, report);
  checkEngineLimits(doc, m, report);
  checkSecurityContext(doc, m, report);
  checkImageFields(doc, m, report);
  checkContainerSettings(doc, m, report);
  checkSecretRefs(doc, m, declared, report);
  checkFileTargets(doc, m, report);
}

/**
 * spec.dependsOn: each entry names another Service of the namespace, or a Job of it (a migration that must succeed
 * before the Service rolls out), once. A Job has no replicas to become ready, so it takes no `condition: healthy`.
 */
function checkDependsOn(doc: RawDoc, m: ServiceManifest, declared: Declared, report: Report): void {
  const { spec, metadata } = m;
  const seenDeps = new Map<string, number>();
  spec.dependsOn.forEach((dep, i) => {
    const first = seenDeps.get(dep);
    if (first !== undefined) return report(doc, ['spec', 'dependsOn', i], `"${dep}" is listed twice (also spec.dependsOn[${first}])`);
    seenDeps.set(dep, i);
    const key = resourceKey(metadata.namespace, dep);
    if (dep === metadata.name) report(doc, ['spec', 'dependsOn', i], 'a service cannot depend on itself');
    else if (declared.has(`Service\0${key}`)) return;
    else if (!declared.has(`Job\0${key}`)) report(doc, ['spec', 'dependsOn', i], `no Service or Job "${dep}" in namespace "${metadata.namespace}"`);
    else if (spec.healthyDependencies?.includes(dep)) {
      report(doc, ['spec', 'dependsOn', i, 'condition'], `Job "${dep}" has no replicas to become ready: a Service waits for the Jobs it names to succeed, so drop condition healthy`);
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
    checkPortBinding(doc, m, i, report);
    if (p.name === undefined) return;
    const prevName = names.get(p.name);
    if (prevName !== undefined) report(doc, ['spec', 'ports', i, 'name'], `duplicate port name "${p.name}" (also spec.ports[${prevName}])`);
    else names.set(p.name, i);
  });
}

/**
 * spec.ports[i]: a proxy listener (publish) is tcp; an engine binding (hostPort) is held by one container of one node,
 * so it needs replicas <= 1 and stop-first updates (a start-first replacement would find the port taken).
 */
function checkPortBinding(doc: RawDoc, m: ServiceManifest, i: number, report: Report): void {
  const p = m.spec.ports[i]!;
  const at: PathSegment[] = ['spec', 'ports', i];
  if (p.publish && p.protocol !== 'tcp') report(doc, [...at, 'publish'], `berth's proxy publishes tcp ports only; bind a ${p.protocol} port with hostPort (the engine's port binding)`, 'key');
  if (p.hostIp !== undefined && p.hostPort === undefined) report(doc, [...at, 'hostIp'], 'hostIp needs a hostPort', 'key');
  if (p.hostPort === undefined) return;
  if (m.spec.replicas > 1) {
    report(doc, [...at, 'hostPort'], `a host port is bound on one node by one container: a service with hostPort runs at most 1 replica (replicas is ${m.spec.replicas}); publish through berth's proxy (publish) to spread over replicas`);
  }
  if (m.spec.update.order === 'start-first' && m.spec.ports.findIndex((q) => q.hostPort !== undefined) === i) {
    report(doc, ['spec', 'update', 'order'], `start-first would start the new replica while the old one holds host port ${p.hostPort} (spec.ports[${i}].hostPort): use stop-first (the default with a hostPort)`);
  }
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


/** spec.secrets: each names a Secret of the namespace; targets are absolute, normalised, unique and not a mount point of spec.volumes. */
/** spec.secrets[i] with env: a variable no other source sets, and none of the file fields. */
function checkSecretEnv(doc: RawDoc, m: ServiceManifest, i: number, report: Report): void {
  const raw = (isObj(doc.value) && isObj(doc.value.spec) && Array.isArray(doc.value.spec.secrets) ? doc.value.spec.secrets[i] : undefined) as Obj | undefined;
  for (const k of ['target', 'mode', 'uid', 'gid']) {
    if (raw?.[k] !== undefined) report(doc, ['spec', 'secrets', i, k], `a Secret delivered as the environment variable ${m.spec.secrets![i]!.env} has no ${k} (it is not a file)`);
  }
  const name = m.spec.secrets![i]!.env!;
  if (m.spec.env[name] !== undefined) report(doc, ['spec', 'secrets', i, 'env'], `${name} is also set in spec.env`);
  const first = m.spec.secrets!.findIndex((r) => r.env === name);
  if (first < i) report(doc, ['spec', 'secrets', i, 'env'], `${name} is also the env of spec.secrets[${first}]`);
}

function checkSecretRefs(doc: RawDoc, m: ServiceManifest, declared: Declared, report: Report): void {
  const targets = new Map<string, number>();
  const mounts = new Set(m.spec.volumes.map((v) => normalizeMountPath(v.mountPath)));
  (m.spec.secrets ?? []).forEach((r, i) => {
    if (!declared.has(`Secret\0${resourceKey(m.metadata.namespace, r.secret)}`)) {
      report(doc, ['spec', 'secrets', i, 'secret'], `no Secret "${r.secret}" in namespace "${m.metadata.namespace}"`);
    }
    if (r.env !== undefined) return checkSecretEnv(doc, m, i, report);
    const at: PathSegment[] = ['spec', 'secrets', i, 'target']; // absent (the default): located at the entry
    const segments = r.target.split('/').slice(1);
    if (r.target === '/' || segments.some((s) => s === '' || s === '.' || s === '..')) {
      report(doc, at, `target ${JSON.stringify(r.target)} must be an absolute, normalised path (no ".", ".." or empty segments, no trailing "/")`);
      return;
    }
    if (['/dev', '/proc', '/sys', '/etc', '/sbin', '/bin', '/usr', '/lib'].some((p) => r.target === p)) {
      report(doc, at, `target ${r.target} would hide a system directory of the container`);
      return;
    }
    const prev = targets.get(r.target);
    if (prev !== undefined) report(doc, at, `duplicate target ${r.target} (also spec.secrets[${prev}])`);
    else targets.set(r.target, i);
    if (mounts.has(r.target)) report(doc, at, `target ${r.target} is also a mountPath of spec.volumes`);
  });
}
