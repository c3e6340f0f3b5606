/**
 * `--compose-env FILE`: a dotenv file on the operator host whose variables compose files are interpolated with, over
 * the `.env` beside each (as a shell's environment is for docker compose). Read by the caller once per load, never by
 * the pure parser; errors name the file and a line, never a value.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { BerthError } from '../model/errors.ts';
import { parseDotEnv } from './dotenv.ts';

/** The largest --compose-env file read. */
export const COMPOSE_ENV_MAX_BYTES = 1024 ** 2;

/** The variables of the dotenv file `file`; BerthError E_CONFIG (naming the file, without values) when it cannot be used. */
export function readComposeEnv(file: string, maxBytes = COMPOSE_ENV_MAX_BYTES): Record<string, string> {
  const fail = (why: string): never => {
    throw new BerthError('E_CONFIG', `--compose-env ${file}: ${why}`);
  };
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (err) {
    return fail(`cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  let text: string;
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) fail('is not a regular file');
    if (st.size > maxBytes) fail(`is ${st.size} bytes, more than ${maxBytes}`);
    // read at most one byte past the cap: a file that grew after fstat is still refused
    const buf = Buffer.alloc(Math.min(st.size, maxBytes) + 1);
    let n = 0;
    for (let r = 1; r > 0 && n < buf.length; n += r) r = readSync(fd, buf, n, buf.length - n, n);
    if (n > maxBytes) fail(`is more than ${maxBytes} bytes`);
    text = buf.subarray(0, n).toString('utf8');
  } finally {
    closeSync(fd);
  }
  const { vars, problems } = parseDotEnv(text);
  // the parser's messages may quote the line (a value): only the line number and the kind of problem are told
  const first = problems[0];
  if (first) fail(`line ${first.line}: ${/unterminated (single|double) quote/.exec(first.message)?.[0] ?? 'expected KEY=value'}`);
  return vars;
}
