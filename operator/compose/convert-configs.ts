/**
 * Compose configs -> berth spec.files. A top-level `configs.<name>: { file: ./path }` names a file of the repository
 * (relative to the compose file's directory); `{ content: ... }` gives the content itself. A service's `configs:`
 * (short: the file `/<name>`, as compose; or `{ source, target, uid, gid, mode }`, mode default 0444 as compose's) copies
 * it into each replica before it starts, as every spec.files entry: a change in git replaces the replicas using it.
 * `environment:`, `external:`, `name:` and `template_driver:` are refused at their key.
 */
import { posix } from 'node:path';
import type { PathSegment } from '../manifests/yaml-source.ts';
import { isObj } from '../manifests/raw.ts';
import type { Obj } from '../manifests/raw.ts';
import { fromRoot } from './context.ts';
import type { Problem, ServiceContext } from './context.ts';
import { fileOwnership } from './convert-secrets.ts';

/** A declared compose config: a file of the repository (relative to the manifests root) or inline content. */
export type ComposeConfig = { file: string } | { content: string };

const NOT_YET: Record<string, string> = {
  environment: 'configs from an environment variable are',
  external: 'external configs are',
  name: 'a custom config name is',
  template_driver: 'config templates are',
};

/** The top-level `configs` -> compose name -> config (null: refused, already reported). */
export function convertTopConfigs(raw: unknown, composeFile: string, problems: Problem[], root = ''): Map<string, ComposeConfig | null> {
  const configs = new Map<string, ComposeConfig | null>();
  for (const [name, v] of Object.entries(isObj(raw) ? raw : {})) {
    const base: PathSegment[] = ['configs', name];
    const error = (path: PathSegment[], message: string, target: 'key' | 'value' = 'value') => problems.push({ path, message, severity: 'error', target });
    configs.set(name, null);
    const c = isObj(v) ? v : {};
    let ok = true;
    for (const k of Object.keys(c)) {
      if (k === 'file' || k === 'content' || k.startsWith('x-')) continue;
      ok = false;
      if (NOT_YET[k]) error([...base, k], `${NOT_YET[k]} not supported yet (use file: a file of the repository, or content:)`, 'key');
      else if (k === 'labels') error([...base, k], 'labels of a config are not supported by berth (a config is a file copied into the replicas, not an engine object)', 'key');
      else error([...base, k], `compose field configs.${name}.${k} is not supported by berth`, 'key');
    }
    if (!ok) continue;
    if (typeof c.content === 'string' && c.file === undefined) {
      configs.set(name, { content: c.content });
      continue;
    }
    if (typeof c.file !== 'string' || c.file === '' || c.content !== undefined) {
      error(base, 'needs file: a file of the repository relative to the compose file (or content:, not both)', 'key');
      continue;
    }
    if (posix.isAbsolute(c.file) || c.file.startsWith('~')) {
      error([...base, 'file'], 'must be a file of the repository, relative to the compose file (berth reads it from git at the revision), not a host path');
      continue;
    }
    configs.set(name, { file: fromRoot(root, posix.join(posix.dirname(composeFile), c.file)) });
  }
  return configs;
}

/** A service's `configs` -> spec.files. `declared`: the top-level configs. */
export function convertServiceConfigs(ctx: ServiceContext, v: unknown, declared: ReadonlyMap<string, ComposeConfig | null>): void {
  if (!Array.isArray(v)) return;
  v.forEach((raw, i) => {
    const rel: PathSegment[] = ['configs', i];
    const long = isObj(raw) ? raw : undefined;
    const source = long ? long.source : raw;
    const sourceRel = long ? [...rel, 'source'] : rel;
    if (typeof source !== 'string' || source === '') return ctx.error(rel, 'needs source: a config of the top-level configs');
    const config = declared.get(source);
    if (config === undefined) return ctx.error(sourceRel, `config ${JSON.stringify(source)} is not declared in the top-level configs`);
    if (config === null) return; // refused at its declaration
    const entry: Obj = 'file' in config ? { source: config.file } : { content: config.content };
    const paths: [string, PathSegment[]][] = [['file' in config ? 'source' : 'content', sourceRel]];
    const target = long && typeof long.target === 'string' && long.target !== '' ? long.target : source;
    entry.target = target.startsWith('/') ? target : `/${target}`;
    paths.push(['target', long && long.target !== undefined ? [...rel, 'target'] : sourceRel]);
    entry.mode = '0444';
    paths.push(['mode', sourceRel]);
    if (long) {
      for (const k of Object.keys(long)) if (!['source', 'target', 'uid', 'gid', 'mode'].includes(k) && !k.startsWith('x-')) ctx.unsupported([...rel, k]);
      if (!fileOwnership(ctx, long, rel, entry, paths)) return;
    }
    ctx.push(['files'], entry, rel);
    const n = (ctx.spec.files as unknown[]).length - 1;
    for (const [field, at] of paths) ctx.mapTo(['files', n, field], at);
    // a missing or escaping file is reported at its top-level declaration, as compose's own error is
    if ('file' in config) ctx.map.add(['spec', 'files', n, 'source'], ['configs', source, 'file']);
  });
}
