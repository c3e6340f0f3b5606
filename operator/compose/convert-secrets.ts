/**
 * Compose secrets -> berth Secrets. A top-level `secrets.<name>: { file: ./path }` names a file of the repository
 * (relative to the compose file's directory) that must be encrypted, as every berth Secret's file: berth never keeps
 * plaintext secrets from git. Which encryption is read from the file name: `.yaml`, `.yml` and `.json` are SOPS
 * documents, anything else an age file (the Secret's spec.format, so a file that is not encrypted that way is refused).
 * A service's `secrets: [name]` (or `{ source, target, uid, gid, mode }`) -> spec.secrets: an age file is one value,
 * delivered as the file /run/secrets/<target> (`key: value`), as compose does; a SOPS document has many items, each
 * delivered as a file under the directory /run/secrets/<target>/ (named by its dotted key).
 */
import { posix } from 'node:path';
import type { PathSegment } from '../manifests/yaml-source.ts';
import { isObj } from '../manifests/raw.ts';
import type { Obj } from '../manifests/raw.ts';
import { NAME_PATTERN } from '../manifests/schema.ts';
import { fromRoot, listOrDict } from './context.ts';
import type { Problem, ServiceContext } from './context.ts';
import { PathMap } from './locator.ts';

const NAME_RE = new RegExp(NAME_PATTERN);

/** A declared compose secret: its berth Secret name and how its file is encrypted. */
export interface ComposeSecret {
  name: string;
  format: 'age' | 'sops';
}

/** One converted berth Secret document's parts (convert.ts wraps them into a document). */
export interface SecretDoc {
  name: string;
  labels: Record<string, string>;
  spec: Obj;
  map: PathMap;
  base: PathSegment[];
}

// `content` is not in the vendored compose-spec schema, which refuses it first; kept for a newer schema.
const NOT_YET: Record<string, string> = {
  external: 'external secrets are',
  environment: 'secrets from an environment variable are',
  content: 'inline secret content is',
};

/** The encryption berth expects of `file`, from its name. */
export function secretFormatOf(file: string): 'age' | 'sops' {
  return /\.(ya?ml|json)$/i.test(file) ? 'sops' : 'age';
}

/** The top-level `secrets` -> berth Secret parts; returns compose name -> secret (null: refused, already reported). */
export function convertTopSecrets(raw: unknown, composeFile: string, out: SecretDoc[], problems: Problem[], root = ''): Map<string, ComposeSecret | null> {
  const names = new Map<string, ComposeSecret | null>();
  const taken = new Map<string, string>();
  for (const [name, v] of Object.entries(isObj(raw) ? raw : {})) {
    const base: PathSegment[] = ['secrets', name];
    names.set(name, null);
    const error = (path: PathSegment[], message: string, target: 'key' | 'value' = 'value') => problems.push({ path, message, severity: 'error', target });
    const berth = name.toLowerCase().replace(/[_.]/g, '-');
    if (!NAME_RE.test(berth)) {
      error(base, `secret name ${JSON.stringify(name)} cannot be a berth Secret name (a DNS label; "_" and "." become "-")`, 'key');
      continue;
    }
    const clash = taken.get(berth);
    if (clash !== undefined) {
      error(base, `secrets ${clash} and ${name} are both the berth Secret ${berth}: rename one`, 'key');
      continue;
    }
    taken.set(berth, name);
    const secret = isObj(v) ? v : {};
    const map = new PathMap();
    map.add(['metadata'], base);
    map.add(['metadata', 'name'], base);
    const labels: Record<string, string> = {};
    let ok = true;
    for (const [k, x] of Object.entries(secret)) {
      const at = [...base, k];
      if (k === 'file' || k.startsWith('x-')) continue;
      if (k === 'labels') {
        for (const e of listOrDict(x)) {
          labels[e.key] = e.value ?? '';
          map.add(['metadata', 'labels', e.key], [...at, e.seg]);
        }
      } else if (NOT_YET[k]) {
        ok = false;
        error(at, `${NOT_YET[k]} not supported yet (use file: an encrypted file of the repository)`, 'key');
      } else {
        ok = false;
        error(at, `compose field secrets.${name}.${k} is not supported by berth`, 'key');
      }
    }
    if (!ok) continue;
    if (typeof secret.file !== 'string' || secret.file === '') {
      error(base, 'needs file: an encrypted (SOPS or age) file of the repository, relative to the compose file', 'key');
      continue;
    }
    const fileAt = [...base, 'file'];
    if (posix.isAbsolute(secret.file)) {
      error(fileAt, 'must be a file of the repository, relative to the compose file (berth reads secrets from git, encrypted), not an absolute path');
      continue;
    }
    // spec.file of a Secret is relative to the manifests root (--path); the compose path is relative to the compose file
    const file = fromRoot(root, posix.join(posix.dirname(composeFile), secret.file));
    const format = secretFormatOf(file);
    map.add(['spec'], base);
    map.add(['spec', 'file'], fileAt);
    map.add(['spec', 'format'], fileAt);
    names.set(name, { name: berth, format });
    out.push({ name: berth, labels, spec: { file, format }, map, base });
  }
  return names;
}

/** A service's `secrets` -> spec.secrets. */
export function convertServiceSecrets(ctx: ServiceContext, v: unknown): void {
  if (!Array.isArray(v)) return;
  v.forEach((raw, i) => {
    const rel: PathSegment[] = ['secrets', i];
    const long = isObj(raw) ? raw : undefined;
    const source = long ? long.source : raw;
    const sourceRel = long ? [...rel, 'source'] : rel;
    if (typeof source !== 'string' || source === '') return ctx.error(long ? rel : sourceRel, 'needs source: a secret of the top-level secrets');
    const secret = ctx.project.secrets.get(source);
    if (secret === undefined) return ctx.error(sourceRel, `secret ${JSON.stringify(source)} is not declared in the top-level secrets`);
    if (secret === null) return; // refused at its declaration
    const entry: Obj = { secret: secret.name };
    const paths: [string, PathSegment[]][] = [['secret', sourceRel]];
    // An age file is one value: the file /run/secrets/<target>. A SOPS document: its items under that directory.
    if (secret.format === 'age') {
      entry.key = 'value';
      paths.push(['key', sourceRel]);
    }
    const target = long && typeof long.target === 'string' && long.target !== '' ? long.target : source;
    entry.target = target.startsWith('/') ? target : `/run/secrets/${target}`;
    paths.push(['target', long && long.target !== undefined ? [...rel, 'target'] : sourceRel]);
    if (long && !fileOwnership(ctx, long, rel, entry, paths)) return;
    ctx.push(['secrets'], entry, rel);
    const n = (ctx.spec.secrets as unknown[]).length - 1;
    for (const [field, at] of paths) ctx.mapTo(['secrets', n, field], at);
  });
}

/**
 * A compose mode -> berth's "0440". YAML 1.2 reads `0440` as the integer 440, whose digits are the octal mode (as for
 * tmpfs modes); a string is taken as written (`"0440"`, `"440"`, `"0o440"`).
 */
/**
 * The uid, gid and mode of a long-form secret or config entry onto `entry`, each located at its compose key in
 * `paths`; false (with the error reported) when one is not a number or an octal mode.
 */
export function fileOwnership(ctx: ServiceContext, long: Obj, rel: PathSegment[], entry: { uid?: number; gid?: number; mode?: string }, paths: [string, PathSegment[]][]): boolean {
  for (const k of ['uid', 'gid'] as const) {
    if (long[k] === undefined) continue;
    const s = String(long[k]);
    if (!/^[0-9]{1,10}$/.test(s)) {
      ctx.error([...rel, k], `must be a numeric ${k === 'uid' ? 'user' : 'group'} id`);
      return false;
    }
    entry[k] = Number(s);
    paths.push([k, [...rel, k]]);
  }
  if (long.mode !== undefined) {
    const mode = octalMode(long.mode);
    if (mode === undefined) {
      ctx.error([...rel, 'mode'], `must be a file mode in octal digits such as 0440 (found ${JSON.stringify(long.mode)})`);
      return false;
    }
    entry.mode = mode;
    paths.push(['mode', [...rel, 'mode']]);
  }
  return true;
}

export function octalMode(v: unknown): string | undefined {
  const s = typeof v === 'number' && Number.isInteger(v) && v >= 0 ? String(v) : typeof v === 'string' ? v.trim().replace(/^0o/i, '') : '';
  if (!/^0?[0-7]{3}$/.test(s) && !/^[0-7]{1,2}$/.test(s)) return undefined;
  return s.replace(/^0/, '').padStart(4, '0');
}
