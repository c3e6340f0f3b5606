/**
 * Secret files of a replica on a Docker engine: bound from a directory on tmpfs of the node (`/dev/shm/berth/...`,
 * created by the engine at create for `Binds`), written between create and start through the archive API (putArchive
 * into the created container lands in the bind, on the node's tmpfs: it works for remote engines too), and removed with
 * the container on the local engine.
 */
import { rm } from 'node:fs/promises';
import { posix } from 'node:path';
import type Dockerode from 'dockerode';
import { pack } from 'tar-stream';
import { BerthError } from '../model/errors.ts';
import type { ContainerFile, SecretDelivery } from './runtime.ts';
import type { FailFn } from './docker-observe.ts';

/** Where replicas' secret directories live on every node: tmpfs, never on disk. */
export const SECRETS_HOST_ROOT = '/dev/shm/berth';

/** `Binds` entries of a delivery (read-write: the engine writes the files through them). */
export function secretBinds(d: SecretDelivery | undefined): string[] {
  return (d?.binds ?? []).map((b) => `${b.source}:${b.target}:rw`);
}

/** A tar of the files below `dir` (paths relative to it), with their modes and owners, and the directories between. */
export function secretTar(dir: string, files: readonly ContainerFile[]): NodeJS.ReadableStream {
  return filesTar(dir, files, true);
}

/**
 * A tar of `files` below `dir`. With `dirEntries` the directories between are entries (0755, root) of their own;
 * without, they are left to the engine, which makes the missing ones (0755, root) and leaves existing ones as the image
 * has them (an entry for /etc or /tmp would reset its mode, owner and times).
 */
function filesTar(dir: string, files: readonly ContainerFile[], dirEntries: boolean): NodeJS.ReadableStream {
  const tar = pack();
  const dirs = new Set<string>();
  for (const f of files) {
    const rel = posix.relative(dir, f.path);
    if (f.link !== undefined) {
      tar.entry({ name: rel, type: 'symlink', linkname: f.link, mode: 0o777, uid: f.uid, gid: f.gid, mtime: new Date(0) });
      continue;
    }
    const parts = rel.split('/');
    for (let i = 1; dirEntries && i < parts.length; i++) {
      const sub = parts.slice(0, i).join('/');
      if (dirs.has(sub)) continue;
      dirs.add(sub);
      tar.entry({ name: `${sub}/`, type: 'directory', mode: 0o755, uid: 0, gid: 0, mtime: new Date(0) });
    }
    tar.entry({ name: rel, type: 'file', mode: f.mode & 0o7777, uid: f.uid, gid: f.gid, size: f.content.length, mtime: new Date(0) }, f.content);
  }
  tar.finalize();
  return tar as unknown as NodeJS.ReadableStream;
}

/**
 * Writes files into created container `id` before it starts, the one way berth puts files into a replica: the secret
 * files one archive per bind (on the node's tmpfs), the repository files (spec.files) one archive into the container's
 * own filesystem at `/`. Errors name paths, never contents.
 */
export async function writeContainerFiles(docker: Dockerode, fail: FailFn, id: string, d: SecretDelivery | undefined, files: readonly ContainerFile[] = []): Promise<void> {
  if (d?.files.length) await writeSecretFiles(docker, fail, id, d);
  if (!files.length) return;
  try {
    await docker.getContainer(id).putArchive(filesTar('/', files, false), { path: '/' });
  } catch (err) {
    throw fail(err, `write ${files.length} file(s) of the repository into container ${id}`);
  }
}

/** Writes the delivery's files into created container `id`, one archive per bind. Errors name paths, never contents. */
async function writeSecretFiles(docker: Dockerode, fail: FailFn, id: string, d: SecretDelivery): Promise<void> {
  for (const b of d.binds) {
    const files = d.files.filter((f) => f.path.startsWith(`${b.target}/`));
    if (!files.length) continue;
    try {
      await docker.getContainer(id).putArchive(secretTar(b.target, files), { path: b.target });
    } catch (err) {
      throw fail(err, `write secret files into ${b.target} of container ${id}`);
    }
  }
}

/** The replica directories (`/dev/shm/berth/<instance>/<container>`) container `id` binds, read from the engine. */
export async function secretDirsOf(docker: Dockerode, id: string): Promise<string[]> {
  try {
    const info = await docker.getContainer(id).inspect();
    const sources = (info.Mounts ?? []).filter((m) => m.Type === 'bind' && typeof m.Source === 'string' && m.Source.startsWith(`${SECRETS_HOST_ROOT}/`)).map((m) => m.Source);
    return [...new Set(sources.map((s) => posix.dirname(s)))].filter((dir) => dir.split('/').length === 6); // /dev/shm/berth/<instance>/<container>
  } catch {
    return []; // gone already: nothing to find (its directory, if any, stays until the node reboots; tmpfs)
  }
}

/**
 * Removes a replica's secret directories after its container is gone. Only the local engine (a unix socket of this
 * host) shares the operator's filesystem; on a remote node the files stay on its tmpfs until it reboots.
 * TODO: clear them on remote nodes too (putArchive of empty files into a helper container created with the same binds).
 */
export async function removeSecretDirs(endpoint: string, dirs: readonly string[]): Promise<{ removed: string[]; left: string[] }> {
  if (!dirs.length) return { removed: [], left: [] };
  if (!endpoint.startsWith('unix://')) return { removed: [], left: [...dirs] };
  for (const dir of dirs) {
    if (!dir.startsWith(`${SECRETS_HOST_ROOT}/`) || dir.split('/').includes('..')) throw new BerthError('E_INTERNAL', `refusing to remove ${dir}`);
    await rm(dir, { recursive: true, force: true });
  }
  return { removed: [...dirs], left: [] };
}
