import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Socket } from 'node:net';
import type { TestProject } from 'vitest/node';
import { OwnRedis } from '../helpers/redis-server.js';
import { findLeakedSecrets } from '../helpers/secrets.js';
import { buildSources } from './build.js';
import { missingPrerequisites, prerequisitesMessage, tiersOfThisRun } from './prerequisites.js';

declare module 'vitest' {
  export interface ProvidedContext {
    redisUrl: string;
    amqpUrl: string | null;
    /** True when the tests may change the RabbitMQ node itself (restart it, use vhost "/"). */
    amqpOwned: boolean;
  }
}

/**
 * Global setup of the integration, bundle and e2e tiers (each runs it once for itself).
 *
 * Safe by default: the tests write only to brokers they started or were pointed at.
 * - Redis: REDIS_URL when set; otherwise a redis-server of the suite's own on a free port
 *   (temporary directory, no persistence), stopped in teardown, so the per-file FLUSHDBs
 *   (test/helpers/brokers.ts) only ever hit that server.
 * - RabbitMQ: AMQP_URL when set (the node is then the tests' to use as a whole: vhost "/" and the
 *   restart test); otherwise the node on 127.0.0.1:5672, where every test file works in a vhost
 *   of its own and deletes it; otherwise a container when a Docker engine exists.
 */
const stops: Array<() => Promise<unknown>> = [];

let logDir: string | undefined;

export async function setup(project: TestProject): Promise<void> {
  const tiers = tiersOfThisRun();
  const missing = missingPrerequisites(tiers);
  const needsAmqp = tiers.includes('integration') || tiers.includes('e2e');
  const amqp = needsAmqp ? await findAmqp() : null;
  if (missing.length > 0 || (amqp === null && needsAmqp)) {
    const lines = missing.length > 0 ? [prerequisitesMessage(tiers, missing)] : [];
    if (amqp === null && needsAmqp) {
      lines.push('no RabbitMQ: set AMQP_URL, or start rabbitmq-server on 127.0.0.1:5672 (sudo apt-get install -y rabbitmq-server; rabbitmq-plugins enable rabbitmq_management)');
    }
    throw new Error(lines.join('\n'));
  }
  buildSources();
  logDir = mkdtempSync(join(tmpdir(), 'cpe-test-logs-'));
  process.env['CPE_TEST_LOG_DIR'] = logDir;
  project.provide('redisUrl', await findRedis());
  project.provide('amqpUrl', amqp?.url ?? null);
  project.provide('amqpOwned', amqp?.owned ?? false);
}

export async function teardown(): Promise<void> {
  for (const stop of stops.splice(0).reverse()) await stop().catch(() => undefined);
  if (logDir === undefined) return;
  const leaks = findLeakedSecrets(logDir);
  if (leaks.length > 0) {
    // vitest reports a teardown error without failing the run: fail it explicitly.
    process.exitCode = 1;
    throw new Error(`a broker password appeared in the output of a process the tests ran:\n${leaks.join('\n')}`);
  }
  rmSync(logDir, { recursive: true, force: true });
}

async function findRedis(): Promise<string> {
  if (process.env['REDIS_URL']) return process.env['REDIS_URL'].replace(/\/\d*$/, '');
  // Its own server: teardown stops it, and the test helpers' process-exit hook kills it should
  // teardown never run.
  const own = await OwnRedis.start();
  stops.push(() => own.stop());
  return own.url().replace(/\/\d*$/, '');
}

async function findAmqp(): Promise<{ url: string; owned: boolean } | null> {
  if (process.env['AMQP_URL']) return { url: process.env['AMQP_URL'].replace(/\/+$/, ''), owned: true };
  if (await answers('127.0.0.1', 5672)) return { url: 'amqp://guest:guest@127.0.0.1:5672', owned: false };
  if (!(await dockerAvailable())) return null;
  const { RabbitMQContainer } = await import('@testcontainers/rabbitmq');
  const c = await new RabbitMQContainer('rabbitmq:3.13-management').start();
  stops.push(() => c.stop());
  return { url: c.getAmqpUrl(), owned: true };
}

function answers(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = new Socket();
    s.setTimeout(1000);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
    s.once('timeout', () => {
      s.destroy();
      resolve(false);
    });
    s.connect(port, host);
  });
}

async function dockerAvailable(): Promise<boolean> {
  try {
    const { getContainerRuntimeClient } = await import('testcontainers');
    await getContainerRuntimeClient();
    return true;
  } catch {
    return false;
  }
}
