import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // One PostgreSQL server for the run (embedded unless TEST_DATABASE_URL is set); each file creates
    // its own database on it. Child-process tests start the real service, some with their own server.
    globalSetup: ['test/support/global-setup.ts'],
    setupFiles: ['test/support/node-warnings.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // expect.poll waits for something the service does in the background; on a loaded CI machine that
    // can take seconds, and vitest's default of 1 s made such waits fail while the service was right.
    expect: { poll: { timeout: 20_000 } },
    pool: 'forks',
    // Most of a test file's time is spent waiting (on child processes, the fakes' latency, timers), so
    // twice as many files as cores keeps the cores busy; vitest's default is one fewer than the cores.
    maxWorkers: Math.min(8, 2 * availableParallelism()),
    // Test files share a worker's module cache: every file builds its own app, database and fakes, so
    // nothing depends on fresh module state, and re-importing the app's graph for every file was the
    // suite's largest CPU cost.
    isolate: false,
    reporters: ['default'],
  },
});
