import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { describe, expect, inject, it } from 'vitest';
import { PYTHON } from '../helpers/celery.js';
import { rabbitmqctl } from '../helpers/rabbitmq.js';

const run = promisify(execFile);

/**
 * The Celery and brokers this suite runs against meet the requirements of README's "Supported
 * versions" table; each test prints the version, for the record of what was tested.
 */
describe('the versions the integration tests run against', () => {
  it('Celery 5.x', async () => {
    const { stdout } = await run(PYTHON, ['-c', 'import celery, kombu; print(celery.__version__, kombu.__version__)']);
    const [celery, kombu] = stdout.trim().split(' ');
    console.log(`tested with Celery ${celery}, kombu ${kombu}`);
    expect(celery).toMatch(/^5\./);
  });

  it('Redis 6 or later', async () => {
    const r = new Redis(`${inject('redisUrl')}/0`, { lazyConnect: true, maxRetriesPerRequest: 1 });
    await r.connect();
    const info = await r.info('server');
    r.disconnect();
    const version = /redis_version:(\S+)/.exec(info)![1]!;
    console.log(`tested with Redis ${version}`);
    expect(Number(version.split('.')[0])).toBeGreaterThanOrEqual(6);
  });

  it('RabbitMQ 3.x or 4.x (AMQP 0-9-1)', async () => {
    const version = (await rabbitmqctl(['version'])).trim();
    console.log(`tested with RabbitMQ ${version}`);
    expect(version).toMatch(/^[34]\./);
  });
});
