/**
 * The proxy processes a test run made berth start. They are detached by design (the data plane outlives the
 * operator), so a test worker that dies or times out before its afterAll would leave them running: every operator a
 * test starts is recorded in a file of this run (BERTH_TEST_PROXIES, set by the global setup), and the global
 * teardown ends the proxy process of each, by the pid of its pid file, after checking that pid runs `berth proxy`
 * on that state dir. Other runs on the machine have their own file and are never touched.
 */
import { appendFileSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const ENV = 'BERTH_TEST_PROXIES';

/** Names this run's file (global setup). */
export function startProxyRecord(): string {
  const file = path.join(os.tmpdir(), `berth-test-proxies-${process.pid}.txt`);
  process.env[ENV] = file;
  return file;
}

/** Records that an operator of `instance` runs on `stateDir` (its proxy process may outlive the test). */
export function recordProxy(stateDir: string, instance: string): void {
  const file = process.env[ENV];
  if (file) appendFileSync(file, `${stateDir}\t${instance}\n`);
}

/** SIGKILLs the proxy process still running for every recorded operator (global teardown); removes the file. */
export function endRecordedProxies(file: string): number {
  let lines: string[];
  try {
    lines = readFileSync(file, 'utf8').split('\n').filter(Boolean);
  } catch {
    return 0;
  }
  let ended = 0;
  for (const line of new Set(lines)) {
    const [dir, instance] = line.split('\t') as [string, string];
    const pid = Number(read(path.join(dir, `proxy-${instance}.pid`)).trim());
    if (!Number.isSafeInteger(pid) || pid <= 0) continue;
    const cmdline = read(`/proc/${pid}/cmdline`).split('\0');
    if (!cmdline.includes('proxy') || !cmdline.includes(dir)) continue; // the pid is someone else's by now
    try {
      process.kill(pid, 'SIGKILL');
      ended++;
    } catch {
      // gone meanwhile
    }
  }
  rmSync(file, { force: true });
  return ended;
}

function read(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}
