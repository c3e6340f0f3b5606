/** Runs once before the suite: checks the Docker engine answers and that the local test image exists, building it if needed. */
import { access, readFile } from 'node:fs/promises';
import { createDockerRuntime } from '../operator/runtime/docker.ts';
import { testDocker, TEST_IMAGE } from './helpers/docker.ts';

const BUSYBOX = '/bin/busybox';

/** vitest global setup: fails the run with a clear message when the engine or the test image is not usable. */
export default async function setup(): Promise<void> {
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
