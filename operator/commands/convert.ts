/**
 * `berth convert <compose file>`: prints the berth manifests a compose file becomes (YAML documents), after every
 * check `berth validate` makes of it; exit 1 with file:line:col errors. Warnings (unset variables, skipped profiled
 * services) go to stderr.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import { isComposeFile } from '../compose/index.ts';
import { parseEntries } from '../manifests/parse.ts';
import { BerthError, formatIssue, formatWarning } from '../model/errors.ts';
import type { Flags } from '../settings/flags.ts';
import type { Io } from './shared.ts';

export async function convert(_flags: Flags, positionals: string[], io: Io): Promise<number> {
  const file = positionals[0];
  if (!file || positionals.length > 1) throw new BerthError('E_CONFIG', 'usage: berth convert <compose file> (one file)');
  if (!statSync(file, { throwIfNoEntry: false })?.isFile()) throw new BerthError('E_CONFIG', `convert: ${file} is not a file`);
  const abs = path.resolve(file);
  const dotEnv = path.join(path.dirname(abs), '.env');
  const out = composeToYaml(abs, readFileSync(abs, 'utf8'), existsSync(dotEnv) ? readFileSync(dotEnv, 'utf8') : undefined);
  if (out.warnings.length > 0) io.err(out.warnings.join('\n'));
  if (out.errors.length > 0) {
    io.err(out.errors.join('\n'));
    return 1;
  }
  io.out(out.yaml);
  return 0;
}

/**
 * Pure: the berth manifests of one compose file as YAML (`---` between documents), or its errors; positions name the
 * file as `<its directory>/<name>` (the directory name is the project name when the file has no `name:`).
 */
export function composeToYaml(absPath: string, content: string, dotEnv?: string): { yaml: string; errors: string[]; warnings: string[] } {
  const dir = path.basename(path.dirname(absPath));
  const rel = dir === '' ? path.basename(absPath) : `${dir}/${path.basename(absPath)}`;
  if (!isComposeFile(rel)) return { yaml: '', errors: [`${rel}: not a compose file (compose.yaml, compose.yml, docker-compose.yaml or docker-compose.yml)`], warnings: [] };
  const files = [{ path: rel, content }, ...(dotEnv === undefined ? [] : [{ path: path.posix.join(path.posix.dirname(rel), '.env'), content: dotEnv }])];
  const r = parseEntries(files);
  const warnings = (r.warnings ?? []).map(formatWarning);
  if (r.issues.length > 0) return { yaml: '', errors: r.issues.map(formatIssue), warnings };
  const header = `# berth manifests converted from ${rel} by berth convert\n`;
  return { yaml: header + r.entries.map((e) => stringify(e.doc.value, { lineWidth: 0 })).join('---\n'), errors: [], warnings };
}
