import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startExporter, type Exporter } from '../helpers/exporter.js';
import { uid } from '../helpers/ids.js';
import { parseMetrics, value } from '../helpers/metrics.js';
import { createVhost, rabbitmqctl, type TestVhost } from '../helpers/rabbitmq.js';
import { OwnRedis } from '../helpers/redis-server.js';
import { testSecret } from '../helpers/secrets.js';

/**
 * A broker that accepts the connection but refuses what the event stream needs: no event will
 * ever arrive, so /readyz must stay 503, celery_exporter_broker_up 0, and the log must say, in
 * one line, what to fix. Before the fix, redis://…/99 logged "broker ready" and /readyz said 200
 * (the subscriber never selected the database; pub/sub does not need it, Celery's workers do).
 */

interface LogLine {
  level: string;
  msg: string;
}

function logLines(e: Exporter): LogLine[] {
  return e
    .output()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as LogLine);
}

/** Lets the exporter retry a few times, then checks it never claimed to be ready. */
async function expectRefused(args: string[], fix: RegExp): Promise<void> {
  const e = await startExporter(['--queue-poll-interval', '1', ...args]);
  try {
    await e.waitForOutput(/broker not ready/, 15_000);
    // Several reconnect attempts (backoff starts at ~1 s): none may report ready.
    await new Promise((r) => setTimeout(r, 4000));
    const ready = await fetch(`${e.url}/readyz`);
    expect(ready.status).toBe(503);
    expect(value(parseMetrics(await e.metrics()), 'celery_exporter_broker_up')).toBe(0);
    const lines = logLines(e);
    expect(lines.filter((l) => /broker ready/.test(l.msg))).toEqual([]);
    const warnings = lines.filter((l) => l.level === 'warn');
    // One line, and it says what to fix (the pollers and remote control stay quiet meanwhile).
    expect(warnings.map((l) => l.msg), JSON.stringify(warnings)).toHaveLength(1);
    expect(warnings[0]!.msg).toMatch(fix);
  } finally {
    await e.stop();
  }
}

describe('Redis refuses what the event stream needs', () => {
  let redis: OwnRedis;
  beforeAll(async () => {
    redis = await OwnRedis.start();
  });
  afterAll(async () => {
    await redis?.stop();
  });

  it('a database index the server rejects (/99) is not ready, and says to fix the URL', async () => {
    await expectRefused(['--broker-url', redis.url(99)], /Redis refused database 99 .*fix the \/99 at the end of the broker URL/);
  });

  it('a user without the psubscribe command is not ready, and says which grant is missing', async () => {
    const pw = testSecret('acl-nopsub');
    await redis.client().call('ACL', 'SETUSER', 'nopsub', 'on', `>${pw}`, '~*', '&*', '+@all', '-psubscribe');
    await expectRefused(
      ['--broker-url', `redis://nopsub:${pw}@127.0.0.1:${redis.port}/0`],
      /Redis refused PSUBSCRIBE .*ACL SETUSER nopsub \+psubscribe '&\/0\.celeryev\/\*' '&\/0\.celeryev'/,
    );
  });

  it('a user without the event channels (Redis 7 default: resetchannels) is not ready', async () => {
    const pw = testSecret('acl-nochan');
    await redis.client().call('ACL', 'SETUSER', 'nochan', 'on', `>${pw}`, '~*', 'resetchannels', '+@all');
    await expectRefused(['--broker-url', `redis://nochan:${pw}@127.0.0.1:${redis.port}/3`], /Redis refused PSUBSCRIBE .*ACL SETUSER nochan/);
  });
});

describe('RabbitMQ refuses the vhost', () => {
  let vhost: TestVhost;
  const user = `cpe-noperm-${uid()}`;
  beforeAll(async () => {
    vhost = await createVhost('refusals');
  });
  afterAll(async () => {
    await rabbitmqctl(['delete_user', user]).catch(() => undefined);
    await vhost?.remove();
  });

  it('a user with no permissions on the vhost is not ready, and says so', async () => {
    const pw = testSecret('amqp-noperm');
    await rabbitmqctl(['add_user', user, pw]);
    const url = vhost.url.replace(/\/\/[^@]*@/, `//${user}:${pw}@`);
    await expectRefused(['--broker-url', url], /RabbitMQ refused vhost .*no permissions on it/);
  });
});
