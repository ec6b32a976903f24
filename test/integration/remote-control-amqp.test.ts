import { execFile } from 'node:child_process';
import { hostname } from 'node:os';
import { promisify } from 'node:util';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AmqpMailbox } from '../../src/broker/amqp/pidbox.js';
import { buildBrokerConfig } from '../../src/config/config.js';
import { buildEventPath } from '../../src/app/event-path.js';
import { RateLimitedLog } from '../../src/log.js';
import { byNode, RemoteControl } from '../../src/remote/client.js';
import { collectorDeps, inspectPollerFor } from '../../src/app/collectors.js';
import { LabelPolicy } from '../../src/state/labels.js';
import { amqpUrl } from '../helpers/brokers.js';
import { celeryCli, sendWorkload, startWorker, type Worker } from '../helpers/celery.js';
import { CLI, ROOT, startExporter } from '../helpers/exporter.js';
import { spawnTracked } from '../helpers/processes.js';
import { uid } from '../helpers/ids.js';
import {
  celeryInspect,
  celeryView,
  expectMetricsMatchCelery,
  expectSameInspectJson,
  expectUtilizationMatchesCelery,
  freshAfter,
} from '../helpers/inspect-compare.js';
import { parseMetrics, select, value, waitFor } from '../helpers/metrics.js';
import { createVhost, deleteVhost, listQueues } from '../helpers/rabbitmqctl.js';
import { testConfig } from '../unit/core.js';
import { thousandCalls } from '../helpers/thousand-calls.js';

const run = promisify(execFile);

/**
 * Remote control over RabbitMQ, in a vhost of its own, against two real Celery workers of
 * different concurrency and queues. The AMQP event transport is another component; the inspect
 * poller is driven here directly, as the daemon's scheduler does.
 */
const id = uid();
const VHOST = `rc-${id}`;
const QA = `rc-a-${id}`;
const QB = `rc-b-${id}`;
const QS = `rc-shared-${id}`;
const W1 = `rc1-${id}@${hostname()}`;
const W2 = `rc2-${id}@${hostname()}`;
let url: string;
let workers: Worker[] = [];

const broker = () => buildBrokerConfig({ 'broker-url': url });

async function cli(args: string[]) {
  try {
    const r = await run(process.execPath, [CLI, ...args, '--broker-url', url], { cwd: ROOT, timeout: 60_000 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('remote control over RabbitMQ with real workers', () => {
  beforeAll(async () => {
    await createVhost(VHOST);
    url = amqpUrl(VHOST);
    workers = await Promise.all([
      startWorker({ brokerUrl: url, queues: [QA, QS], name: W1, concurrency: 2 }),
      startWorker({ brokerUrl: url, queues: [QB, QS], name: W2, concurrency: 3 }),
    ]);
    for (let i = 0; i < 3; i++) await sendWorkload(url, ['sleep', QA, '300']);
    await sendWorkload(url, ['countdown', QB, '2', '600']);
    // Waits with our own client: Celery's would leave its reply queues in the vhost for a while.
    const rc = new RemoteControl(new AmqpMailbox(broker()));
    try {
      await waitFor(
        async () => byNode((await rc.call('reserved', { timeoutMs: 1000, destination: [W1] })).replies).nodes,
        (n) => Array.isArray(n[W1]) && (n[W1] as unknown[]).length === 1,
        { timeoutMs: 60_000, what: 'W1 to hold one reserved task' },
      );
    } finally {
      await rc.close();
    }
  });

  afterAll(async () => {
    await Promise.all(workers.map((w) => w.kill()));
    await deleteVhost(VHOST);
  });

  it('1,000 consecutive calls leave no queue in the vhost', async () => {
    const before = await listQueues(VHOST);
    expect(before).toContain(`${W1}.celery.pidbox`);
    expect(before.filter((q) => q.endsWith('.reply.celery.pidbox'))).toEqual([]);
    const rc = new RemoteControl(new AmqpMailbox(broker()));
    const tally = await thousandCalls(rc, async (method) => {
      // The destination gives the expected count, so a call ends at the second reply.
      const r = await rc.call(method, { timeoutMs: 2000, destination: [W1, W2] });
      expect(r.replies.map((x) => x.hostname).sort()).toEqual([W1, W2].sort());
    });
    expect(tally).toEqual({ answered: 980, unanswered: 10, aborted: 10 });
    // Checked while the connection is still open: the reply queues are exclusive and would
    // vanish with it anyway, so only this shows they are deleted call by call.
    expect(await listQueues(VHOST)).toEqual(before);
    await rc.close();
    expect(await listQueues(VHOST)).toEqual(before);
  });

  it('every inspect metric equals what celery inspect reports for the same workers', async () => {
    const core = buildEventPath(testConfig(), pino({ level: 'silent' }), { defaultMetrics: false });
    const rc = new RemoteControl(new AmqpMailbox(broker()), { onInvalidReply: (r) => core.metrics.control.invalidReplies.labels(r).inc() });
    const poller = inspectPollerFor(
      collectorDeps(core),
      rc,
      new LabelPolicy({ stripHostnamePrefix: false, maxLength: 200 }),
      new RateLimitedLog(pino({ level: 'silent' })),
      { replyTimeoutMs: 1000, purgeAfterMs: 600_000 },
    );
    try {
      const before = await celeryView(url);
      // Celery's uptime is whole seconds: poll a second later so the round is surely after it.
      await new Promise((r) => setTimeout(r, 1100));
      await poller.collect(new AbortController().signal);
      const s = parseMetrics(core.metrics.registry.renderOwnSync());
      const after = await celeryView(url);
      expectMetricsMatchCelery(s, before, after, [W1, W2]);
      expect(select(s, 'celery_active_worker_count', { queue_name: QS })[0]?.value).toBe(2);
      expect(select(s, 'celery_worker_tasks_reserved', { hostname: W1 })[0]?.value).toBe(1);
      expect(select(s, 'celery_worker_tasks_scheduled', { hostname: W2 })[0]?.value).toBe(2);
      const invalid = select(s, 'celery_exporter_control_replies_invalid_total');
      expect(invalid.length).toBeGreaterThan(0);
      expect(invalid.filter((x) => x.value !== 0)).toEqual([]);
    } finally {
      await poller.close();
    }
  });

  it('`inspect <method> --json` has the same keys and values as `celery inspect <method> --json`', async () => {
    for (const method of ['ping', 'stats', 'active', 'reserved', 'scheduled', 'registered', 'active_queues', 'conf']) {
      const ours = await cli(['inspect', method, '--json']);
      expect(ours.code, ours.stderr).toBe(0);
      expectSameInspectJson(method, JSON.parse(ours.stdout) as Record<string, unknown>, await celeryInspect(url, method));
    }
  });

  it('the daemon over RabbitMQ exports the same metrics, utilisation included', async () => {
    const exporter = await startExporter(['--broker-url', url, '--inspect-poll-interval', '1']);
    try {
      const before = await celeryView(url);
      const s = await waitFor(
        async () => parseMetrics(await exporter.metrics()),
        (x) => freshAfter(x, before, [W1, W2]) && select(x, 'celery_worker_pool_utilization_ratio', { hostname: W1 }).length === 1,
        { timeoutMs: 40_000, what: 'an inspect round after celery’s reading, and heartbeats' },
      );
      const after = await celeryView(url);
      expectMetricsMatchCelery(s, before, after, [W1, W2]);
      expectUtilizationMatchesCelery(s, before, [W1, W2]);
      expect(value(s, 'celery_active_worker_count', { queue_name: QS })).toBe(2);
      expect(select(s, 'celery_exporter_poll_errors_total', { poller: 'inspect' }).every((x) => x.value === 0)).toBe(true);
    } finally {
      await exporter.stop();
    }
  });

  it('`events` follows the stream over RabbitMQ', async () => {
    const log = spawnTracked(process.execPath, [CLI, 'events', '--broker-url', url, '--type', 'task-received'], { cwd: ROOT });
    try {
      await log.waitForOutput(/listening for events/, 30_000);
      const ids = (await sendWorkload(url, ['add', QB, '2']))['ids'] as string[];
      await waitFor(async () => log.output(), (o) => ids.every((i) => o.includes(i)), { timeoutMs: 30_000, what: 'two task-received lines' });
      expect(log.output().split('\n').filter((l) => / task-received /.test(l)).length).toBeGreaterThanOrEqual(2);
    } finally {
      await log.stop();
    }
  });

  it('`control enable_events` and the no-reply exit status work as with Redis', async () => {
    const ours = await cli(['control', 'enable_events', '--json']);
    const { stdout } = await celeryCli(url, ['control', 'enable_events', '--json']);
    const sorted = (t: string) => (JSON.parse(t.trim().split('\n').pop()!) as object[]).map((o) => JSON.stringify(o)).sort();
    expect(sorted(ours.stdout)).toEqual(sorted(stdout));
    expect((await cli(['inspect', 'ping', '-d', 'nobody@nowhere', '-t', '0.3'])).code).toBe(69);
  });
});
