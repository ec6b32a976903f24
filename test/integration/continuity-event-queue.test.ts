import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'amqplib';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { sendWorkload, startWorker, type Worker } from '../helpers/celery.js';
import { CLI, ROOT, startExporter, type Exporter } from '../helpers/exporter.js';
import { spawnTracked } from '../helpers/processes.js';
import { parseMetrics, sum, waitFor, type Sample } from '../helpers/metrics.js';
import { createVhost, listQueues, type TestVhost } from '../helpers/rabbitmq.js';

/**
 * Issue 16, item 3 against a real RabbitMQ and a real Celery worker: with --event-queue-name the
 * events published while the exporter is down wait for it in a durable queue, and with
 * --state-file each is counted exactly once across the restart (test c). Two exporters on one
 * queue, and a queue declared with other arguments, are refused with one clear line.
 */
const QUEUE = 'ceq-q';
const added = (s: Sample[]) => sum(s, 'celery_task_succeeded_total', { name: 'tests.add' });
const refusals = (s: Sample[], reason: string) => sum(s, 'celery_exporter_event_queue_refusals_total', { reason });

describe('continuity: the RabbitMQ named event queue', () => {
  let dir: string;
  let vhost: TestVhost;
  let worker: Worker | undefined;
  const exporters: Exporter[] = [];
  const start = async (args: string[]) => {
    const e = await startExporter(['--broker-url', vhost.url, '--queues', QUEUE, '--log-level', 'info', ...args]);
    exporters.push(e);
    return e;
  };
  const scrape = async (e: Exporter) => parseMetrics(await e.metrics());
  const readyz = async (e: Exporter) => (await fetch(`${e.url}/readyz`)).status;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'continuity-eq-'));
    vhost = await createVhost('continuity-eq');
  });
  afterEach(async () => {
    for (const e of exporters.splice(0)) await e.stop(3000);
    await worker?.stop();
    worker = undefined;
  });
  afterAll(async () => {
    rmSync(dir, { recursive: true, force: true });
    await vhost?.remove();
  });

  it('(c) with --state-file: 10 tasks, SIGTERM, 20 tasks while it is down, start again: succeeded is 30 exactly', async () => {
    const file = join(dir, 'c.state');
    const args = ['--event-queue-name', 'celeryev.exporter-c', '--state-file', file];
    const first = await start(args);
    await first.waitForOutput(/"msg":"broker ready: consuming celeryev\.exporter-c, bound to exchange celeryev with \\"#\\", 0 events waiting/, 15_000);
    worker = await startWorker({ brokerUrl: vhost.url, queues: [QUEUE], name: `ceq-${Date.now()}@test`, concurrency: 2 });
    await sendWorkload(vhost.url, ['add', QUEUE, '10']);
    await waitFor(() => scrape(first), (s) => added(s) === 10, { what: '10 tasks succeeded', timeoutMs: 30_000 });
    expect(await first.stop(5000)).toBe(0);

    // While no exporter runs, the queue keeps what the worker publishes.
    const succeededLines = () => worker!.output().match(/Task tests\.add\[[^\]]+\] succeeded/g)?.length ?? 0;
    await sendWorkload(vhost.url, ['add', QUEUE, '20']);
    await waitFor(async () => succeededLines(), (n) => n === 30, { what: 'the worker ran 30 tasks', timeoutMs: 30_000 });
    const [row] = await listQueues(vhost.name, ['name', 'messages', 'durable', 'auto_delete', 'consumers']).then((r) => r.filter((q) => q[0] === 'celeryev.exporter-c'));
    expect(row?.slice(2)).toEqual(['true', 'false', '0']);
    const waiting = Number(row![1]);
    // Celery sends task events in task.multi batches: fewer messages than events.
    expect(waiting).toBeGreaterThan(0);

    const second = await start(args);
    expect(second.output()).toMatch(/"msg":"state restored/);
    const s = await waitFor(() => scrape(second), (x) => added(x) >= 30, { what: '30 tasks succeeded', timeoutMs: 30_000 });
    expect(added(s)).toBe(30);
    // Nothing comes twice later either (the saved-and-acknowledged events are not redelivered).
    await new Promise((r) => setTimeout(r, 3000));
    const after = await scrape(second);
    expect(added(after)).toBe(30);
    console.log(`(c) events waiting in the queue at restart: ${waiting}; celery_task_succeeded_total after the restart: ${added(after)}`);
    // Drained; what is delivered and not saved yet stays unacknowledged until the next save.
    const [again] = (await listQueues(vhost.name, ['name', 'messages_ready', 'consumers'])).filter((q) => q[0] === 'celeryev.exporter-c');
    expect(again?.slice(1)).toEqual(['0', '1']);
  }, 150_000);

  it('refuses a second exporter on the same queue (not ready, counted) until the first one leaves', async () => {
    const args = ['--event-queue-name', 'celeryev.exporter-shared'];
    const first = await start(args);
    await first.waitForOutput(/"msg":"broker ready: consuming celeryev\.exporter-shared/, 15_000);
    const second = await start(args);
    await second.waitForOutput(/event queue \\"celeryev\.exporter-shared\\" is in use: 1 consumer is attached[^\n]*--event-queue-shared/, 15_000);
    expect(await readyz(second)).toBe(503);
    expect(refusals(await scrape(second), 'in_use')).toBeGreaterThanOrEqual(1);
    expect(second.proc.exitCode).toBeNull();
    expect(second.output().match(/is in use/g)).toHaveLength(1);
    // The first one goes: the second takes the queue over on its next attempt.
    expect(await first.stop(5000)).toBe(0);
    await second.waitForOutput(/"msg":"broker ready: consuming celeryev\.exporter-shared/, 40_000);
    expect(await readyz(second)).toBe(200);
    // A shared consumer cannot join an exclusive one either, and is told why.
    const third = await start([...args, '--event-queue-shared']);
    await third.waitForOutput(/is in use: another exporter consumes it exclusively \(started without --event-queue-shared\)/, 15_000);
    expect(second.output()).not.toMatch(/"level":"error"/);
    // With --event-queue-shared on both, two consumers are allowed.
    const shared = ['--event-queue-name', 'celeryev.exporter-both', '--event-queue-shared'];
    const [a, b] = [await start(shared), await start(shared)];
    for (const e of [a, b]) await waitFor(() => readyz(e), (code) => code === 200, { what: 'a shared consumer ready', timeoutMs: 15_000 });
  }, 90_000);

  it('a queue that exists with other arguments: one line naming the flags, counted, not ready, no crash', async () => {
    const conn = await connect(vhost.url);
    const ch = await conn.createChannel();
    // What an exporter with --event-queue-max-length 500 declared before.
    await ch.assertQueue('celeryev.exporter-old', { durable: true, arguments: { 'x-expires': 3_600_000, 'x-max-length': 500, 'x-overflow': 'drop-head' } });
    await conn.close();
    const e = await start(['--event-queue-name', 'celeryev.exporter-old']);
    await e.waitForOutput(/RabbitMQ refused to declare event queue \\"celeryev\.exporter-old\\": it exists with other arguments \([^)]*x-max-length[^)]*\)[^\n]*--event-queue-max-length/, 15_000);
    expect(await readyz(e)).toBe(503);
    expect(refusals(await scrape(e), 'arguments')).toBeGreaterThanOrEqual(1);
    await new Promise((r) => setTimeout(r, 1500));
    expect(e.proc.exitCode).toBeNull();
    expect(e.output().match(/refused to declare/g)).toHaveLength(1);
    // The flag the message names fixes it.
    const fixed = await start(['--event-queue-name', 'celeryev.exporter-old', '--event-queue-max-length', '500']);
    await waitFor(() => readyz(fixed), (code) => code === 200, { what: 'ready with the matching flag', timeoutMs: 15_000 });
  }, 60_000);

  it('the events subcommand never consumes a named queue (it would take the events waiting there)', async () => {
    const p = spawnTracked(process.execPath, [CLI, 'events', '--broker-url', vhost.url, '--event-queue-name', 'celeryev.exporter-ev'], { cwd: ROOT, env: process.env });
    await p.waitForOutput(/listening for events/, 15_000);
    const names = (await listQueues(vhost.name, ['name'])).map((r) => r[0]);
    await p.stop(3000);
    expect(names).not.toContain('celeryev.exporter-ev');
    expect(names.some((n) => /^celeryev\.[0-9a-f-]{36}$/.test(n!))).toBe(true);
  }, 30_000);
});
