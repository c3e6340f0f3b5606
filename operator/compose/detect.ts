/** Which files are compose files, where their `.env` is, and how a compose project name becomes a berth namespace. */
import { posix } from 'node:path';

/** The file names `docker compose` looks for, in its order of preference. */
export const COMPOSE_FILE_NAMES: readonly string[] = ['compose.yaml', 'compose.yml', 'docker-compose.yaml', 'docker-compose.yml'];

/** True when the file's basename is one of COMPOSE_FILE_NAMES (compared as written: compose is case-sensitive). */
export function isComposeFile(path: string): boolean {
  return COMPOSE_FILE_NAMES.includes(posix.basename(path));
}

/** True for a file named `.env`. */
export function isDotEnvFile(path: string): boolean {
  return posix.basename(path) === '.env';
}

/** The `.env` beside a compose file (repository-relative, as the file's own path). */
export function dotEnvPathOf(composePath: string): string {
  const dir = posix.dirname(composePath);
  return dir === '.' ? '.env' : `${dir}/.env`;
}

/**
 * The repository-relative path of an `env_file` entry `ref` of the compose file `composePath` (relative to its
 * directory), or undefined when it is absolute or leaves the repository.
 */
export function envFilePath(composePath: string, ref: string): string | undefined {
  if (ref === '' || posix.isAbsolute(ref)) return undefined;
  const p = posix.normalize(posix.join(posix.dirname(composePath), ref));
  if (p === '..' || p.startsWith('../') || p === '.' || p.startsWith('/')) return undefined;
  return p;
}

/** The directory name of a repository-relative path, or undefined for a file at the root. */
export function directoryName(path: string): string | undefined {
  const dir = posix.dirname(path);
  return dir === '.' || dir === '/' || dir === '' ? undefined : posix.basename(dir);
}

/**
 * A directory name as a berth namespace: lowercase, each run of characters other than a-z, 0-9 and '-' made one '-',
 * no '-' at either end, at most 63 characters (compose itself lowercases and drops such characters; berth names have
 * no '_'). Empty when nothing usable is left.
 */
export function sanitizeNamespace(dir: string): string {
  return dir
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 63)
    .replace(/-+$/g, '');
}
