import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { flushDb, REDIS_DB, redisUrl } from '../helpers/brokers.js';
import { ROOT, startExporter, type Exporter } from '../helpers/exporter.js';
import { parseMetrics, sum, waitFor } from '../helpers/metrics.js';
import { promtool } from '../helpers/promtool.js';
import { capturedRedisMessages } from '../unit/fixtures.js';

/**
 * node_exporter-style end-to-end test: the real daemon, fed the captured stream of a real
 * worker through Redis, must expose exactly the committed golden file (UPDATE_GOLDEN=1 rewrites
 * it), and promtool must accept the whole exposition.
 */
const GOLDEN = join(ROOT, 'test', 'golden', 'metrics.txt');
const DB = REDIS_DB.golden;
/** Values that depend on the wall clock or the runtime, not on the event stream. */
const VOLATILE = [
  'celery_exporter_last_event_timestamp_seconds',
  'celery_exporter_event_lag_seconds',
  // The fixtures' timestamps are from when they were captured: a year later they count here.
  'celery_exporter_events_invalid_total{reason="timestamp"}',
  'celery_exporter_poll_duration_seconds',
  'celery_exporter_poll_success_timestamp_seconds',
  'celery_broker_connected_clients',
  'celery_broker_memory_used_bytes',
  'celery_broker_uptime_seconds',
  'celery_exporter_start_time_seconds',
];

export function normalise(text: string): string {
  return text
    .split('\n')
    .filter((l) => /^(# (HELP|TYPE) )?celery_/.test(l))
    .map((l) => (VOLATILE.some((v) => l.startsWith(`${v} `) || l.startsWith(`${v}{`)) ? l.replace(/ \S+$/, ' <volatile>') : l))
    .map((l) => l.replace(/version="[^"]*",nodejs_version="[^"]*"/, 'version="<v>",nodejs_version="<v>"'))
    .map((l) => l.replace(/broker="[^"]*"/, 'broker="<test broker>"'))
    .join('\n');
}

let exporter: Exporter;
let text: string;

describe('golden /metrics', () => {
  beforeAll(async () => {
    await flushDb(DB);
    // One queue poll, at start (before any event named a queue; no on-demand polls), and
    // remote-control pollers off: this file is about the event stream, and poll timings vary.
    exporter = await startExporter([
      '--broker-url', redisUrl(DB), '--purge-offline-worker-metrics', '0', '--queue-poll-interval', '3600', '--queue-min-poll-interval', '0', '--no-inspect-metrics', '--no-enable-events',
      // Declared periodic tasks: an exact name, a glob, a per-task tolerance and one never run.
      '--periodic-task', 'tests.add=5m', '--periodic-task', 'tests.fail_*=1h', '--periodic-task', 'tests.nightly=1d',
      '--periodic-task-tolerance', 'tests.add=2',
    ]);
    await waitFor(() => fetch(`${exporter.url}/readyz`).then((r) => r.status), (s) => s === 200, { what: 'readyz' });
    const pub = new Redis(redisUrl(DB));
    const messages = capturedRedisMessages();
    for (const m of messages) await pub.publish(m.channel.replace(/^\/\d+\./, `/${DB}.`), m.data);
    pub.disconnect();
    await waitFor(
      async () => parseMetrics(await exporter.metrics()),
      (s) => sum(s, 'celery_exporter_events_total') === 66,
      { what: 'all 66 fixture events' },
    );
    text = await exporter.metrics();
  });

  afterAll(async () => {
    await exporter?.stop();
  });

  it('matches the golden file', () => {
    const got = normalise(text);
    if (process.env['UPDATE_GOLDEN'] === '1' || !existsSync(GOLDEN)) writeFileSync(GOLDEN, `${got}\n`);
    expect(got).toBe(readFileSync(GOLDEN, 'utf8').trimEnd());
  });

  it('passes promtool check metrics', async () => {
    const r = await promtool(['check', 'metrics'], text);
    expect(r.output).toBe('');
    expect(r.code).toBe(0);
  });
});
