/**
 * Global setup of the podman project (vitest.config.ts): starts (or leases) Podman's service through
 * scripts/podman.sh and loads the test image into it from the main Docker engine, as a user moving an image between
 * engines would (`docker save | podman load`). Teardown releases the lease: the service stops only when a test run
 * started it and no other run holds it.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import Dockerode from 'dockerode';
import { PODMAN_SOCKET, TEST_IMAGE } from './helpers/docker.ts';
import { loadImage } from './helpers/engines.ts';

const PODMAN_SH = fileURLToPath(new URL('../scripts/podman.sh', import.meta.url));
const run = promisify(execFile);

async function service(command: 'start' | 'stop'): Promise<void> {
  try {
    await run('bash', [PODMAN_SH, command, '--lease', String(process.pid)], { timeout: 60_000 });
  } catch (err) {
    const stderr = String((err as { stderr?: string }).stderr ?? '').trim();
    throw new Error(`bash scripts/podman.sh ${command} failed (the Podman engine of the podman test project): ${stderr || (err as Error).message}`);
  }
}

export default async function setup(): Promise<() => Promise<void>> {
  await service('start');
  try {
    await loadImage(new Dockerode({ socketPath: PODMAN_SOCKET }), TEST_IMAGE);
  } catch (err) {
    await service('stop');
    throw err;
  }
  return () => service('stop');
}
