/**
 * Compose interpolation over string values: `${VAR}`, `$VAR`, `${VAR:-default}` (unset or empty), `${VAR-default}`
 * (unset), `${VAR:?message}` / `${VAR?message}` (an error), `${VAR:+alt}` / `${VAR+alt}`, `$$` for a literal `$`;
 * defaults may nest (`${A:-${B}}`). An unset variable without default is the empty string, with a warning, as compose
 * does. Mapping keys are not interpolated (compose does not either).
 */
import type { PathSegment } from '../manifests/yaml-source.ts';

/** Variables a compose file sees, by name. */
export type ComposeEnv = Readonly<Record<string, string>>;

/** A string interpolated, and the variables it used that were not set; or why it cannot be. */
export type Interpolated = { value: string; unset: string[] } | { error: string };

const NAME = /^[A-Za-z_][A-Za-z0-9_]*/;

/** Interpolates one string. */
export function interpolateString(s: string, env: ComposeEnv): Interpolated {
  if (!s.includes('$')) return { value: s, unset: [] };
  let out = '';
  const unset: string[] = [];
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c !== '$') {
      out += c;
      continue;
    }
    const next = s[i + 1];
    if (next === '$') {
      out += '$';
      i++;
      continue;
    }
    if (next === '{') {
      const end = closingBrace(s, i + 2);
      if (end < 0) return { error: `unterminated \${ in ${JSON.stringify(s)}` };
      const r = braced(s.slice(i + 2, end), env);
      if ('error' in r) return r;
      out += r.value;
      unset.push(...r.unset);
      i = end;
      continue;
    }
    const name = NAME.exec(s.slice(i + 1))?.[0];
    if (!name) return { error: `invalid interpolation in ${JSON.stringify(s)}: write $$ for a literal $` };
    const value = env[name];
    if (value === undefined) unset.push(name);
    out += value ?? '';
    i += name.length;
  }
  return { value: out, unset };
}

/** The offset of the `}` closing a `${` whose content starts at `from`, or -1. */
function closingBrace(s: string, from: number): number {
  let depth = 1;
  for (let i = from; i < s.length; i++) {
    if (s[i] === '$' && s[i + 1] === '$') i++;
    else if (s[i] === '$' && s[i + 1] === '{') {
      depth++;
      i++;
    } else if (s[i] === '}' && --depth === 0) return i;
  }
  return -1;
}

/** The content of one `${...}`. */
function braced(inner: string, env: ComposeEnv): Interpolated {
  const name = NAME.exec(inner)?.[0];
  if (!name) return { error: `invalid interpolation \${${inner}}: expected a variable name` };
  const rest = inner.slice(name.length);
  const value = env[name];
  if (rest === '') return value === undefined ? { value: '', unset: [name] } : { value, unset: [] };
  const op = /^(:?[-?+])/.exec(rest)?.[1];
  if (!op) return { error: `invalid interpolation \${${inner}}: expected :-, -, :?, ?, :+ or + after ${name}` };
  const word = rest.slice(op.length);
  const missing = op.startsWith(':') ? value === undefined || value === '' : value === undefined;
  const kind = op.slice(-1);
  if (kind === '-') return missing ? interpolateString(word, env) : { value: value as string, unset: [] };
  if (kind === '+') return missing ? { value: '', unset: [] } : interpolateString(word, env);
  if (!missing) return { value: value as string, unset: [] };
  const message = interpolateString(word, env);
  const text = 'error' in message || message.value === '' ? '' : `: ${message.value}`;
  return { error: `required variable ${name} is ${value === undefined ? 'not set' : 'empty'}${text}` };
}

/** A problem of interpolating the string at `path` of the document. */
export interface InterpolationProblem {
  path: PathSegment[];
  severity: 'error' | 'warning';
  message: string;
}

/** Interpolates every string value of `value` (a copy; mapping keys stay as written). */
export function interpolateTree(value: unknown, env: ComposeEnv): { value: unknown; problems: InterpolationProblem[] } {
  const problems: InterpolationProblem[] = [];
  const walk = (v: unknown, path: PathSegment[]): unknown => {
    if (typeof v === 'string') {
      const r = interpolateString(v, env);
      if ('error' in r) {
        problems.push({ path, severity: 'error', message: r.error });
        return v;
      }
      for (const name of new Set(r.unset)) problems.push({ path, severity: 'warning', message: `variable ${name} is not set: it is an empty string (as compose does)` });
      return r.value;
    }
    if (Array.isArray(v)) return v.map((item, i) => walk(item, [...path, i]));
    if (v !== null && typeof v === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, item] of Object.entries(v)) out[k] = walk(item, [...path, k]);
      return out;
    }
    return v;
  };
  return { value: walk(value, []), problems };
}
