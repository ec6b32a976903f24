import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findLeakedSecrets } from '../helpers/secrets.js';
import { Socket } from 'node:net';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    redisUrl: string;
    amqpUrl: string | null;
  }
}

/**
 * Finds the brokers the tests run against: REDIS_URL / AMQP_URL when set, else the services on
 * localhost (CI here), else containers started with testcontainers when a Docker engine exists.
 * A missing Redis fails the run loudly instead of skipping tests.
 */
const stops: Array<() => Promise<unknown>> = [];

let logDir: string | undefined;

export async function setup(project: TestProject): Promise<void> {
  execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
  logDir = mkdtempSync(join(tmpdir(), 'cpe-test-logs-'));
  process.env['CPE_TEST_LOG_DIR'] = logDir;
  project.provide('redisUrl', await findRedis());
  project.provide('amqpUrl', await findAmqp());
}

export async function teardown(): Promise<void> {
  for (const stop of stops) await stop();
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
  if (await answers('127.0.0.1', 6379)) return 'redis://127.0.0.1:6379';
  const docker = await dockerAvailable();
  if (!docker) throw new Error('no Redis: set REDIS_URL, start redis-server on 127.0.0.1:6379, or provide a Docker engine');
  const { RedisContainer } = await import('@testcontainers/redis');
  const c = await new RedisContainer('redis:7').start();
  stops.push(() => c.stop());
  return c.getConnectionUrl();
}

async function findAmqp(): Promise<string | null> {
  if (process.env['AMQP_URL']) return process.env['AMQP_URL'];
  if (await answers('127.0.0.1', 5672)) return 'amqp://guest:guest@127.0.0.1:5672';
  if (!(await dockerAvailable())) return null;
  const { RabbitMQContainer } = await import('@testcontainers/rabbitmq');
  const c = await new RabbitMQContainer('rabbitmq:3.13-management').start();
  stops.push(() => c.stop());
  return c.getAmqpUrl();
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
