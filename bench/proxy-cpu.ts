/**
 * CPU time of a process tree, from /proc (for bench/proxy.ts): a root pid and every process descending from it that
 * is alive when sampled (nginx master + workers, berth's proxy primary + cluster workers). /proc/<pid>/stat's utime
 * and stime cover all threads of a process (libuv's pool and V8's GC threads included). Linux only.
 */
import { execFileSync } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';

/** Clock ticks per second /proc counts in (getconf CLK_TCK; 100 on Linux unless configured otherwise). */
export const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

interface ProcStat {
  pid: number;
  ppid: number;
  /** utime + stime, in clock ticks. */
  ticks: number;
}

async function readAll(): Promise<ProcStat[]> {
  const out: ProcStat[] = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const text = await readFile(`/proc/${name}/stat`, 'utf8').catch(() => ''); // gone meanwhile
    if (!text) continue;
    // The command name (field 2) may hold spaces and parentheses: fields are counted after its last ')'.
    const f = text.slice(text.lastIndexOf(')') + 2).split(' '); // f[0] = state, f[1] = ppid, f[11] = utime, f[12] = stime
    out.push({ pid: Number(name), ppid: Number(f[1]), ticks: Number(f[11]) + Number(f[12]) });
  }
  return out;
}

function descendants(all: ProcStat[], root: number): ProcStat[] {
  const children = new Map<number, ProcStat[]>();
  for (const s of all) children.set(s.ppid, [...(children.get(s.ppid) ?? []), s]);
  const self = all.find((s) => s.pid === root);
  if (!self) return [];
  const tree: ProcStat[] = [];
  const todo = [self];
  while (todo.length) {
    const s = todo.pop()!;
    tree.push(s);
    todo.push(...(children.get(s.pid) ?? []));
  }
  return tree;
}

/** The pids of `root` and its descendants now (empty when `root` is gone). */
export async function treePids(root: number): Promise<number[]> {
  return descendants(await readAll(), root).map((s) => s.pid);
}

/** CPU seconds (user + system) used so far by `root` and its live descendants. */
export async function treeCpuSeconds(root: number): Promise<number> {
  return descendants(await readAll(), root).reduce((n, s) => n + s.ticks, 0) / CLK_TCK;
}
