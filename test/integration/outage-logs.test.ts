import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startExporter, type Exporter } from '../helpers/exporter.js';
import { waitFor } from '../helpers/metrics.js';
import { createVhost, type TestVhost } from '../helpers/rabbitmq.js';
import { OwnRedis } from '../helpers/redis-server.js';
import { testSecret } from '../helpers/secrets.js';

/**
 * What a person reads during a broker outage: one warning line when it starts, one line when it
 * ends, the same wording on both brokers, and every line JSON (pino's). Before: four warnings per
 * outage (events, queues, enable_events, inspect), amqplib's raw "Expected ConnectionOpenOk" text,
 * ioredis's plain-text "[WARN] … does not require a password", and a WARN "broker not ready:
 * stopping" on a clean shutdown.
 */
interface Line {
  level: string;
  msg: string;
  [k: string]: unknown;
}

function lines(e: Exporter): { json: Line[]; other: string[] } {
  const all = e.output().split('\n').filter((l) => l.trim() !== '');
  const json: Line[] = [];
  const other: string[] = [];
  for (const l of all) {
    try {
      json.push(JSON.parse(l) as Line);
    } catch {
      other.push(l);
    }
  }
  return { json, other };
}

const FAST = ['--queue-poll-interval', '1', '--inspect-poll-interval', '1', '--enable-events-interval', '1'];
const ready = (e: Exporter) => fetch(`${e.url}/readyz`).then((r) => r.status);

async function checkOutage(e: Exporter, outage: () => Promise<void>): Promise<void> {
  await waitFor(() => ready(e), (s) => s === 200, { what: 'ready' });
  await new Promise((r) => setTimeout(r, 2500));
  const before = lines(e).json.length;
  await outage();
  await waitFor(() => ready(e), (s) => s === 200, { timeoutMs: 30_000, what: 'ready again' });
  // Pollers reconnect on their own schedule: let them all succeed again.
  await new Promise((r) => setTimeout(r, 8000));
  const during = lines(e).json.slice(before);
  const warnings = during.filter((l) => l.level === 'warn' || l.level === 'error');
  expect(warnings.map((l) => l.msg), JSON.stringify(warnings)).toHaveLength(1);
  expect(warnings[0]!.msg).toMatch(/^broker not ready: /);
  expect(during.filter((l) => /^broker ready: .*down \d/.test(l.msg))).toHaveLength(1);
  expect(during.filter((l) => /poll succeeded again/.test(l.msg) && l.level === 'info')).toEqual([]);
  expect(JSON.stringify(during)).not.toMatch(/Expected ConnectionOpenOk|<ConnectionClose/);
}

async function checkShutdown(e: Exporter): Promise<void> {
  await e.stop();
  const { json, other } = lines(e);
  expect(other).toEqual([]);
  const closing = json.filter((l) => /broker/.test(l.msg) && /shutting down|stopping/.test(l.msg));
  expect(closing.map((l) => l.level)).toEqual(['info']);
}

describe('Redis outage', () => {
  let redis: OwnRedis;
  let e: Exporter;
  beforeAll(async () => {
    redis = await OwnRedis.start();
    // A password for a Redis without one: ioredis printed a non-JSON [WARN] line about it.
    e = await startExporter(['--broker-url', redis.url(0, testSecret('outage-redis')), ...FAST]);
  });
  afterAll(async () => {
    await e?.stop();
    await redis?.stop();
  });

  it('logs one warning and one recovery line for a restart of Redis', async () => {
    await checkOutage(e, () => redis.restart(4000));
  });

  it('logs a clean shutdown at info, and nothing but JSON lines', async () => {
    await checkShutdown(e);
  });
});

describe('RabbitMQ outage', () => {
  let vhost: TestVhost;
  let e: Exporter;
  beforeAll(async () => {
    vhost = await createVhost('outage');
    e = await startExporter(['--broker-url', vhost.url, ...FAST]);
  });
  afterAll(async () => {
    await e?.stop();
    await vhost?.remove();
  });

  it('logs one warning and one recovery line when RabbitMQ closes our connections', async () => {
    await checkOutage(e, () => vhost.closeConnections('outage test'));
  });

  it('logs a clean shutdown at info, and nothing but JSON lines', async () => {
    await checkShutdown(e);
  });
});

describe('masking is the same everywhere: user shown, password masked', () => {
  it('in logs, on /, in celery_exporter_build_info and in --print-config, even when the user equals the password', async () => {
    // Nothing listens on port 1: the exporter logs the broker URL in its "not ready" line.
    const url = 'amqp://guest:guest@127.0.0.1:1/masking';
    const want = 'amqp://guest:****@127.0.0.1:1/masking';
    const e = await startExporter(['--broker-url', url, '--no-enable-events', '--no-inspect-metrics']);
    try {
      await e.waitForOutput(/broker not ready/, 20_000);
      const logged = lines(e).json.filter((l) => typeof l['broker'] === 'string').map((l) => l['broker']);
      expect(logged.length).toBeGreaterThan(0);
      expect(new Set(logged)).toEqual(new Set([want]));
      const page = await (await fetch(`${e.url}/`)).text();
      expect(page).toContain(want);
      const metrics = await e.metrics();
      expect(metrics).toMatch(new RegExp(`celery_exporter_build_info\\{[^}]*broker="${want.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}"`));
    } finally {
      await e.stop();
    }
    const { cli } = await import('../helpers/cli.js');
    const printed = JSON.parse((await cli(['--print-config', '--broker-url', url])).stdout) as { 'broker-url': string; effective: { broker: { url: string } } };
    expect([printed['broker-url'], printed.effective.broker.url]).toEqual([want, want]);
  });
});
