import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sendWorkload, startWorker, type Worker } from '../helpers/celery.js';
import { CLI, ROOT } from '../helpers/exporter.js';
import { parseMetrics, sum, waitFor } from '../helpers/metrics.js';
import { freePort } from '../helpers/ports.js';
import { spawnTracked, type Spawned } from '../helpers/processes.js';
import { startPrometheus, type Prometheus } from '../helpers/prometheus.js';
import { createVhost, type TestVhost } from '../helpers/rabbitmq.js';

/**
 * Issue 16, test (d): the exporter is SIGKILLed in the middle of a flood of events and started
 * again on the same port, while a real Prometheus scrapes it every second. With --event-queue-name
 * and --state-file nothing is lost (the unsaved events were not acknowledged: RabbitMQ redelivers
 * them) and nothing is counted twice (what the file holds was acknowledged), and Prometheus sees
 * no counter reset: increase() over the whole run is at most the true count. The kill follows a
 * scrape at once, as in the run that found acks waiting in amqplib's multiplexer after the save
 * (741 of 401 counted; see delivery-reader.ts, directAcker).
 */
const QUEUE = 'crash-q';
const TASKS = 1000;
const NAME = { name: 'tests.add' };

interface Series {
  metric: Record<string, string>;
  values: Array<[number, string]>;
}

describe('continuity: SIGKILL mid-flood (RabbitMQ, named queue, state file, real Prometheus)', () => {
  let dir: string;
  let vhost: TestVhost;
  let worker: Worker | undefined;
  let prometheus: Prometheus | undefined;
  const procs: Spawned[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'continuity-crash-'));
    vhost = await createVhost('continuity-crash');
  });
  afterAll(async () => {
    for (const p of procs) await p.stop(3000);
    await worker?.stop();
    await prometheus?.cleanup();
    rmSync(dir, { recursive: true, force: true });
    await vhost?.remove();
  });

  it('(d) loses nothing and counts nothing twice; increase() never exceeds the true count', async () => {
    const port = await freePort();
    const args = ['--broker-url', vhost.url, '--queues', QUEUE, '--log-level', 'info', '--event-queue-name', 'celeryev.crash', '--state-file', join(dir, 'd.state')];
    const startOn = async () => {
      const p = spawnTracked(process.execPath, [CLI, '--port', String(port), '--host', '127.0.0.1', ...args], { cwd: ROOT, env: process.env });
      procs.push(p);
      await p.waitForOutput(/"msg":"broker ready: consuming celeryev\.crash/, 20_000);
      return p;
    };
    const added = async () => sum(parseMetrics(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()), 'celery_task_succeeded_total', NAME);

    const first = await startOn();
    worker = await startWorker({ brokerUrl: vhost.url, queues: [QUEUE], name: `crash-${Date.now()}@test`, concurrency: 2 });
    // One task first, so the series exists (at 0, then 1) before Prometheus's first scrape.
    await sendWorkload(vhost.url, ['add', QUEUE, '1']);
    await waitFor(added, (n) => n === 1, { what: 'the first task counted' });
    prometheus = await startPrometheus(`127.0.0.1:${port}`);
    const startedAt = Date.now() / 1000;
    await waitFor(() => prometheus!.api<{ activeTargets: Array<{ health: string }> }>('targets'), (t) => t.activeTargets.some((x) => x.health === 'up'), {
      what: 'Prometheus scraping',
    });

    // Not awaited: the kill comes while the tasks are sent and run.
    const sending = sendWorkload(vhost.url, ['add', QUEUE, String(TASKS)]);
    const atKill = await waitFor(added, (n) => n >= 1 + TASKS / 4, { what: 'a quarter of the flood counted', intervalMs: 50 });
    await first.kill();
    await sending;
    const killedAt = Date.now();
    await new Promise((r) => setTimeout(r, 2000));
    const second = await startOn();
    const restartMs = Date.now() - killedAt;
    const total = 1 + TASKS;
    const final = await waitFor(added, (n) => n >= total, { what: `${total} tasks counted`, timeoutMs: 60_000 });
    // Let redeliveries, if any were wrongly counted, show up, and Prometheus scrape the end.
    await new Promise((r) => setTimeout(r, 4000));
    const now = await added();
    if (now !== total) console.log(`counted ${now} of ${total}; first exporter:\n${first.output().slice(-4000)}\nsecond:\n${second.output().slice(0, 6000)}`);
    expect(now).toBe(total);
    expect(final).toBe(total);
    const succeededLines = worker.output().match(/Task tests\.add\[[^\]]+\] succeeded/g)?.length ?? 0;
    expect(succeededLines).toBe(total);

    // Prometheus's view: no reset of any series, and increase() over the whole run at most the truth.
    const range = `${Math.ceil(Date.now() / 1000 - startedAt) + 30}s`;
    const raw = await prometheus.api<{ result: Series[] }>('query', { query: `celery_task_succeeded_total{name="tests.add"}[${range}]` });
    const lastTs = Math.max(...raw.result.flatMap((s) => s.values.map((v) => v[0])));
    const resets = await prometheus.api<{ result: Array<{ value: [number, string] }> }>('query', {
      query: `sum(resets(celery_task_succeeded_total{name="tests.add"}[${range}]))`,
      time: String(lastTs),
    });
    const increase = await prometheus.api<{ result: Array<{ value: [number, string] }> }>('query', {
      query: `sum(increase(celery_task_succeeded_total{name="tests.add"}[${range}]))`,
      time: String(lastTs),
    });
    const inc = Number(increase.result[0]!.value[1]);
    console.log(
      `(d) killed at ${atKill} of ${total} counted, restarted after ${restartMs} ms; final counter ${await added()}; ` +
        `Prometheus: increase() ${inc.toFixed(3)}, resets ${resets.result[0]!.value[1]}; ${second.output().match(/"waiting":\d+|\d+ events? waiting/)?.[0] ?? ''}`,
    );
    expect(Number(resets.result[0]!.value[1])).toBe(0);
    expect(inc).toBeLessThanOrEqual(total + 1e-9);
    // Saved, not crashed: the second start restored the file the first one kept current.
    expect(second.output()).toMatch(/"msg":"state restored/);
  }, 180_000);
});
