/** Script probes: a repository file materialised once per content hash and run by the operator (no shell). */
import { spawn } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { chmod, mkdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { CheckResult, ProbeTarget } from './probes.ts';

/** Bytes of a script's output kept for the message. */
const OUTPUT_LIMIT = 4096;
/** Attempts of a spawn that failed with ETXTBSY (a file just written may still be open for writing in a forked child). */
const SPAWN_ATTEMPTS = 3;

type ScriptSpec = { file: string; args: string[] };

/**
 * Reads the script through `target.readFile`, writes it to `scriptDir/<sha256>.script` (mode 0755) unless present,
 * and runs it with `args` in the environment of `scriptEnv` (never the operator's own: it holds tokens and secrets).
 * Exit 0 passes. On timeout the script's whole process group is killed.
 */
export async function scriptCheck(spec: ScriptSpec, target: ProbeTarget, scriptDir: string, timeoutMs: number): Promise<CheckResult> {
  let content: Buffer;
  try {
    content = await target.readFile(spec.file);
  } catch (err) {
    return { ok: false, message: `script ${spec.file}: ${errorMessage(err)}` };
  }
  let path: string;
  try {
    path = await materialiseScript(content, scriptDir);
  } catch (err) {
    return { ok: false, message: `script ${spec.file}: cannot write it to ${scriptDir}: ${errorMessage(err)}` };
  }
  const env = scriptEnv(target);
  for (let attempt = 1; ; attempt++) {
    const run = await runScript(path, spec.args, env, scriptDir, timeoutMs);
    if (run.spawnError !== 'ETXTBSY' || attempt >= SPAWN_ATTEMPTS) return run.result;
    await new Promise((resolve) => setTimeout(resolve, 10 * attempt));
  }
}

/** The search path a script runs with: the usual system directories, not the operator's PATH (which may name anything). */
export const SCRIPT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/**
 * The whole environment of a script probe: PATH, a C locale, and where the replica is (BERTH_ADDRESS,
 * BERTH_CONTAINER_ID, BERTH_CONTAINER_NAME). Nothing of the operator's environment is inherited.
 */
export function scriptEnv(target: Pick<ProbeTarget, 'address' | 'containerId' | 'name'>): Record<string, string> {
  return {
    PATH: SCRIPT_PATH,
    LANG: 'C',
    BERTH_ADDRESS: target.address ?? '',
    BERTH_CONTAINER_ID: target.containerId,
    BERTH_CONTAINER_NAME: target.name,
  };
}

/** Writes `content` to `dir/<sha256>.script` (0755) unless it is there; atomic (temp file + rename). Returns the path. */
export async function materialiseScript(content: Buffer, dir: string): Promise<string> {
  const path = join(dir, `${createHash('sha256').update(content).digest('hex')}.script`);
  const existing = await stat(path).catch(() => undefined);
  if (existing?.isFile()) return path;
  await mkdir(dir, { recursive: true });
  const tmp = `${path}.${randomUUID()}.tmp`;
  try {
    await writeFile(tmp, content, { mode: 0o755 });
    await chmod(tmp, 0o755); // writeFile's mode is subject to the umask
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  return path;
}

interface ScriptRun {
  result: CheckResult;
  /** errno code when the process could not be spawned. */
  spawnError?: string;
}

/** Runs `file` in its own process group; resolves on exit (all output read), or after `timeoutMs` killing the group. */
function runScript(file: string, args: string[], env: NodeJS.ProcessEnv, cwd: string, timeoutMs: number): Promise<ScriptRun> {
  return new Promise((resolve) => {
    const output: Buffer[] = [];
    let kept = 0;
    const keep = (chunk: Buffer): void => {
      if (kept >= OUTPUT_LIMIT) return;
      output.push(chunk.subarray(0, OUTPUT_LIMIT - kept));
      kept += Math.min(chunk.length, OUTPUT_LIMIT - kept);
    };
    let timer: NodeJS.Timeout | undefined;
    let exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
    const child = spawn(file, args, { env, cwd, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    const finish = (run: ScriptRun): void => {
      clearTimeout(timer);
      child.stdout?.destroy();
      child.stderr?.destroy();
      resolve(run);
    };
    timer = setTimeout(() => {
      killGroup(child.pid);
      // Exited but a leftover child still held the output pipes: report the exit, not a timeout.
      finish({ result: exited ? exitResult(exited, output) : { ok: false, message: `timeout after ${timeoutMs} ms` } });
    }, Math.max(1, timeoutMs));
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    child.once('error', (err: NodeJS.ErrnoException) => finish({ result: { ok: false, message: errorMessage(err) }, ...(err.code ? { spawnError: err.code } : {}) }));
    child.once('exit', (code, signal) => { exited = { code, signal }; });
    child.once('close', (code, signal) => finish({ result: exitResult({ code, signal }, output) }));
  });
}

/** SIGKILLs the process group led by `pid` (the script and anything it started); gone already is fine. */
function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // ESRCH: the group is gone.
  }
}

function exitResult(exit: { code: number | null; signal: NodeJS.Signals | null }, output: Buffer[]): CheckResult {
  if (exit.code === null) return { ok: false, message: `killed by ${exit.signal ?? 'a signal'}` };
  return { ok: exit.code === 0, message: exitMessage(exit.code, Buffer.concat(output).toString('utf8')) };
}

/** 'exit 0', 'exit 3', or 'exit 3: <first non-empty line of output>' for a failure. */
export function exitMessage(code: number, output: string): string {
  const line = output.split('\n').map((l) => l.trim()).find((l) => l !== '');
  return code === 0 || !line ? `exit ${code}` : `exit ${code}: ${line.slice(0, 200)}`;
}

function errorMessage(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return text.split('\n')[0] ?? text;
}
