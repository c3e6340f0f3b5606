/**
 * Compose files as manifests: `parseComposeFile` turns one compose.yaml (a stack) into berth RawDocs — a Service per
 * compose service, a Volume per named volume, in the namespace of the project name — whose locators point into the
 * compose file, so berth's schema and semantic checks report compose positions. Stages: YAML (the bounded composer,
 * as every manifest) -> merge keys -> interpolation (`.env` beside the file) -> the compose-spec schema -> conversion.
 */
import type { ManifestIssue, ManifestWarning } from '../model/errors.ts';
import { formatPath } from '../manifests/path.ts';
import { isObj } from '../manifests/raw.ts';
import type { Obj } from '../manifests/raw.ts';
import { parseYamlFile } from '../manifests/yaml-source.ts';
import type { DocLocator, RawDoc, YamlFile, YamlOptions } from '../manifests/yaml-source.ts';
import { composeSchemaIssues } from './compose-schema.ts';
import { convertProject } from './convert.ts';
import { parseDotEnv } from './dotenv.ts';
import { interpolateTree } from './interpolate.ts';
import type { ComposeEnv } from './interpolate.ts';
import { mappedLocator } from './locator.ts';
import type { Problem } from './context.ts';
import { resolveMergeKeys } from './merge-keys.ts';

export { resolveMergeKeys } from './merge-keys.ts';

export { COMPOSE_FILE_NAMES, dotEnvPathOf, envFilePath, isComposeFile, isDotEnvFile } from './detect.ts';
export { envFileRefs } from './env-file.ts';
export { parseDotEnv } from './dotenv.ts';

export interface ComposeOptions extends YamlOptions {
  /** The `.env` file in the compose file's directory, when there is one. */
  dotEnv?: YamlFile;
  /** The manifests root (--path), repository-relative; default the repository root. */
  root?: string;
  /** Files the services' `env_file` entries name, by repository-relative path (read beside the manifests). */
  envFiles?: ReadonlyMap<string, YamlFile>;
  /** Active profiles (--compose-profiles); empty or absent: COMPOSE_PROFILES of the variables, as compose reads it. */
  profiles?: readonly string[];
  /** The operator host's variables (--compose-env FILE): over the `.env` values, as a shell's environment is for compose. */
  hostEnv?: ComposeEnv;
}

export interface ComposeResult {
  docs: RawDoc[];
  issues: ManifestIssue[];
  warnings: ManifestWarning[];
}

/** Parses, interpolates, validates and converts one compose file. */
export function parseComposeFile(file: YamlFile, opts: ComposeOptions = {}): ComposeResult {
  const parsed = parseYamlFile(file, opts);
  const warnings: ManifestWarning[] = [];
  if (parsed.issues.length > 0) return { docs: [], issues: parsed.issues, warnings };
  const [doc, second] = parsed.docs;
  if (!doc) return { docs: [], issues: [{ file: file.path, line: 1, col: 1, code: 'E_SEMANTIC', field: '', message: 'the compose file is empty (it needs services)' }], warnings };
  if (second) return { docs: [], issues: [{ ...second.loc.start, code: 'E_SEMANTIC', field: '', message: 'a compose file holds one YAML document (found a second one)' }], warnings };
  if (!isObj(doc.value)) return { docs: [], issues: [{ ...doc.loc.start, code: 'E_SCHEMA', field: '', message: 'a compose file must be a mapping (services, volumes, ...)' }], warnings };
  const { env, issues } = composeEnv(opts.dotEnv, opts.hostEnv);
  const interpolated = interpolateTree(resolveMergeKeys(doc.value), env);
  const problems: Problem[] = interpolated.problems.map((p) => ({ ...p, target: 'value' }));
  const value = interpolated.value as Obj;
  if (!problems.some((p) => p.severity === 'error')) {
    const schema = composeSchemaIssues(value, doc.loc);
    issues.push(...schema);
    if (schema.length === 0) {
      const converted = convertProject(file.path, value, env, opts.root ?? '', { envFiles: opts.envFiles ?? new Map(), profiles: activeProfiles(opts.profiles, env) });
      for (const p of converted.envFileIssues) issues.push(p);
      problems.push(...converted.problems);
      const docs = converted.docs.map((c) => ({ file: file.path, value: c.value, loc: mappedLocator(doc.loc, c.map, c.base) }));
      collect(problems, doc.loc, issues, warnings);
      return { docs, issues, warnings };
    }
  }
  collect(problems, doc.loc, issues, warnings);
  return { docs: [], issues, warnings };
}

/**
 * The variables the compose file is interpolated with: its `.env` file, with the operator host's variables
 * (`--compose-env FILE`) over them, as a shell's environment is over the `.env` for docker compose (`${VAR}` in the
 * `.env` sees them too).
 */
function composeEnv(dotEnv: YamlFile | undefined, hostEnv: ComposeEnv = {}): { env: ComposeEnv; issues: ManifestIssue[] } {
  if (!dotEnv) return { env: { ...hostEnv }, issues: [] };
  const { vars, problems } = parseDotEnv(dotEnv.content, hostEnv);
  const issues = problems.map((p): ManifestIssue => ({ file: dotEnv.path, line: p.line, col: 1, code: 'E_SEMANTIC', field: '', message: p.message }));
  return { env: { ...vars, ...hostEnv }, issues };
}

/** The active profiles: the given ones, else COMPOSE_PROFILES (comma-separated) of the variables. */
function activeProfiles(given: readonly string[] | undefined, env: ComposeEnv): ReadonlySet<string> {
  const list = given && given.length > 0 ? given : (env.COMPOSE_PROFILES ?? '').split(',');
  return new Set(list.map((p) => p.trim()).filter(Boolean));
}

function collect(problems: readonly Problem[], loc: DocLocator, issues: ManifestIssue[], warnings: ManifestWarning[]): void {
  for (const p of problems) {
    const at = loc.at(p.path, p.target);
    if (p.severity === 'warning') warnings.push({ ...at, field: formatPath(p.path), message: p.message });
    else issues.push({ ...at, code: 'E_SEMANTIC', field: formatPath(p.path), message: p.message });
  }
}
