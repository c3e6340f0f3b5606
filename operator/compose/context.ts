/** What converting one compose service accumulates: the berth spec, its path map, and problems at compose paths. */
import { posix } from 'node:path';
import type { PathSegment, YamlFile } from '../manifests/yaml-source.ts';
import type { ManifestIssue } from '../model/errors.ts';
import type { Obj } from '../manifests/raw.ts';
import { isObj } from '../manifests/raw.ts';
import { formatPath } from '../manifests/path.ts';
import { PathMap } from './locator.ts';
import type { ComposeEnv } from './interpolate.ts';
import type { ComposeSecret } from './convert-secrets.ts';
import type { ComposeConfig } from './convert-configs.ts';

/** A problem at a path of the compose document. */
export interface Problem {
  path: PathSegment[];
  message: string;
  severity: 'error' | 'warning';
  target?: 'key' | 'value';
}

/** What the services of one compose file share. */
/** `repoPath` (repository-relative) as a path relative to the manifests root `root` ('' = the repository root). */
export function fromRoot(root: string, repoPath: string): string {
  const rel = posix.relative(root === '' ? '.' : root, posix.normalize(repoPath));
  return rel === '' ? '.' : rel;
}

export interface ProjectInfo {
  /** The compose file's repository-relative path. */
  file: string;
  /** The manifests root (--path), repository-relative ('' = the repository root): berth resolves paths against it. */
  root: string;
  env: ComposeEnv;
  /** Declared top-level volumes: compose name -> berth Volume name. */
  volumes: ReadonlyMap<string, string>;
  /** Declared top-level networks and `default`: compose name -> berth Network name (`default`: the namespace's; null: refused). */
  networks?: ReadonlyMap<string, string | null>;
  /** Declared top-level secrets: compose name -> berth Secret name and format. */
  secrets: ReadonlyMap<string, ComposeSecret | null>;
  /** Declared top-level configs: compose name -> a file of the repository or inline content (null: refused); absent = none. */
  configs?: ReadonlyMap<string, ComposeConfig | null>;
  /** The berth Volume that bind-mounts the absolute host path `hostPath` (made by the first mount of it, located at `at`). */
  bindVolume: (hostPath: string, at: readonly PathSegment[]) => string | undefined;
  problems: Problem[];
  /** The files env_file entries may name, by repository-relative path. */
  envFiles: ReadonlyMap<string, YamlFile>;
  /** Problems of the env_file files' lines, at those files. */
  envFileIssues: ManifestIssue[];
  /** Services converted into Jobs (depended on with service_completed_successfully): name -> the first such dependent. */
  jobs?: ReadonlyMap<string, string>;
}

export class ServiceContext {
  readonly base: PathSegment[];
  readonly spec: Obj = {};
  readonly labels: Record<string, string> = {};
  readonly map = new PathMap();

  constructor(readonly name: string, readonly project: ProjectInfo) {
    this.base = ['services', name];
    this.map.add(['spec'], this.base);
  }

  /** Compose path of `rel` (relative to the service). */
  at(rel: readonly PathSegment[]): PathSegment[] {
    return [...this.base, ...rel];
  }

  /** Sets spec.<berth> (a path from spec) and maps it to `rel` of the service. */
  set(berth: readonly PathSegment[], value: unknown, rel: readonly PathSegment[]): void {
    let cur: Obj = this.spec;
    for (const seg of berth.slice(0, -1)) {
      const next = cur[String(seg)];
      if (!isObj(next)) cur[String(seg)] = {};
      cur = cur[String(seg)] as Obj;
    }
    cur[String(berth[berth.length - 1])] = value;
    this.mapTo(berth, rel);
  }

  /** Locates berth path spec.<berth> at `rel` of the service. */
  mapTo(berth: readonly PathSegment[], rel: readonly PathSegment[]): void {
    this.map.add(['spec', ...berth], this.at(rel));
  }

  /** Appends to the array spec.<berth> and maps the new item to `rel`. */
  push(berth: readonly PathSegment[], value: unknown, rel: readonly PathSegment[]): void {
    let cur: Obj = this.spec;
    for (const seg of berth.slice(0, -1)) {
      if (!isObj(cur[String(seg)])) cur[String(seg)] = {};
      cur = cur[String(seg)] as Obj;
    }
    const last = String(berth[berth.length - 1]);
    const list = (Array.isArray(cur[last]) ? cur[last] : (cur[last] = [])) as unknown[];
    if (list.length === 0) this.mapTo(berth, rel.slice(0, -1));
    list.push(value);
    this.mapTo([...berth, list.length - 1], rel);
  }

  error(rel: readonly PathSegment[], message: string, target: 'key' | 'value' = 'value'): void {
    this.project.problems.push({ path: this.at(rel), message, severity: 'error', target });
  }

  /** A field berth will support later: `<subject> not supported yet`, e.g. subject `build.args is`. */
  notYet(rel: readonly PathSegment[], subject: string, why = ''): void {
    this.error(rel, `${subject} not supported yet${why ? ` (${why})` : ''}`);
  }

  /** A compose field berth cannot honour: reported at its key, never dropped silently. */
  unsupported(rel: readonly PathSegment[]): void {
    const path = this.at(rel);
    this.project.problems.push({ path, message: `compose field ${formatPath(path)} is not supported by berth`, severity: 'error', target: 'key' });
  }
}

/** One entry of a compose list-or-dict (`{A: 1}` or `[A=1]`): its key, value (null: no value given) and path segment. */
export interface ListOrDictEntry {
  key: string;
  value: string | null;
  seg: PathSegment;
}

/** The entries of a list_or_dict value (environment, labels, sysctls, ...), values as strings. */
export function listOrDict(v: unknown, sep = '='): ListOrDictEntry[] {
  if (Array.isArray(v)) {
    return v.map((item, i) => {
      const s = String(item);
      const at = s.indexOf(sep);
      return at < 0 ? { key: s, value: null, seg: i } : { key: s.slice(0, at), value: s.slice(at + 1), seg: i };
    });
  }
  if (!isObj(v)) return [];
  return Object.entries(v).map(([key, value]) => ({ key, value: value === null || value === undefined ? null : String(value), seg: key }));
}
