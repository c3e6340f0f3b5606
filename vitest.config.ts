import { configDefaults, defineConfig } from 'vitest/config';

/**
 * Real-engine files that hold for any engine behind the Docker API: the podman project runs them a second time on
 * Podman (scripts/podman.sh), so a difference between the engines shows up as a failing test.
 */
export const ENGINE_NEUTRAL = [
  'test/runtime-docker.test.ts',
  'test/converge.test.ts',
  'test/drift.test.ts',
  'test/healing.test.ts',
  'test/probes.test.ts',
  'test/network.test.ts',
  'test/gc.test.ts',
  'test/secrets-files.test.ts',
  'test/container-settings.test.ts',
  'test/ports.test.ts',
  'test/pressure.test.ts',
  'test/logs.test.ts',
  'test/jobs.test.ts',
  'test/job-output.test.ts',
  'test/secrets.test.ts',
  'test/secrets-env.test.ts',
  'test/repo-files.test.ts',
  'test/container-name.test.ts',
  'test/limits.test.ts',
  'test/autoscale.test.ts',
  'test/compose.test.ts',
  'test/images.test.ts',
  'test/proxy.test.ts',
];

/** Files about Podman itself (a Podman node beside Docker ones): only in the podman project, whose setup starts it. */
const PODMAN_ONLY = ['test/podman-nodes.test.ts'];

// Copied sample applications (test/fixtures/compose/awesome) carry their own test files; they are data here.
const EXCLUDE = [...configDefaults.exclude, 'test/fixtures/**'];

export default defineConfig({
  test: {
    exclude: EXCLUDE,
    reporters: ['default', './test/summary-reporter.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Integration files share one Docker engine; each uses its own berth instance name, so files may run in parallel.
    fileParallelism: true,
    maxWorkers: 2,
    projects: [
      {
        extends: true,
        test: { name: 'docker', include: ['operator/**/*.spec.ts', 'test/**/*.test.ts'], exclude: [...EXCLUDE, ...PODMAN_ONLY], globalSetup: ['test/global-setup.ts'] },
      },
      {
        extends: true,
        test: {
          name: 'podman',
          include: [...ENGINE_NEUTRAL, ...PODMAN_ONLY],
          globalSetup: ['test/global-setup.ts', 'test/global-setup-podman.ts'],
          // DOCKER_HOST: berth commands the tests run (and the operator's default engine) reach Podman too.
          env: { BERTH_TEST_ENGINE: 'podman', DOCKER_HOST: 'unix:///run/berth-podman/podman.sock' },
        },
      },
    ],
  },
});
