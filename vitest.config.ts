import { defineConfig } from 'vitest/config';

// Unit tests run in parallel; integration tests share one Redis/RabbitMQ and start real Celery
// workers, so they run one file at a time with generous timeouts.
export default defineConfig({
  test: {
    globalSetup: ['test/setup/global.ts'],
    projects: [
      {
        extends: true,
        test: { name: 'unit', include: ['test/unit/**/*.test.ts'], testTimeout: 20_000 },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          testTimeout: 120_000,
          hookTimeout: 60_000,
          fileParallelism: false,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
