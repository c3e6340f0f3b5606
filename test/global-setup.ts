/**
 * Runs once before the suite: checks the Docker engine answers and that the local test image exists, building it if
 * needed; meanwhile starts the two extra engines of test/helpers/engines.ts (scripts/engines.sh) unless they run.
 * Teardown stops them only if a test run started them and no other run still uses them (a lease per run, by pid).
 */
import { execFile } from 'node:child_process';
import { access, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { createDockerRuntime } from '../operator/runtime/docker.ts';
import { testDocker, TEST_IMAGE } from './helpers/docker.ts';
import { endRecordedProxies, startProxyRecord } from './helpers/proxy-processes.ts';

const BUSYBOX = '/bin/busybox';
const ENGINES_SH = fileURLToPath(new URL('../scripts/engines.sh', import.meta.url));
const run = promisify(execFile);

/** vitest global setup: fails the run with a clear message when an engine or the test image is not usable. */
export default async function setup(): Promise<() => Promise<void>> {
  const [main, extra] = await Promise.allSettled([prepareMainEngine(), engines('start')]);
  const failure = [main, extra].find((r) => r.status === 'rejected');
  if (failure) {
    if (extra.status === 'fulfilled') await engines('stop');
    throw failure.reason;
  }
  const proxies = startProxyRecord();
  return async () => {
    endRecordedProxies(proxies); // the proxy processes of operators whose test did not stop them (worker died, timeout)
    await engines('stop');
  };
}

/**
 * Starts (or leases) / releases the extra engines: the lease is this process's pid, so `stop` ends them only when a
 * test run started them and no live run holds a lease any more.
 */
async function engines(command: 'start' | 'stop'): Promise<void> {
  try {
    await run('bash', [ENGINES_SH, command, '--lease', String(process.pid)], { timeout: 60_000 });
  } catch (err) {
    const stderr = String((err as { stderr?: string }).stderr ?? '').trim();
    throw new Error(`bash scripts/engines.sh ${command} failed (berth-e1 and berth-e2, the extra test engines): ${stderr || (err as Error).message}`);
  }
}

/** The main engine answers and holds TEST_IMAGE. */
async function prepareMainEngine(): Promise<void> {
  const docker = testDocker();
  const runtime = createDockerRuntime(docker);
  try {
    await runtime.ping();
  } catch (err) {
    throw new Error(`berth tests need a Docker engine on /var/run/docker.sock (run: bash scripts/provision.sh): ${(err as Error).message}`);
  }
  const present = await docker.getImage(TEST_IMAGE).inspect().then(() => true, () => false);
  if (present) return;
  await buildTestImage(runtime);
}

/** Builds TEST_IMAGE exactly as scripts/provision.sh does: busybox-static in a scratch image. */
async function buildTestImage(runtime: ReturnType<typeof createDockerRuntime>): Promise<void> {
  try {
    await access(BUSYBOX);
  } catch {
    throw new Error(`${TEST_IMAGE} is missing and ${BUSYBOX} is not there to build it: apt-get install busybox-static (or run bash scripts/provision.sh)`);
  }
  const dockerfile = 'FROM scratch\nCOPY busybox /bin/busybox\nRUN ["/bin/busybox","--install","-s","/bin"]\nCMD ["sh"]\n';
  const files = [
    { path: 'Dockerfile', mode: 0o100644, content: Buffer.from(dockerfile) },
    { path: 'busybox', mode: 0o100755, content: await readFile(BUSYBOX) },
  ];
  try {
    await runtime.buildImage(TEST_IMAGE, files, 'Dockerfile', {});
  } catch (err) {
    throw new Error(`could not build ${TEST_IMAGE} from ${BUSYBOX}: ${(err as Error).message}`);
  }
}
