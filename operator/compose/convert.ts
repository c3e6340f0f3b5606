/**
 * A compose project (one interpolated, schema-valid compose document) -> berth Service and Volume documents as plain
 * data, each with the PathMap that locates its berth paths in the compose file.
 */
import { API_VERSION } from '../model/manifest.ts';
import type { PathSegment, YamlFile } from '../manifests/yaml-source.ts';
import type { ManifestIssue } from '../model/errors.ts';
import { isObj } from '../manifests/raw.ts';
import type { Obj } from '../manifests/raw.ts';
import { NAME_PATTERN } from '../manifests/schema.ts';
import { ServiceContext, listOrDict } from './context.ts';
import type { Problem, ProjectInfo } from './context.ts';
import { convertService } from './convert-service.ts';
import { PathMap } from './locator.ts';
import type { ComposeEnv } from './interpolate.ts';
import { directoryName, sanitizeNamespace } from './detect.ts';
import { convertTopSecrets } from './convert-secrets.ts';
import { convertTopNetworks } from './convert-networks.ts';
import type { NetworkDoc } from './convert-networks.ts';
import { convertTopConfigs } from './convert-configs.ts';
import type { SecretDoc } from './convert-secrets.ts';
import { bindVolumeName } from './convert-volumes.ts';
import { completedDependencies, toComposeJob } from './convert-job.ts';

/** One berth document converted from the compose file. */
export interface ConvertedDoc {
  value: Obj;
  map: PathMap;
  /** Where unmapped berth paths are located: the service's or volume's node. */
  base: PathSegment[];
}

export interface Converted {
  docs: ConvertedDoc[];
  problems: Problem[];
  /** Problems of the lines of env_file files, at those files. */
  envFileIssues: ManifestIssue[];
}

/** What the conversion needs beyond the document: the env_file files read, the active profiles. */
export interface ConvertExtra {
  envFiles?: ReadonlyMap<string, YamlFile>;
  profiles?: ReadonlySet<string>;
}

const NAME_RE = new RegExp(NAME_PATTERN);

/** Top-level fields berth will support later. */
const TOP_NOT_YET: Record<string, string> = {};

/** Converts `project` (the compose document of `file`) with the interpolation variables `env`. */
export function convertProject(file: string, project: Obj, env: ComposeEnv, root = '', extra: ConvertExtra = {}): Converted {
  const problems: Problem[] = [];
  const envFileIssues: ManifestIssue[] = [];
  const active = extra.profiles ?? new Set<string>();
  const namespace = projectNamespace(file, project, problems);
  for (const key of Object.keys(project)) {
    if (key === 'version' || key === 'name' || key === 'services' || key === 'volumes' || key === 'secrets' || key === 'configs' || key === 'networks' || key.startsWith('x-')) continue;
    if (TOP_NOT_YET[key]) problems.push({ path: [key], message: `${TOP_NOT_YET[key]} not supported yet`, severity: 'error', target: 'key' });
    else problems.push({ path: [key], message: `compose field ${key} is not supported by berth`, severity: 'error', target: 'key' });
  }
  const docs: ConvertedDoc[] = [];
  const volumes = convertVolumes(project.volumes, namespace, docs, problems);
  const networkDocs: NetworkDoc[] = [];
  const networks = convertTopNetworks(project.networks, networkDocs, problems);
  for (const n of networkDocs) docs.push({ value: document('Network', n.name, namespace, {}, n.spec), map: n.map, base: n.base });
  const secretDocs: SecretDoc[] = [];
  const secrets = convertTopSecrets(project.secrets, file, secretDocs, problems, root);
  for (const s of secretDocs) docs.push({ value: document('Secret', s.name, namespace, s.labels, s.spec), map: s.map, base: s.base });
  const bindVolume = bindVolumes(namespace, new Set(volumes.values()), docs, problems);
  const configs = convertTopConfigs(project.configs, file, problems, root);
  const services: Obj = isObj(project.services) ? project.services : {};
  const skipped = new Set(Object.keys(services).filter((name) => !profileActive(services[name], active)));
  // Services depended on with condition service_completed_successfully run to completion: berth Jobs (convert-job.ts).
  const jobs = completedDependencies(services, skipped);
  const info: ProjectInfo = { file, root, env, volumes, networks, secrets, configs, bindVolume, problems, envFiles: extra.envFiles ?? new Map(), envFileIssues, jobs };
  for (const [name, raw] of Object.entries(services)) {
    const svc = isObj(raw) ? raw : {};
    const base: PathSegment[] = ['services', name];
    // A service with profiles starts only when one of them is active (--compose-profiles, else COMPOSE_PROFILES).
    if (skipped.has(name) && Array.isArray(svc.profiles)) {
      problems.push({ path: [...base, 'profiles'], message: `service ${name} is skipped: it has profiles (${svc.profiles.join(', ')}) and none is active, as with docker compose up`, severity: 'warning' });
      continue;
    }
    if (!NAME_RE.test(name)) {
      problems.push({ path: base, message: `service name ${JSON.stringify(name)} cannot be a berth Service name (a DNS label: lowercase letters, digits and "-", at most 63 characters); rename the service`, severity: 'error', target: 'key' });
      continue;
    }
    const ctx = new ServiceContext(name, info);
    convertService(ctx, svc);
    const dependent = jobs.get(name);
    if (dependent !== undefined) toComposeJob(ctx, dependent);
    docs.push({ value: document(dependent === undefined ? 'Service' : 'Job', name, namespace, ctx.labels, ctx.spec), map: withMetadata(ctx.map, base, project), base });
  }
  return { docs, problems, envFileIssues };
}

/** A service without profiles, or with one of them active. */
function profileActive(raw: unknown, active: ReadonlySet<string>): boolean {
  const profiles = isObj(raw) ? raw.profiles : undefined;
  return !Array.isArray(profiles) || profiles.length === 0 || profiles.some((p) => active.has(String(p)));
}

/** `name:`, else the compose file's directory name sanitised; a file at the repository root needs `name:`. */
function projectNamespace(file: string, project: Obj, problems: Problem[]): string {
  if (typeof project.name === 'string' && project.name !== '') return project.name;
  const dir = directoryName(file);
  const ns = dir === undefined ? '' : sanitizeNamespace(dir);
  if (ns === '') {
    const why = dir === undefined ? 'the compose file is at the repository root' : `its directory name ${JSON.stringify(dir)} has no usable character`;
    problems.push({ path: [], message: `${file}: set name: (the project name, the berth namespace of its services): ${why}`, severity: 'error' });
  }
  return ns || 'default';
}

/** The top-level volumes -> berth Volumes; returns compose name -> berth name (`db_data` -> `db-data`: volumes are not addressed by name from outside). */
function convertVolumes(raw: unknown, namespace: string, docs: ConvertedDoc[], problems: Problem[]): Map<string, string> {
  const names = new Map<string, string>();
  const taken = new Map<string, string>();
  for (const [name, v] of Object.entries(isObj(raw) ? raw : {})) {
    const base: PathSegment[] = ['volumes', name];
    const berth = name.toLowerCase().replace(/[_.]/g, '-');
    if (!NAME_RE.test(berth)) {
      problems.push({ path: base, message: `volume name ${JSON.stringify(name)} cannot be a berth Volume name (a DNS label; "_" and "." become "-")`, severity: 'error', target: 'key' });
      continue;
    }
    const clash = taken.get(berth);
    if (clash !== undefined) {
      problems.push({ path: base, message: `volumes ${clash} and ${name} are both the berth Volume ${berth}: rename one`, severity: 'error', target: 'key' });
      continue;
    }
    taken.set(berth, name);
    names.set(name, berth);
    const map = new PathMap();
    map.add(['metadata', 'name'], base);
    const spec: Obj = {};
    const labels: Record<string, string> = {};
    for (const [k, x] of Object.entries(isObj(v) ? v : {})) {
      const at = [...base, k];
      if (k === 'driver') {
        spec.driver = x;
        map.add(['spec', 'driver'], at);
      } else if (k === 'driver_opts' && isObj(x)) {
        spec.driverOpts = Object.fromEntries(Object.entries(x).map(([o, val]) => [o, String(val)]));
        map.add(['spec', 'driverOpts'], at);
      } else if (k === 'labels') {
        for (const e of listOrDict(x)) {
          labels[e.key] = e.value ?? '';
          map.add(['metadata', 'labels', e.key], [...at, e.seg]);
        }
      } else if (k === 'external') {
        if (x === true || x === 'true' || isObj(x)) problems.push({ path: at, message: 'external volumes are not supported yet', severity: 'error', target: 'key' });
      } else if (k === 'name') problems.push({ path: at, message: 'a custom Docker volume name is not supported yet (berth names its volumes)', severity: 'error', target: 'key' });
      else if (!k.startsWith('x-')) problems.push({ path: at, message: `compose field volumes.${name}.${k} is not supported by berth`, severity: 'error', target: 'key' });
    }
    docs.push({ value: document('Volume', berth, namespace, labels, spec), map, base });
  }
  return names;
}

/**
 * Bind mounts of absolute host paths -> one berth Volume per path (local driver, `type: none, o: bind, device: <path>`,
 * retained), shared by every mount of that path; the Volume is located at the first mount, so the host-path check
 * (--allow-host-path) reports that compose line.
 */
function bindVolumes(namespace: string, named: ReadonlySet<string>, docs: ConvertedDoc[], problems: Problem[]): (hostPath: string, at: readonly PathSegment[]) => string | undefined {
  const made = new Map<string, string>();
  return (hostPath, at) => {
    const known = made.get(hostPath);
    if (known !== undefined) return known;
    const name = bindVolumeName(hostPath);
    if (named.has(name)) {
      problems.push({ path: [...at], message: `the bind mount of ${hostPath} is the berth Volume ${name}, which a top-level volume is already named: rename that volume`, severity: 'error' });
      return undefined;
    }
    made.set(hostPath, name);
    const map = new PathMap();
    map.add([], at);
    docs.push({ value: document('Volume', name, namespace, {}, { driver: 'local', driverOpts: { type: 'none', o: 'bind', device: hostPath }, retain: true }), map, base: [...at] });
    return name;
  };
}

function document(kind: string, name: string, namespace: string, labels: Record<string, string>, spec: Obj): Obj {
  const metadata: Obj = { name, namespace };
  if (Object.keys(labels).length > 0) metadata.labels = labels;
  return { apiVersion: API_VERSION, kind, metadata, spec };
}

function withMetadata(map: PathMap, base: PathSegment[], project: Obj): PathMap {
  map.add(['metadata'], base);
  map.add(['metadata', 'name'], base);
  map.add(['metadata', 'namespace'], typeof project.name === 'string' ? ['name'] : base);
  return map;
}
