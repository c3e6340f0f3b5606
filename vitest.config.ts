import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['operator/**/*.spec.ts', 'test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    reporters: ['default', './test/summary-reporter.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Integration files share one Docker engine; each uses its own berth instance name, so files may run in parallel.
    fileParallelism: true,
    maxWorkers: 2,
  },
});
