/**
 * The `.env` file beside a compose file, read as compose reads it: `KEY=value` lines, optional `export `, `#`
 * comments (whole lines, or after a space in an unquoted value), single quotes literal, double quotes with \n \t \"
 * \\ escapes; unquoted and double-quoted values may use ${VAR} of the lines above, else of `lookup` (the project's
 * variables, for an `env_file`; the host's, for the `.env`).
 */
import { interpolateString } from './interpolate.ts';

/** One problem of a `.env` file, at its 1-based line. */
export interface DotEnvProblem {
  line: number;
  message: string;
}

export function parseDotEnv(text: string, lookup: Readonly<Record<string, string>> = {}): { vars: Record<string, string>; problems: DotEnvProblem[] } {
  const vars: Record<string, string> = {};
  const problems: DotEnvProblem[] = [];
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  for (let n = 0; n < lines.length; n++) {
    const raw = (lines[n] as string).trim();
    if (raw === '' || raw.startsWith('#')) continue;
    const line = raw.startsWith('export ') ? raw.slice(7).trimStart() : raw;
    const m = /^([A-Za-z_][A-Za-z0-9_.-]*)\s*=\s*(.*)$/s.exec(line);
    if (!m) {
      problems.push({ line: n + 1, message: `expected KEY=value, found ${JSON.stringify(raw.slice(0, 40))}` });
      continue;
    }
    const key = m[1] as string;
    let value = m[2] as string;
    if (value.startsWith("'")) {
      const end = value.indexOf("'", 1);
      if (end < 0) problems.push({ line: n + 1, message: `${key}: unterminated single quote` });
      vars[key] = end < 0 ? value.slice(1) : value.slice(1, end);
      continue;
    }
    if (value.startsWith('"')) {
      let out = '';
      let i = 1;
      for (; i < value.length && value[i] !== '"'; i++) {
        const c = value[i] as string;
        if (c !== '\\' || i + 1 >= value.length) {
          out += c;
          continue;
        }
        const e = value[++i] as string;
        out += e === 'n' ? '\n' : e === 't' ? '\t' : e === 'r' ? '\r' : e === '"' || e === '\\' || e === '$' ? e : `\\${e}`;
      }
      if (i >= value.length) problems.push({ line: n + 1, message: `${key}: unterminated double quote` });
      vars[key] = expand(out, vars, lookup);
      continue;
    }
    const hash = value.search(/\s#/);
    if (hash >= 0) value = value.slice(0, hash);
    vars[key] = expand(value.trim(), vars, lookup);
  }
  return { vars, problems };
}

function expand(value: string, vars: Record<string, string>, lookup: Readonly<Record<string, string>>): string {
  if (!value.includes('$')) return value;
  const r = interpolateString(value, { ...lookup, ...vars });
  return 'error' in r ? value : r.value;
}
