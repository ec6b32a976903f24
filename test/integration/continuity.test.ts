import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { flushDb, REDIS_DB, redisUrl } from '../helpers/brokers.js';
import { createVhost, type TestVhost } from '../helpers/rabbitmq.js';
import { sendWorkload, startWorker, type Worker } from '../helpers/celery.js';
import { startExporter, type Exporter } from '../helpers/exporter.js';
import { parseMetrics, select, sum, waitFor, type Sample } from '../helpers/metrics.js';

/**
 * Issue 16, items 1 and 2 against real brokers (Redis, RabbitMQ) and a real Celery worker: an exporter restart keeps
 * the counters (with --state-file) and the in-flight tasks (from the file, and from inspect
 * active/reserved without it).
 */
const QUEUE = 'cont-q';
let url = () => redisUrl(REDIS_DB.continuity);
const age = (s: Sample[]) => select(s, 'celery_task_oldest_active_age_seconds', { name: 'tests.sleep', queue_name: QUEUE });
const added = (s: Sample[]) => sum(s, 'celery_task_succeeded_total', { name: 'tests.add' });

for (const broker of ['redis', 'amqp'] as const) describe(`continuity across an exporter restart (${broker})`, () => {
  let dir: string;
  let worker: Worker | undefined;
  const exporters: Exporter[] = [];
  const start = async (args: string[]) => {
    const e = await startExporter(['--broker-url', url(), '--queues', QUEUE, '--log-level', 'info', ...args]);
    exporters.push(e);
    return e;
  };
  const scrape = async (e: Exporter) => parseMetrics(await e.metrics());

  let vhost: TestVhost | undefined;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'continuity-'));
    if (broker === 'amqp') {
      vhost = await createVhost('continuity');
      url = () => vhost!.url;
    } else url = () => redisUrl(REDIS_DB.continuity);
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

  /** 10 tasks counted and a 20 s task running, seen by `e`; returns its age then and when. */
  async function workload(e: Exporter) {
    if (broker === 'redis') await flushDb(REDIS_DB.continuity);
    worker = await startWorker({ brokerUrl: url(), queues: [QUEUE], name: `cont-${Date.now()}@test`, concurrency: 2 });
    await waitFor(() => scrape(e), (s) => select(s, 'celery_worker_up').some((x) => x.value === 1), { what: 'worker up' });
    await sendWorkload(url(), ['add', QUEUE, '10']);
    await waitFor(() => scrape(e), (s) => added(s) === 10, { what: '10 tasks succeeded', timeoutMs: 30_000 });
    await sendWorkload(url(), ['sleep', QUEUE, '20']);
    const s = await waitFor(() => scrape(e), (x) => age(x).length === 1, { what: 'the 20 s task running', timeoutMs: 15_000 });
    return { age: age(s)[0]!.value, at: Date.now() };
  }

  it('(a) with --state-file: counters continue, the running task keeps its age and its runtime lands under its name', async () => {
    const file = join(dir, 'a.state');
    const first = await start(['--state-file', file]);
    const before = await workload(first);
    expect(await first.stop(5000)).toBe(0);
    expect(first.output()).toMatch(/"msg":"state saved for the next start"/);
    const restarted = Date.now();
    const second = await start(['--state-file', file]);
    expect(second.output()).toMatch(/"tasks":1[,}].*"msg":"state restored/);
    const s = await scrape(second);
    expect(added(s)).toBe(10);
    // Within 15 s of the restart (here: at once, from the file) the oldest-active age is back, and older.
    expect(age(s)).toHaveLength(1);
    expect(Date.now() - restarted).toBeLessThan(15_000);
    expect(age(s)[0]!.value).toBeGreaterThanOrEqual(before.age + (Date.now() - before.at) / 1000 - 2);
    const done = await waitFor(
      () => scrape(second),
      (x) => sum(x, 'celery_task_runtime_seconds_count', { name: 'tests.sleep', state: 'succeeded' }) === 1,
      { what: 'the 20 s task finished', timeoutMs: 30_000 },
    );
    expect(select(done, 'celery_task_runtime_seconds_sum', { name: 'tests.sleep', queue_name: QUEUE, state: 'succeeded' })[0]!.value).toBeGreaterThan(19);
    expect(select(done, 'celery_task_runtime_seconds_count', { name: 'unknown' })).toEqual([]);
    expect(added(done)).toBe(10);
    expect(age(done)).toEqual([]);
  }, 120_000);

  it('(b) without a state file: the in-flight task is rebuilt from inspect active, with its real start time', async () => {
    const first = await start([]);
    const before = await workload(first);
    expect(await first.stop(5000)).toBe(0);
    const restarted = Date.now();
    const second = await start([]);
    const s = await waitFor(() => scrape(second), (x) => age(x).length === 1, { what: 'oldest-active age rebuilt', timeoutMs: 15_000 });
    expect(Date.now() - restarted).toBeLessThan(15_000);
    // time_start is the worker's Unix clock, the clock of its task-started event: the rebuilt age
    // continues the one the first exporter computed from the event (within scrape timing).
    const expected = before.age + (Date.now() - before.at) / 1000;
    expect(Math.abs(age(s)[0]!.value - expected)).toBeLessThan(1.5);
    expect(second.output()).toMatch(/"reason":"start".*"added":1.*"msg":"in-flight tasks reconciled/);
    const done = await waitFor(
      () => scrape(second),
      (x) => sum(x, 'celery_task_runtime_seconds_count', { name: 'tests.sleep', state: 'succeeded' }) === 1,
      { what: 'the 20 s task finished', timeoutMs: 30_000 },
    );
    expect(select(done, 'celery_task_runtime_seconds_count', { name: 'unknown' })).toEqual([]);
    expect(age(done)).toEqual([]);
  }, 120_000);

  it.runIf(broker === 'redis')('(e) a corrupt state file: one warning, moved aside, a clean start that saves a good file again; a lost subscription re-runs the rebuild', async () => {
    const file = join(dir, 'e.state');
    writeFileSync(file, '{"format":"celery-prometheus-exporter-state","version":2,"fingerprint":"x"}\n{"trunc');
    const e = await start(['--state-file', file]);
    expect(e.output().match(/"level":"warn"[^\n]*state file/g)).toHaveLength(1);
    expect(existsSync(`${file}.rejected`)).toBe(true);
    // A scrape renders, then saves before its response ends: the next scrape shows that save.
    await scrape(e);
    expect(select(await scrape(e), 'celery_exporter_state_saves_total', { result: 'success' })[0]!.value).toBeGreaterThanOrEqual(1);
    // A lost event subscription (events may be lost) makes it ask the workers again.
    await e.waitForOutput(/"reason":"start"[^\n]*in-flight tasks reconciled/, 10_000);
    const r = new Redis(url());
    await r.call('CLIENT', 'KILL', 'TYPE', 'pubsub');
    r.disconnect();
    await e.waitForOutput(/"reason":"(reconnect|events lost)"[^\n]*in-flight tasks reconciled/, 15_000);
    expect(await e.stop(5000)).toBe(0);
    expect(readFileSync(file, 'utf8').split('\n')[0]).toMatch(/"format":"celery-prometheus-exporter-state"/);
    const again = await start(['--state-file', file]);
    expect(again.output()).toMatch(/"msg":"state restored/);
  }, 60_000);
});
