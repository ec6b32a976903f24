import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { startExporter, type Exporter } from '../helpers/exporter.js';
import { uid } from '../helpers/ids.js';
import { parseMetrics, value, waitFor } from '../helpers/metrics.js';
import { clientList, OwnRedis } from '../helpers/redis-server.js';
import { logLines } from '../helpers/monotonic.js';

/**
 * What anyone who can publish on the broker can send, against a real exporter process and a
 * redis-server of this file's own: the exporter must stay up and bounded by its caps.
 */
const id = uid();
const servers: OwnRedis[] = [];
const exporters: Exporter[] = [];
const MB = 1024 * 1024;

afterAll(async () => {
  for (const e of exporters) await e.stop();
  for (const s of servers) await s.stop();
});

async function setup(env: Record<string, string> = {}, redisArgs: string[] = []): Promise<{ redis: OwnRedis; e: Exporter }> {
  const redis = await OwnRedis.start({ args: redisArgs });
  servers.push(redis);
  const e = await startExporter(['--broker-url', redis.url(0), '--no-inspect-metrics', '--no-enable-events', '--log-level', 'debug'], env);
  exporters.push(e);
  await waitFor(() => fetch(`${e.url}/readyz`).then((r) => r.status), (st) => st === 200, { what: 'readyz' });
  return { redis, e };
}

/** A kombu event envelope as Celery publishes it on Redis. */
function envelope(body: Record<string, unknown>): string {
  return JSON.stringify({
    body: Buffer.from(JSON.stringify(body)).toString('base64'),
    'content-encoding': 'utf-8',
    'content-type': 'application/json',
    headers: { hostname: 'attacker@h' },
    properties: { delivery_mode: 1, delivery_info: { exchange: 'celeryev', routing_key: 'task.multi' }, priority: 0, body_encoding: 'base64', delivery_tag: randomUUID() },
  });
}

const scrape = async (e: Exporter) => parseMetrics(await e.metrics());

describe('distinct 10 MB task names', () => {
  it('leave the heap bounded by the caps, not by the input (was: 10 MB kept per name, out of memory)', async () => {
    // A heap limit well below what 40 pinned names need (400 MB): with them the process dies.
    // No output-buffer limit: every event reaches the exporter, however far behind it falls.
    const { redis, e } = await setup({ NODE_OPTIONS: '--max-old-space-size=160' }, ['--client-output-buffer-limit', 'pubsub 0 0 0']);
    const t0 = Date.now();
    const pub = redis.client();
    const before = await scrape(e);
    const N = 40;
    for (let i = 0; i < N; i++) {
      const name = `evil.${id}.${i}.`.padEnd(10 * MB, 'x');
      await pub.publish('/0.celeryev/task.multi', envelope({ type: 'task-sent', uuid: randomUUID(), name, queue: 'q', hostname: 'gen@h', timestamp: Date.now() / 1000 }));
      await new Promise((r) => setTimeout(r, 120));
    }
    const after = await waitFor(() => scrape(e), (s) => value(s, 'celery_exporter_events_total', { type: 'task-sent' }) === N, { timeoutMs: 60_000, what: 'every event' });
    const heap = (s: typeof after) => value(s, 'nodejs_heap_size_used_bytes') / MB;
    const rss = (s: typeof after) => value(s, 'process_resident_memory_bytes') / MB;
    console.info(`${N} × 10 MB task names in ${((Date.now() - t0) / 1000).toFixed(1)} s: heap ${heap(before).toFixed(0)} → ${heap(after).toFixed(0)} MB, RSS ${rss(before).toFixed(0)} → ${rss(after).toFixed(0)} MB`);
    expect(e.proc.exitCode).toBeNull();
    expect(heap(after)).toBeLessThan(140);
    // Each name is its own series, its label value cut to --max-label-length (200).
    const names = (await e.metrics()).match(/celery_task_sent_total\{name="evil[^"]*"/g) ?? [];
    expect(names).toHaveLength(N);
    expect(names.every((n) => n.length === 'celery_task_sent_total{name="'.length + 200 + 1)).toBe(true);
  }, 120_000);
});

describe('a message larger than the pub/sub output-buffer limit', () => {
  it('is counted as a drop, and a CLIENT KILL still is not (was: both "closed by CLIENT KILL", not counted)', async () => {
    const { redis, e } = await setup();
    const pub = redis.client();
    const dropped = async () => value(await scrape(e), 'celery_exporter_events_dropped_suspected_total');
    const ready = () => logLines(e.output()).filter((l) => /^broker ready/.test(String(l['msg'])));
    const subscribed = async () => (await clientList(pub, 'pubsub')).some((c) => c['name'] === 'celery-exporter:events');
    // Three oversized publishes (33 MB > the default 32 MB hard limit), as in the attack.
    for (let i = 1; i <= 3; i++) {
      const n = await pub.publish('/0.celeryev/task.multi', 'x'.repeat(33 * MB));
      expect(n).toBe(1); // Redis accepted it for our subscriber, then closed the subscriber
      await waitFor(dropped, (d) => d === i, { timeoutMs: 20_000, what: `drop ${i} counted` });
      await waitFor(subscribed, (s) => s, { what: 'subscribed again' });
    }
    const warn = logLines(e.output()).filter((l) => /^events lost: Redis dropped the event subscription/.test(String(l['msg'])));
    expect(warn).toHaveLength(3);
    for (const w of warn) expect(String(w['cause'])).toMatch(/larger than client-output-buffer-limit pubsub/);
    expect(ready().slice(1).every((l) => !/CLIENT KILL/.test(String(l['msg'])))).toBe(true);

    const id = (await clientList(pub, 'pubsub')).find((c) => c['name'] === 'celery-exporter:events')!['id']!;
    await pub.call('CLIENT', 'KILL', 'ID', id);
    await waitFor(async () => ready().length, (n) => n === 5, { what: 'back after the kill' });
    expect(String(ready().pop()!['msg'])).toMatch(/closed by CLIENT KILL \(counted in INFO commandstats\)/);
    expect(await dropped()).toBe(3);
  }, 120_000);
});
