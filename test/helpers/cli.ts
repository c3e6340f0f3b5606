/**
 * Runs the berth CLI as a child process, as a user would (`npm run berth -- ...` and `npx berth` run bin/berth.js):
 * the bundle in dist/ when it is newer than every source (as provisioning leaves it for npm test), else the sources.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';

const ROOT = path.resolve(import.meta.dirname, '../..');
const ARGS = [path.join(ROOT, 'bin/berth.js')];

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
