/**
 * The files of a proxy process in the state dir: the control key (created once, mode 0600, by whichever side comes
 * first), the pid file and the persisted configuration, all written atomically (temp file + rename) so a crash never
 * leaves half a file for the next start to read.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';

/** Writes `data` to `file` through a temp file and a rename, mode 0600. */
export async function writeAtomic(file: string, data: string): Promise<void> {
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    await fs.writeFile(tmp, data, { mode: 0o600 });
    await fs.rename(tmp, file);
  } catch (err) {
    await fs.rm(tmp, { force: true });
    throw err;
  }
}

/**
 * The key of `file`, created when absent. The socket's mode keeps other users out only when the state dir is private;
 * the key is what a request must prove, so a shared state dir still needs the key file's owner.
 */
export async function ensureKey(file: string): Promise<string> {
  await fs.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  const existing = await readKey(file);
  if (existing) return existing;
  const key = randomBytes(32).toString('hex');
  try {
    await fs.writeFile(file, key + '\n', { mode: 0o600, flag: 'wx' });
    return key;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    const other = await readKey(file); // the other side created it between our read and our write
    if (!other) throw err;
    return other;
  }
}

async function readKey(file: string): Promise<string | null> {
  try {
    const key = (await fs.readFile(file, 'utf8')).trim();
    if ((await fs.stat(file)).mode & 0o077) await fs.chmod(file, 0o600); // a key others can read proves nothing
    return key.length >= 32 ? key : null;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/** The pid in a pid file, or null when there is none (or it is not a number). */
export async function readPid(file: string): Promise<number | null> {
  try {
    const n = Number((await fs.readFile(file, 'utf8')).trim());
    return Number.isSafeInteger(n) && n > 0 ? n : null;
  } catch {
    return null;
  }
}

/**
 * True while process `pid` runs (signal 0 checks without sending anything). A zombie (exited, not yet reaped: a
 * detached proxy whose parent died is reaped by init, which a container's init may never do) counts as gone.
 */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    return !/^\d+ \(.*\) Z/s.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return true; // no /proc (not Linux): signal 0 is all there is
  }
}

/**
 * True when `pid` runs `berth proxy` for `instance` (its command line says so). A pid remembered from a process that
 * has exited may belong to anything by now: it is never signalled without this check.
 */
export function isProxyProcess(pid: number, instance: string): boolean {
  let args: string[];
  try {
    args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  } catch {
    return false;
  }
  const i = args.indexOf('--instance');
  return args.includes('proxy') && i >= 0 && args[i + 1] === instance;
}
