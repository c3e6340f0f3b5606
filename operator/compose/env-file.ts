/**
 * `env_file` of a compose service: the files it names (a string, a list, or `{ path, required }` items; required by
 * default), relative to the compose file's directory and inside the repository, read as the `.env` is (dotenv.ts) and
 * merged below `environment`: later files win over earlier ones, `environment` over all. `${VAR}` in unquoted and
 * double-quoted values sees the lines above, then the earlier files, then the project's variables (the `.env`, the
 * host's), as compose does.
 */
import { resolveMergeKeys } from './merge-keys.ts';
import { isObj } from '../manifests/raw.ts';
import type { Obj } from '../manifests/raw.ts';
import type { ManifestIssue } from '../model/errors.ts';
import { parseYamlFile } from '../manifests/yaml-source.ts';
import type { PathSegment, YamlFile, YamlLimits } from '../manifests/yaml-source.ts';
import { envFilePath } from './detect.ts';
import { parseDotEnv } from './dotenv.ts';
import { interpolateString } from './interpolate.ts';
import type { ComposeEnv } from './interpolate.ts';
import type { Problem } from './context.ts';

/** One entry of a service's env_file: the path as written, whether it must exist, and its path below the service. */
export interface EnvFileItem {
  ref: string;
  required: boolean;
  rel: PathSegment[];
  /** `format:` when given (berth reads the dotenv format only). */
  format?: unknown;
}

/** The items of an env_file value (interpolated or raw); non-strings are left to the schema. */
export function envFileItems(v: unknown): EnvFileItem[] {
  if (typeof v === 'string') return [{ ref: v, required: true, rel: ['env_file'] }];
  if (!Array.isArray(v)) return [];
  return v.flatMap((item, i): EnvFileItem[] => {
    if (typeof item === 'string') return [{ ref: item, required: true, rel: ['env_file', i] }];
    if (!isObj(item) || typeof item.path !== 'string') return [];
    const required = item.required === undefined ? true : !(item.required === false || item.required === 'false');
    return [{ ref: item.path, required, rel: ['env_file', i, 'path'], ...(item.format !== undefined ? { format: item.format } : {}) }];
  });
}

/**
 * The repository-relative paths the env_file entries of a compose file name, for reading them before the parse: the
 * YAML read within the manifest limits (a file that is not valid YAML names none: the parse reports it), paths with
 * `${VAR}` interpolated with `env`. Paths leaving the repository are left out (the parse refuses them).
 */
export function envFileRefs(file: YamlFile, limits: YamlLimits, env: ComposeEnv = {}): string[] {
  const { docs } = parseYamlFile(file, { limits });
  const doc = docs[0]?.value;
  if (!isObj(doc)) return [];
  const services = resolveMergeKeys(doc) as Obj;
  const out = new Set<string>();
  for (const svc of Object.values(isObj(services.services) ? services.services : {})) {
    if (!isObj(svc)) continue;
    for (const item of envFileItems(svc.env_file)) {
      const r = interpolateString(item.ref, env);
      const path = 'error' in r ? undefined : envFilePath(file.path, r.value);
      if (path !== undefined) out.add(path);
    }
  }
  return [...out];
}

/**
 * The variables of a service's env_file entries, merged in order; problems of the entries at their compose paths
 * (`base` is the service's path), problems of the files' lines as issues at the files.
 */
export function envFileVars(composePath: string, base: readonly PathSegment[], v: unknown, files: ReadonlyMap<string, YamlFile>, env: ComposeEnv, problems: Problem[], issues: ManifestIssue[]): { vars: Record<string, string>; from: Map<string, PathSegment[]> } {
  const vars: Record<string, string> = {};
  const from = new Map<string, PathSegment[]>();
  for (const item of envFileItems(v)) {
    const at = [...base, ...item.rel];
    if (item.format !== undefined && item.format !== 'dotenv') {
      problems.push({ path: [...base, ...item.rel.slice(0, -1), 'format'], message: `env_file format ${String(item.format)} is not supported yet (the dotenv format is)`, severity: 'error' });
      continue;
    }
    const path = envFilePath(composePath, item.ref);
    if (path === undefined) {
      problems.push({ path: at, message: `env_file ${JSON.stringify(item.ref)} must be a file of the repository, relative to the compose file's directory`, severity: 'error' });
      continue;
    }
    const file = files.get(path);
    if (!file) {
      if (item.required) problems.push({ path: at, message: `env_file ${path} is not in the repository at this revision (required: false makes it optional)`, severity: 'error' });
      continue;
    }
    // a later file sees the variables of the earlier ones, over the project's (as compose-go reads env files)
    const parsed = parseDotEnv(file.content, { ...env, ...vars });
    for (const p of parsed.problems) issues.push({ file: file.path, line: p.line, col: 1, code: 'E_SEMANTIC', field: '', message: p.message });
    for (const [k, value] of Object.entries(parsed.vars)) {
      vars[k] = value;
      from.set(k, at);
    }
  }
  return { vars, from };
}
