/** Runs the berth CLI as a child process, as a user would (`npm run berth -- ...` runs the same file through tsx). */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';

const ROOT = path.resolve(import.meta.dirname, '../..');
const ARGS = ['--import', 'tsx', path.join(ROOT, 'operator/cli.ts')];

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `berth <args>` to completion. */
export function berth(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, [...ARGS, ...args], { cwd: ROOT, env: { ...process.env, ...env }, timeout: 120_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** Starts `berth <args>` and returns the child (to kill it mid-flight). */
export function spawnBerth(args: string[]): ChildProcess {
  return spawn(process.execPath, [...ARGS, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
}
