/**
 * driverOpts of the `local` volume driver that dockerd 20.10 refuses: at create (validateOpts: unknown option, type
 * without device and back) or when the first container mounts the volume (mount(2): unknown file system type, a tmpfs
 * option the kernel does not take, type none without a bind). Found by mounting each on the real engine. What only the
 * host decides (a file system type it lacks, the data options of nfs or ext4, quota support for `size`) is left to it.
 */

/** One problem, at driverOpts.<key> (or at driverOpts itself when key is undefined). */
export interface OptionProblem {
  key?: string;
  message: string;
}

/** The options the local driver takes; any other is refused at create ("invalid option"). */
export const LOCAL_OPTIONS = ['type', 'o', 'device', 'size'];

/** File system types Linux mounts (`fuse.<name>` too); a type outside this list is a typo or needs a module berth cannot know of. */
const FS_TYPES = new Set([
  'none', 'tmpfs', 'ramfs', 'ext2', 'ext3', 'ext4', 'xfs', 'btrfs', 'f2fs', 'vfat', 'exfat', 'ntfs', 'ntfs3', 'iso9660', 'udf', 'squashfs',
  'overlay', 'nfs', 'nfs4', 'cifs', 'smb3', 'ceph', 'glusterfs', '9p', 'virtiofs', 'zfs', 'fuse', 'fuseblk',
]);

/** Flags the engine turns into mount(2) flags itself (moby pkg/mount); every other option is file-system data. */
const MOUNT_FLAGS = new Set([
  'defaults', 'ro', 'rw', 'suid', 'nosuid', 'dev', 'nodev', 'exec', 'noexec', 'sync', 'async', 'dirsync', 'remount', 'mand', 'nomand', 'atime',
  'noatime', 'diratime', 'nodiratime', 'bind', 'rbind', 'unbindable', 'runbindable', 'private', 'rprivate', 'shared', 'rshared', 'slave',
  'rslave', 'relatime', 'norelatime', 'strictatime', 'nostrictatime',
]);

const SIZE = /^[0-9]+[kKmMgGtTpPeE]?$/;
/** The data options of tmpfs (mm/shmem.c) and how their values look; anything else fails the mount with EINVAL. */
const TMPFS_OPTIONS: Record<string, RegExp> = {
  size: /^[0-9]+([kKmMgGtTpPeE]|%)?$/, nr_blocks: SIZE, nr_inodes: SIZE, mode: /^0?[0-7]{1,4}$/, uid: /^[0-9]+$/, gid: /^[0-9]+$/,
  huge: /^(never|always|within_size|advise|deny|force)$/, mpol: /^(default|prefer|bind|interleave|local)(=[a-z]+)?(:[0-9,-]+)?$/,
};

/** The problems of the local driver's options `opts` (empty when the engine takes them). */
export function localOptionProblems(opts: Readonly<Record<string, string>>): OptionProblem[] {
  const problems: OptionProblem[] = [];
  for (const key of Object.keys(opts)) {
    if (!LOCAL_OPTIONS.includes(key)) problems.push({ key, message: `unknown option of the local driver (it takes: ${LOCAL_OPTIONS.join(', ')})` });
  }
  const { type, device, o } = opts;
  const set = ['type', 'device', 'o'].filter((k) => opts[k] !== undefined);
  const missing = ['type', 'device'].filter((k) => opts[k] === undefined);
  if (set.length === 0 || set.some((k) => opts[k]?.includes('\0'))) return problems; // a NUL is reported as such
  if (missing.length > 0) {
    problems.push({ message: `the local driver needs both type and device when ${set.join(' and ')} ${set.length === 1 ? 'is' : 'are'} set (missing: ${missing.join(', ')})` });
    return problems;
  }
  if (device === '') problems.push({ key: 'device', message: 'must not be empty (what to mount: tmpfs, a host path with o: bind, host:/export for nfs, ...)' });
  const tokens = (o ?? '').split(',').map((t) => t.trim()).filter((t) => t !== '');
  const bind = tokens.some((t) => t === 'bind' || t === 'rbind');
  if (type !== undefined && type !== '' && !FS_TYPES.has(type) && !/^fuse\.[a-z0-9_-]+$/.test(type)) {
    problems.push({ key: 'type', message: `${JSON.stringify(type.slice(0, 40))} is not a file system type Linux mounts (e.g. tmpfs, nfs, ext4, fuse.<name>; none with o: bind)` });
  }
  if (type === 'none' && !bind) problems.push({ key: 'type', message: 'none mounts nothing without o: bind (or rbind)' });
  if (type === 'tmpfs' && !bind) {
    const bad = tokens.find((t) => !MOUNT_FLAGS.has(t) && !tmpfsOptionOk(t));
    if (bad !== undefined) problems.push({ key: 'o', message: `tmpfs does not take ${JSON.stringify(bad.slice(0, 40))} (it takes size, nr_blocks, nr_inodes, mode, uid, gid, huge, mpol and mount flags such as ro, noexec)` });
  }
  return problems;
}

function tmpfsOptionOk(token: string): boolean {
  const eq = token.indexOf('=');
  if (eq < 0) return false;
  return TMPFS_OPTIONS[token.slice(0, eq)]?.test(token.slice(eq + 1)) ?? false;
}
