import { defineConfig } from 'vitest/config';

/**
 * Four tiers (see CONTRIBUTING.md), each runnable alone with `npm run test:<tier>`:
 * - unit: in-process, parallel; needs nothing but Node.
 * - integration: real Redis (the suite's own redis-server unless REDIS_URL), RabbitMQ vhosts of
 *   its own, real Celery workers; one file at a time.
 * - bundle: what ships beside the code (Grafana dashboards, Prometheus rules, Kubernetes
 *   manifests, Dockerfile, compose file), checked with promtool and schemas.
 * - e2e: the whole chain from outside: the golden /metrics file and the real-Prometheus proof.
 * The broker tiers share one machine's brokers and start real workers, so their files run one at a
 * time with generous timeouts.
 */
const serial = { testTimeout: 120_000, hookTimeout: 60_000, fileParallelism: false } as const;

export default defineConfig({
  test: {
    projects: [
      {
        extends: true,
        test: { name: 'unit', include: ['test/unit/**/*.test.ts'], testTimeout: 20_000, globalSetup: ['test/setup/unit.ts'] },
      },
      {
        extends: true,
        test: { name: 'integration', include: ['test/integration/**/*.test.ts'], globalSetup: ['test/setup/global.ts'], ...serial, sequence: { groupOrder: 1 } },
      },
      {
        extends: true,
        test: { name: 'bundle', include: ['test/bundle/**/*.test.ts'], globalSetup: ['test/setup/global.ts'], ...serial, sequence: { groupOrder: 2 } },
      },
      {
        extends: true,
        test: { name: 'e2e', include: ['test/e2e/**/*.test.ts'], globalSetup: ['test/setup/global.ts'], ...serial, sequence: { groupOrder: 3 } },
      },
    ],
  },
});
