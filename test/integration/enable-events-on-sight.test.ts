import { hostname } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sendWorkload, startWorker, type Worker } from '../helpers/celery.js';
import { startExporter, type Exporter } from '../helpers/exporter.js';
import { uid } from '../helpers/ids.js';
import { parseMetrics, sum, value, waitFor } from '../helpers/metrics.js';
import { ownBrokers, type TestBroker } from '../helpers/own-brokers.js';

/**
 * A worker started without -E after the exporter: the periodic enable_events broadcast is an hour
 * away (--enable-events-interval 3600), so only the request sent when the worker is first seen
 * can turn its task events on. A task sent 3 s after the worker came online must be counted.
 * Before: nothing was counted until the next periodic broadcast (0 of 3 tasks).
 */

function onSightSuite(broker: TestBroker): void {
  describe(`${broker.label}: a worker started without -E`, () => {
    const id = uid();
    const queue = `noe-${id}`;
    const name = `noe-${id}@${hostname()}`;
    let worker: Worker | undefined;
    let exporter: Exporter | undefined;
    let url: string;

    beforeAll(async () => {
      url = await broker.setup();
      exporter = await startExporter(['--broker-url', url, '--enable-events-interval', '3600', '--no-inspect-metrics']);
      await waitFor(() => fetch(`${exporter!.url}/readyz`).then((r) => r.status), (s) => s === 200, { what: 'readyz' });
      // Let the start-up broadcast go out before the worker exists.
      await new Promise((r) => setTimeout(r, 1500));
    }, 120_000);

    afterAll(async () => {
      await worker?.stop();
      await exporter?.stop();
      await broker.teardown();
    });

    it('gets enable_events when it comes online: a task sent 3 s later is counted', async () => {
      worker = await startWorker({ brokerUrl: url, queues: [queue], name, events: false });
      const scrape = async () => parseMetrics(await exporter!.metrics());
      await waitFor(scrape, (s) => value(s, 'celery_worker_up', { hostname: name }) === 1, { what: 'the worker to be seen' });
      await new Promise((r) => setTimeout(r, 3000));
      await sendWorkload(url, ['add', queue, '3']);
      const s = await waitFor(scrape, (x) => sum(x, 'celery_task_succeeded_total', { hostname: name }) === 3, {
        timeoutMs: 20_000,
        what: 'the 3 tasks to be counted',
      });
      expect(sum(s, 'celery_task_received_total', { hostname: name, name: 'tests.add', queue_name: queue })).toBe(3);
      expect(value(s, 'celery_exporter_enable_events_new_worker_requests_total', { outcome: 'enabled' })).toBe(1);
      expect(value(s, 'celery_exporter_enable_events_broadcasts_total')).toBe(1);
      const lines = exporter!.output().split('\n').filter((l) => l.includes('newly seen worker'));
      expect(lines).toHaveLength(1);
      expect(lines[0]).toContain(name);
    });
  });
}

for (const broker of ownBrokers('on-sight')) onSightSuite(broker);
