/**
 * Where a replica's secret files go (pure): one bind per distinct target directory (a directory below another one's is
 * covered by it), from `/dev/shm/berth/<instance>/<container>/<n>` on the node, and each item's file path in the
 * container. The values come from a SecretResolver at apply time; this module only places them.
 */
import { posix } from 'node:path';
import { BerthError } from '../model/errors.ts';
import type { DesiredSecretMount, DesiredService } from '../model/state.ts';
import type { ContainerFile, SecretDelivery } from '../runtime/runtime.ts';
import { SECRETS_HOST_ROOT } from '../runtime/docker-secrets.ts';

/** Decrypts the items of a Secret of the desired state (operator/apply/secret-resolver.ts). */
export interface SecretResolver {
  /** The items (key -> plaintext) of Secret `namespace/name` whose file has `contentHash`; rejects with BerthError E_SECRET naming the file and the reason, never a value. */
  resolve(namespace: string, name: string, contentHash: string): Promise<ReadonlyMap<string, Buffer>>;
}

/** The directory of a replica's secret files on its node (tmpfs). */
export function replicaSecretDir(instance: string, containerName: string): string {
  return `${SECRETS_HOST_ROOT}/${instance}/${containerName}`;
}

/** The directories files of `mounts` go to, in the container: a mount's target without key, its parent with one. */
export function bindTargets(mounts: readonly DesiredSecretMount[]): string[] {
  const dirs = [...new Set(mounts.map((m) => (m.key !== undefined ? posix.dirname(m.target) : m.target)))].sort((a, b) => a.length - b.length || (a < b ? -1 : 1));
  const kept: string[] = [];
  for (const d of dirs) if (!kept.some((k) => d === k || d.startsWith(`${k}/`) || k === '/')) kept.push(d);
  return kept.sort();
}

/** Whether an item name can be a file name (no '/', not '.' or '..', no NUL). */
export function usableItemName(key: string): boolean {
  return key !== '' && key !== '.' && key !== '..' && !key.includes('/') && !key.includes('\0');
}

/** The delivery of `svc`'s replica `containerName`: binds, and every file with its resolved value. */
export async function secretDelivery(instance: string, containerName: string, svc: DesiredService, resolver: SecretResolver | undefined): Promise<SecretDelivery | undefined> {
  const all = svc.secrets ?? [];
  if (!all.length) return undefined;
  if (!resolver) throw new BerthError('E_SECRET', `service ${svc.key} uses Secrets, but this berth has no secret resolver`, { terminal: true });
  const env = await secretEnv(svc, all.filter((m) => m.env !== undefined), resolver);
  const mounts = all.filter((m) => m.env === undefined);
  const base = replicaSecretDir(instance, containerName);
  const binds = bindTargets(mounts).map((target, i) => ({ source: `${base}/${i}`, target }));
  const files: ContainerFile[] = [];
  for (const m of mounts) {
    const items = await resolver.resolve(svc.namespace, m.secret, m.contentHash);
    const own = { mode: Number.parseInt(m.mode, 8) & 0o7777, uid: m.uid ?? 0, gid: m.gid ?? 0 };
    if (m.key !== undefined) {
      const value = items.get(m.key);
      if (value === undefined) throw new BerthError('E_SECRET', `Secret ${svc.namespace}/${m.secret} (${m.file}) has no item "${m.key}" (items: ${[...items.keys()].join(', ') || 'none'})`, { terminal: true });
      files.push({ path: m.target, content: value, ...own });
      continue;
    }
    for (const [key, value] of items) {
      if (!usableItemName(key)) throw new BerthError('E_SECRET', `Secret ${svc.namespace}/${m.secret} (${m.file}): item "${key}" cannot be a file name; name it with spec.secrets[].key and a target`, { terminal: true });
      files.push({ path: `${m.target}/${key}`, content: value, ...own });
    }
  }
  return { binds, files, ...(env ? { env } : {}) };
}

/** spec.secrets entries with env: each the Secret's one item (or `key`), as text without NUL (an environment string cannot hold one) and without its trailing newline. */
async function secretEnv(svc: DesiredService, refs: readonly DesiredSecretMount[], resolver: SecretResolver): Promise<Record<string, string> | undefined> {
  if (!refs.length) return undefined;
  const env: Record<string, string> = {};
  for (const m of refs) {
    const items = await resolver.resolve(svc.namespace, m.secret, m.contentHash);
    const what = `Secret ${svc.namespace}/${m.secret} (${m.file})`;
    if (m.key === undefined && items.size !== 1) {
      throw new BerthError('E_SECRET', `${what} has ${items.size} items (${[...items.keys()].join(', ') || 'none'}): name the one for ${m.env} with spec.secrets[].key`, { terminal: true });
    }
    const value = m.key === undefined ? [...items.values()][0] : items.get(m.key);
    if (value === undefined) throw new BerthError('E_SECRET', `${what} has no item "${m.key}" (items: ${[...items.keys()].join(', ') || 'none'})`, { terminal: true });
    if (value.includes(0)) throw new BerthError('E_SECRET', `${what}: the item for ${m.env} holds a NUL byte, which an environment variable cannot; deliver it as a file`, { terminal: true });
    // One trailing newline (an `echo secret | age` file has one) is dropped, as `$(cat file)` would: a variable is a value, not a file.
    env[m.env as string] = value.toString('utf8').replace(/\r?\n$/, '');
  }
  return env;
}
