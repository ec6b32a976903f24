import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sendWorkload, startWorker, type Worker } from '../helpers/celery.js';
import { startExporter, type Exporter } from '../helpers/exporter.js';
import { parseMetrics, sum, waitFor } from '../helpers/metrics.js';
import { OwnRedis } from '../helpers/redis-server.js';

/**
 * Issue 16, item 3 on Redis: pub/sub keeps nothing for an absent subscriber, so the events of a
 * task that starts while the exporter is down are gone. After the restart from --state-file the
 * exporter says so: one incident in celery_exporter_events_dropped_suspected_total and one line.
 */
const QUEUE = 'loss-q';
const dropped = async (e: Exporter) => sum(parseMetrics(await e.metrics()), 'celery_exporter_events_dropped_suspected_total');

describe('continuity: events lost across a restart on Redis', () => {
  let redis: OwnRedis;
  let dir: string;
  let worker: Worker | undefined;
  const exporters: Exporter[] = [];

  beforeAll(async () => {
    redis = await OwnRedis.start();
    dir = mkdtempSync(join(tmpdir(), 'continuity-loss-'));
  });
  afterAll(async () => {
    for (const e of exporters) await e.stop(3000);
    await worker?.stop();
    await redis?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a task started while the exporter was down counts one incident after the restart, and one only', async () => {
    const url = redis.url(0);
    const args = ['--broker-url', url, '--queues', QUEUE, '--log-level', 'info', '--state-file', join(dir, 'r.state')];
    const first = await startExporter(args);
    exporters.push(first);
    worker = await startWorker({ brokerUrl: url, queues: [QUEUE], name: `loss-${Date.now()}@test`, concurrency: 2 });
    await sendWorkload(url, ['add', QUEUE, '3']);
    await waitFor(async () => sum(parseMetrics(await first.metrics()), 'celery_task_succeeded_total'), (n) => n === 3, { what: '3 tasks counted' });
    expect(await first.stop(5000)).toBe(0);

    // While it is down: a task starts (its task-sent, -received and -started are published to nobody).
    await sendWorkload(url, ['sleep', QUEUE, '6']);
    await worker.waitForOutput(/Task tests\.sleep\[[^\]]+\] received/, 15_000);
    const second = await startExporter(args);
    exporters.push(second);
    expect(second.output()).toMatch(/"msg":"state restored/);
    await second.waitForOutput(/"msg":"events lost across the restart: /, 20_000);
    expect(await dropped(second)).toBe(1);
    // The task finishes; nothing more is counted for the same restart.
    await worker.waitForOutput(/Task tests\.sleep\[[^\]]+\] succeeded/, 20_000);
    await new Promise((r) => setTimeout(r, 1500));
    expect(await dropped(second)).toBe(1);
    expect(second.output().match(/events lost across the restart/g)).toHaveLength(1);
  }, 120_000);
});
