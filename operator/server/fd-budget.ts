/**
 * The descriptor budget of the listeners, from the process's RLIMIT_NOFILE (what `ulimit -n` shows): the soft limit
 * minus a reserve for the operator's own work (the engines' sockets, git, probes, script files), so that no amount of
 * client connections can make healing fail with EMFILE. A proxied connection holds two descriptors (client and
 * upstream), so the listeners may hold half of what is left.
 */
import fs from 'node:fs';

/** Descriptors never given to listeners: at least this many ... */
export const MIN_RESERVED_DESCRIPTORS = 256;
/** ... or this share of the limit, whichever is larger. */
export const RESERVED_SHARE = 0.25;
/** The automatic connection budget never exceeds this (memory per idle connection adds up too). */
export const MAX_AUTO_CONNECTIONS = 16_384;
/** Assumed when the limit cannot be read (not Linux): a common default soft limit. */
export const FALLBACK_NOFILE = 1024;

/** The soft "Max open files" of a /proc/<pid>/limits text; Infinity for unlimited, undefined when absent. */
export function parseNoFileLimit(limitsText: string): number | undefined {
  const line = limitsText.split('\n').find((l) => l.startsWith('Max open files'));
  const soft = line?.slice('Max open files'.length).trim().split(/\s+/)[0];
  if (soft === undefined) return undefined;
  if (soft === 'unlimited') return Infinity;
  const n = Number(soft);
  return Number.isInteger(n) && n > 0 ? n : undefined;
}

/** This process's soft RLIMIT_NOFILE, read from /proc/self/limits; FALLBACK_NOFILE when it cannot be read. */
export function readNoFileLimit(read: () => string = () => fs.readFileSync('/proc/self/limits', 'utf8')): number {
  try {
    return parseNoFileLimit(read()) ?? FALLBACK_NOFILE;
  } catch {
    return FALLBACK_NOFILE;
  }
}

/** Descriptors kept for the operator's own work under a limit of `noFile`. */
export function reservedDescriptors(noFile: number): number {
  return Math.max(MIN_RESERVED_DESCRIPTORS, Math.ceil(noFile * RESERVED_SHARE));
}

/**
 * Client connections all listeners may hold together under a limit of `noFile`: (limit - reserve) / 2, at least 1,
 * at most MAX_AUTO_CONNECTIONS.
 */
export function connectionBudget(noFile: number): number {
  if (!Number.isFinite(noFile)) return MAX_AUTO_CONNECTIONS;
  return Math.max(1, Math.min(MAX_AUTO_CONNECTIONS, Math.floor((noFile - reservedDescriptors(noFile)) / 2)));
}
