import { configDefaults, defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['operator/**/*.spec.ts', 'test/**/*.test.ts'],
    // Copied sample applications (test/fixtures/compose/awesome) carry their own test files; they are data here.
    exclude: [...configDefaults.exclude, 'test/fixtures/**'],
    globalSetup: ['test/global-setup.ts'],
    reporters: ['default', './test/summary-reporter.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Integration files share one Docker engine; each uses its own berth instance name, so files may run in parallel.
    fileParallelism: true,
    maxWorkers: 2,
  },
});
