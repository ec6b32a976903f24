import { execFile } from 'node:child_process';
import { hostname } from 'node:os';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { flushDb, REDIS_DB, redisUrl } from '../helpers/brokers.js';
import { celeryCli, sendWorkload, startWorker, type Worker } from '../helpers/celery.js';
import { CLI, ROOT, startExporter, type Exporter } from '../helpers/exporter.js';
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
import { spawnTracked } from '../helpers/processes.js';
import { promtool } from '../helpers/promtool.js';

const run = promisify(execFile);

/**
 * Remote control over Redis against two real Celery workers of different concurrency and
 * queues: the exporter's inspect metrics equal what `celery inspect` reports, and the
 * `inspect` subcommand prints what `celery inspect --json` prints.
 */
const id = uid();
const QA = `rc-a-${id}`;
const QB = `rc-b-${id}`;
const QS = `rc-shared-${id}`;
const W1 = `rc1-${id}@${hostname()}`;
const W2 = `rc2-${id}@${hostname()}`;
const DB = REDIS_DB.remoteControl;
const url = redisUrl(DB);

let w1: Worker | undefined;
let w2: Worker | undefined;
let exporter: Exporter | undefined;

/** Runs the built CLI; resolves with the exit code instead of throwing. */
async function cli(args: string[]) {
  try {
    const r = await run(process.execPath, [CLI, ...args, '--broker-url', url], { cwd: ROOT, timeout: 60_000 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('remote control over Redis with real workers', () => {
  beforeAll(async () => {
    await flushDb(DB);
    [w1, w2] = await Promise.all([
      startWorker({ brokerUrl: url, queues: [QA, QS], name: W1, concurrency: 2 }),
      startWorker({ brokerUrl: url, queues: [QB, QS], name: W2, concurrency: 3 }),
    ]);
    // W1 (-c 2): two tasks running and one reserved behind them; W2: two ETA tasks held.
    for (let i = 0; i < 3; i++) await sendWorkload(url, ['sleep', QA, '300']);
    await sendWorkload(url, ['countdown', QB, '2', '600']);
    exporter = await startExporter(['--broker-url', url, '--inspect-poll-interval', '1', '--queues', QA]);
    await waitFor(
      () => celeryInspect(url, 'reserved'),
      (r) => r[W1]?.length === 1,
      { timeoutMs: 60_000, what: 'W1 to hold one reserved task' },
    );
  });

  afterAll(async () => {
    await exporter?.stop();
    // The 300 s sleeps would hold a warm shutdown; nothing here needs worker-offline.
    await Promise.all([w1?.kill(), w2?.kill()]);
  });

  it('every inspect metric equals what celery inspect reports for the same workers', async () => {
    const before = await celeryView(url);
    expect(before.active[W1]).toHaveLength(2);
    expect(before.scheduled[W2]).toHaveLength(2);
    const s = await waitFor(
      async () => parseMetrics(await exporter!.metrics()),
      (x) => freshAfter(x, before, [W1, W2]),
      { timeoutMs: 30_000, what: 'an inspect round after celery’s reading' },
    );
    const after = await celeryView(url);
    expectMetricsMatchCelery(s, before, after, [W1, W2]);
    expectUtilizationMatchesCelery(s, before, [W1, W2]);
    expect(value(s, 'celery_active_worker_count', { queue_name: QS })).toBe(2);
    expect(value(s, 'celery_active_process_count', { queue_name: QS })).toBe(5);
    expect(value(s, 'celery_worker_pool_utilization_ratio', { hostname: W1 })).toBe(1);
    expect(sum0(s, 'celery_exporter_poll_errors_total', { poller: 'inspect' })).toBe(0);
    expect(sum0(s, 'celery_exporter_control_replies_invalid_total')).toBe(0);
    expect(value(s, 'celery_exporter_enable_events_broadcasts_total')).toBeGreaterThanOrEqual(1);
  });

  it('the exposition with inspect series passes promtool check metrics, but for the names kept for compatibility', async () => {
    const r = await promtool(['check', 'metrics'], await exporter!.metrics());
    // celery_active_{worker,process}_count are the Python celery-exporter's names (its dashboards
    // use them) and prefetch_count is Celery's own field name: kept on purpose, and the only lint.
    const problems = r.output.split('\n').filter((l) => l.trim() !== '');
    expect(problems.sort()).toEqual(
      ['celery_active_process_count', 'celery_active_worker_count', 'celery_worker_prefetch_count'].map(
        (n) => `${n} non-histogram and non-summary metrics should not have "_count" suffix`,
      ),
    );
  });

  it('`inspect <method> --json` has the same keys and values as `celery inspect <method> --json`', async () => {
    for (const method of ['ping', 'stats', 'active', 'reserved', 'scheduled', 'registered', 'active_queues', 'conf']) {
      const ours = await cli(['inspect', method, '--json']);
      expect(ours.code, ours.stderr).toBe(0);
      const theirs = await celeryInspect(url, method);
      expectSameInspectJson(method, JSON.parse(ours.stdout) as Record<string, unknown>, theirs);
    }
  });

  it('--destination limits the call to those workers, like celery’s -d', async () => {
    const ours = await cli(['inspect', 'reserved', '--json', '-d', W1]);
    const theirs = await celeryInspect(url, 'reserved', ['-d', W1]);
    expect(Object.keys(JSON.parse(ours.stdout) as object)).toEqual([W1]);
    expectSameInspectJson('reserved', JSON.parse(ours.stdout) as Record<string, unknown>, theirs);
  });

  it('prints a readable table by default', async () => {
    const stats = await cli(['inspect', 'stats']);
    expect(stats.code).toBe(0);
    expect(stats.stdout).toMatch(new RegExp(`^${esc(W1)}\\s+\\d+\\s+2\\s+2\\s+\\d+\\s+\\S+`, 'm'));
    expect(stats.stdout).toMatch(new RegExp(`^${esc(W2)}\\s+\\d+\\s+3\\s+3\\s+`, 'm'));
    expect(stats.stdout).toMatch(/\n2 nodes online\.\n$/);
    const active = await cli(['inspect', 'active']);
    expect(active.stdout.split('\n').filter((l) => l.startsWith(W1) && l.includes('tests.sleep'))).toHaveLength(2);
    expect(active.stdout).toMatch(new RegExp(`^${esc(W2)}\\s+- empty -`, 'm'));
  });

  it('exits 69 (as celery does) when no worker replies', async () => {
    const ours = await cli(['inspect', 'ping', '-d', 'nobody@nowhere', '--timeout', '0.3']);
    expect(ours.code).toBe(69);
    expect(ours.stderr).toContain('No nodes replied within time constraint');
    const theirs = await celeryCli(url, ['inspect', 'ping', '-d', 'nobody@nowhere', '-t', '0.3']).then(
      () => 0,
      (e: { code: number }) => e.code,
    );
    expect(theirs).toBe(69);
  });

  it('`control enable_events --json` prints the reply list as `celery control` does', async () => {
    const ours = await cli(['control', 'enable_events', '--json']);
    expect(ours.code).toBe(0);
    const { stdout } = await celeryCli(url, ['control', 'enable_events', '--json']);
    const norm = (t: string) => (JSON.parse(t.trim().split('\n').pop()!) as Array<Record<string, unknown>>).sort((a, b) => Object.keys(a)[0]!.localeCompare(Object.keys(b)[0]!));
    expect(norm(ours.stdout)).toEqual(norm(stdout));
    expect(norm(ours.stdout)).toEqual([{ [W1]: { ok: 'task events already enabled' } }, { [W2]: { ok: 'task events already enabled' } }].sort((a, b) => Object.keys(a)[0]!.localeCompare(Object.keys(b)[0]!)));
    const table = await cli(['control', 'disable_events', '-d', W2]);
    expect(table.stdout).toMatch(new RegExp(`^${esc(W2)}\\s+task events already disabled$`, 'm'));
  });

  it('`events` prints one line per event, filtered, and --json one object per event', async () => {
    const plain = spawnTracked(process.execPath, [CLI, 'events', '--broker-url', url, '--type', 'task-succeeded', '--task', 'tests.add'], { cwd: ROOT });
    const json = spawnTracked(process.execPath, [CLI, 'events', '--broker-url', url, '--json', '--worker', W2, '--type', 'task-*'], { cwd: ROOT });
    try {
      await Promise.all([plain.waitForOutput(/listening for events/), json.waitForOutput(/listening for events/)]);
      const sent = await sendWorkload(url, ['add', QB, '3']);
      const ids = sent['ids'] as string[];
      await waitFor(
        async () => plain.output(),
        (o) => ids.every((i) => o.includes(i)),
        { timeoutMs: 30_000, what: 'three task-succeeded lines' },
      );
      const lines = plain.output().split('\n').filter((l) => / task-succeeded /.test(l));
      expect(lines).toHaveLength(3);
      for (const l of lines) expect(l).toMatch(new RegExp(`^\\S+Z  task-succeeded\\s+tests\\.add\\s+[0-9a-f-]{36}  ${esc(W2)}  succeeded in \\d+\\.\\d{4}s: \\d+$`));
      // Whole lines only, and wait for each task's task-succeeded itself: counting how often an id
      // appears is not enough, because task-received carries it twice (uuid and root_id), so
      // received + started already made three while task-succeeded was still on its way.
      const jsonEvents = (): Array<Record<string, unknown>> =>
        json
          .output()
          .split('\n')
          .slice(0, -1)
          .filter((l) => l.startsWith('{'))
          .map((l) => JSON.parse(l) as Record<string, unknown>);
      const events = await waitFor(
        async () => jsonEvents(),
        (evs) => ids.every((i) => ['task-received', 'task-started', 'task-succeeded'].every((t) => evs.some((e) => e['uuid'] === i && e['type'] === t))),
        { timeoutMs: 30_000, what: 'received, started and succeeded of each task as JSON' },
      );
      expect(events.every((e) => e['hostname'] === W2 && String(e['type']).startsWith('task-'))).toBe(true);
      const succeeded = events.filter((e) => e['type'] === 'task-succeeded');
      expect(succeeded.map((e) => e['uuid']).sort()).toEqual([...ids].sort());
      // The name and queue come from the task's earlier events. The name is on task-received, which
      // the worker always publishes before task-succeeded. The queue is only on task-sent, which
      // Celery publishes after the task message itself (celery/app/amqp.py send_task_message): a fast
      // worker can finish the task before the producer's task-sent reaches Redis, and then the line
      // printed for task-succeeded has no queue yet. When a queue is there, it must be the right one.
      expect(succeeded.every((e) => e['name'] === 'tests.add' && (e['queue'] === undefined || e['queue'] === QB))).toBe(true);
    } finally {
      expect(await plain.stop(5000)).toBe(0);
      expect(await json.stop(5000)).toBe(0);
    }
  });
});

function sum0(s: ReturnType<typeof parseMetrics>, name: string, match: Record<string, string> = {}): number {
  return select(s, name, match).reduce((a, x) => a + x.value, 0);
}

function esc(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
