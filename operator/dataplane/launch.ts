/**
 * Starting the proxy process detached from the operator: its own session (so a signal to the operator's process
 * group, a terminal closing or the operator dying does not reach it), output appended to
 * `<state-dir>/proxy-<instance>.log`, and unref'd so the operator can exit while it runs on.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { BUNDLED, CLI, ROOT } from '../root.ts';

/**
 * The node arguments that run the CLI: none for the bundle (dist/cli.js is JavaScript); from source, the loader this process was started with when it has tsx (`tsx operator/cli.ts`
 * puts it in execArgv), else `--import tsx` (a test runner or a plain `node` with another loader). Inspector flags are
 * dropped: the child would fight over the port.
 */
export function nodeArgs(execArgv: readonly string[] = process.execArgv, bundled = BUNDLED): string[] {
  const own = execArgv.filter((a) => !a.startsWith('--inspect'));
  if (bundled) return withoutTsx(own);
  return own.some((a) => a.includes('tsx')) ? own : ['--import', 'tsx'];
}

/**
 * The environment of the proxy process: the operator's, without what looks like a credential (GITHUB_TOKEN,
 * BERTH_WEBHOOK_SECRET, ...). The data plane needs none and lives long; nothing secret should sit in its environ.
 */
export function proxyEnv(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(env).filter(([k]) => !/TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|_KEY$/i.test(k)));
}

/** The arguments without tsx's loader (`--import <tsx>`, `--require <tsx>`, `--import=<tsx>`): the bundle needs none. */
function withoutTsx(args: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (['--import', '--require', '--loader', '-r'].includes(a) && args[i + 1]?.includes('tsx')) i++;
    else if (!a.includes('tsx')) out.push(a);
  }
  return out;
}

/** Spawns `berth proxy <args>` detached; resolves with its pid once spawned. */
export function launchProxy(args: readonly string[], logFile: string): Promise<number> {
  fs.mkdirSync(path.dirname(logFile), { recursive: true, mode: 0o700 });
  const out = fs.openSync(logFile, 'a', 0o600);
  try {
    const child = spawn(process.execPath, [...nodeArgs(), CLI, 'proxy', ...args], { cwd: ROOT, detached: true, stdio: ['ignore', out, out], env: proxyEnv() });
    return new Promise((resolve, reject) => {
      child.once('error', reject);
      child.once('spawn', () => {
        child.unref();
        resolve(child.pid!);
      });
    });
  } finally {
    fs.closeSync(out); // the child has its own copy of the descriptor
  }
}
