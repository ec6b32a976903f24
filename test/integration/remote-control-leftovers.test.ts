import { execFile } from 'node:child_process';
import { hostname } from 'node:os';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisMailbox } from '../../src/broker/redis/pidbox.js';
import { buildBrokerConfig } from '../../src/config/config.js';
import { RemoteControl } from '../../src/remote/client.js';
import { flushDb, REDIS_DB, redisUrl } from '../helpers/brokers.js';
import { sendWorkload, startWorker, type Worker } from '../helpers/celery.js';
import { CLI, ROOT, startExporter, type Exporter } from '../helpers/exporter.js';
import { uid } from '../helpers/ids.js';
import { parseMetrics, sum, value, waitFor } from '../helpers/metrics.js';
import { thousandCalls } from '../helpers/thousand-calls.js';

const run = promisify(execFile);
const id = uid();
const DB = REDIS_DB.remoteControlLeftovers;
const url = redisUrl(DB);

async function keys(): Promise<string[]> {
  const r = new Redis(url);
  try {
    const out: string[] = [];
    let cursor = '0';
    do {
      const [next, batch] = await r.scan(cursor, 'COUNT', 1000);
      out.push(...batch);
      cursor = next;
    } while (cursor !== '0');
    // kombu's restore mutex comes and goes with the workers' own timers.
    return out.filter((k) => k !== 'unacked_mutex').sort();
  } finally {
    r.disconnect();
  }
}

describe('1,000 consecutive remote-control calls leave nothing behind in Redis', () => {
  const W1 = `lo1-${id}@${hostname()}`;
  const W2 = `lo2-${id}@${hostname()}`;
  let workers: Worker[] = [];

  beforeAll(async () => {
    await flushDb(DB);
    workers = await Promise.all([
      startWorker({ brokerUrl: url, queues: [`lo-a-${id}`], name: W1, pool: 'solo' }),
      startWorker({ brokerUrl: url, queues: [`lo-b-${id}`], name: W2, pool: 'threads', concurrency: 4 }),
    ]);
  });

  afterAll(async () => {
    await Promise.all(workers.map((w) => w.stop()));
  });

  it('answered, unanswered and aborted calls all remove their binding and reply lists', async () => {
    const before = await keys();
    expect(before).toContain('_kombu.binding.celery.pidbox');
    const rc = new RemoteControl(new RedisMailbox(buildBrokerConfig({ 'broker-url': url })));
    // Unanswered calls end by their reply window; aborted ones while blocked in BRPOP.
    const tally = await thousandCalls(rc, async (method) => {
      const r = await rc.call(method, { timeoutMs: 1000 });
      expect(r.replies.map((x) => x.hostname).sort()).toEqual([W1, W2].sort());
      expect(r.invalid).toBe(0);
    });
    expect(tally).toEqual({ answered: 980, unanswered: 10, aborted: 10 });
    // Checked with the connections still open, then again after closing.
    expect(await keys()).toEqual(before);
    await rc.close();
    expect(await keys()).toEqual(before);
  });

  it('the inspect subcommand leaves nothing behind either', async () => {
    const before = await keys();
    for (let i = 0; i < 10; i++) {
      const { stdout } = await run(process.execPath, [CLI, 'inspect', 'ping', '--json', '--broker-url', url], { cwd: ROOT });
      expect(Object.keys(JSON.parse(stdout) as object).sort()).toEqual([W1, W2].sort());
    }
    expect(await keys()).toEqual(before);
  });
});

describe('with kombu’s global_keyprefix', () => {
  const W4 = `pfx-${id}@${hostname()}`;
  const PREFIX = `pfx${id}:`;
  let worker: Worker | undefined;

  beforeAll(async () => {
    await flushDb(DB);
    worker = await startWorker({ brokerUrl: url, queues: [`pfx-${id}`], name: W4, pool: 'solo', transportOptions: { global_keyprefix: PREFIX } });
  });

  afterAll(async () => {
    await worker?.stop();
  });

  it('prefixes the binding, channel and reply keys, and still leaves nothing behind', async () => {
    const before = await keys();
    // The worker's own mailbox binding is under the prefix.
    expect(before).toContain(`${PREFIX}_kombu.binding.celery.pidbox`);
    const args = ['inspect', 'ping', '--json', '--broker-url', url, '--broker-transport-option', `global_keyprefix=${PREFIX}`];
    const { stdout } = await run(process.execPath, [CLI, ...args], { cwd: ROOT });
    expect(JSON.parse(stdout)).toEqual({ [W4]: { ok: 'pong' } });
    // Without the prefix the worker never sees the request.
    const plain = await run(process.execPath, [CLI, 'inspect', 'ping', '--broker-url', url, '-t', '0.3'], { cwd: ROOT }).then(
      () => 0,
      (e: { code: number }) => e.code,
    );
    expect(plain).toBe(69);
    expect(await keys()).toEqual(before);
  });
});

describe('the enable_events broadcast', () => {
  const W3 = `quiet-${id}@${hostname()}`;
  const QE = `quiet-${id}`;
  let worker: Worker | undefined;
  let quiet: Exporter | undefined;
  let loud: Exporter | undefined;

  beforeAll(async () => {
    await flushDb(DB);
    worker = await startWorker({ brokerUrl: url, queues: [QE], name: W3, events: false });
  });

  afterAll(async () => {
    await quiet?.stop();
    await loud?.stop();
    await worker?.stop();
  });

  it('makes a worker started without -E send task events', async () => {
    const scrape = async (e: Exporter) => parseMetrics(await e.metrics());
    // Control: with the broadcast off, the worker processes tasks and sends no task events.
    quiet = await startExporter(['--broker-url', url, '--no-enable-events', '--no-inspect-metrics']);
    await waitFor(() => fetch(`${quiet!.url}/readyz`).then((r) => r.status), (s) => s === 200, { what: 'readyz' });
    await sendWorkload(url, ['add', QE, '3']);
    let s = await waitFor(
      () => scrape(quiet!),
      (x) => sum(x, 'celery_worker_tasks_processed', { hostname: W3 }) === 3,
      { timeoutMs: 30_000, what: 'the heartbeat to show 3 processed tasks' },
    );
    expect(sum(s, 'celery_task_received_total', { hostname: W3 })).toBe(0);
    expect(sum(s, 'celery_task_succeeded_total', { hostname: W3 })).toBe(0);

    loud = await startExporter(['--broker-url', url, '--no-inspect-metrics']);
    await waitFor(
      () => scrape(loud!),
      (x) => value(x, 'celery_exporter_enable_events_broadcasts_total') >= 1,
      { timeoutMs: 30_000, what: 'the first broadcast' },
    );
    await loud.waitForOutput(new RegExp(`"hostname":"${W3.replace(/[.]/g, '\\.')}"[^\\n]*enable_events switched them on`), 10_000);
    expect(loud.output().match(/broadcasting enable_events/g)).toHaveLength(1);

    await sendWorkload(url, ['add', QE, '3']);
    for (const e of [loud, quiet]) {
      s = await waitFor(
        () => scrape(e),
        (x) => sum(x, 'celery_task_succeeded_total', { hostname: W3, name: 'tests.add' }) === 3,
        { timeoutMs: 30_000, what: 'task-succeeded events from the worker' },
      );
      // (By name, not queue: which queue a task-received gets depends on the event stream's
      // reordering, which is not what this test is about.)
      expect(sum(s, 'celery_task_received_total', { hostname: W3, name: 'tests.add' })).toBe(3);
    }
  });
});
