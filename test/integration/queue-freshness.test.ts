import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startProxy } from '../helpers/blackhole-proxy.js';
import { flushDb, REDIS_DB, redisUrl } from '../helpers/brokers.js';
import { sendWorkload } from '../helpers/celery.js';
import { startExporter, type Exporter } from '../helpers/exporter.js';
import { scrapeAges, secondsUntilDepth } from '../helpers/freshness.js';
import { uid } from '../helpers/ids.js';
import { parseMetrics, value, waitFor } from '../helpers/metrics.js';

/**
 * Queue depth as of the scrape (not of the last --queue-poll-interval, 15 s by default), against
 * a real Redis and a real Celery producer, with default flags: a task-sent event triggers a poll
 * soon after, a scrape finding the last poll older than --queue-min-poll-interval (2 s) triggers
 * one, and however many scrapers, the broker sees at most one round per 2 s.
 */
const id = uid();
const DB = REDIS_DB.queueFreshness;
const url = redisUrl(DB);
const PARKED = `fresh-${id}`; // nobody consumes it

let exporter: Exporter;
let redis: Redis;

/** Queue rounds the exporter ran against this Redis: one HLEN of the unacked hash per round. */
async function hlenCalls(): Promise<number> {
  const m = /cmdstat_hlen:calls=(\d+)/.exec(await redis.info('commandstats'));
  return Number(m?.[1] ?? 0);
}

describe('fresh queue depth on Redis, default flags', () => {
  beforeAll(async () => {
    await flushDb(DB);
    redis = new Redis(url);
    exporter = await startExporter(['--broker-url', url]);
    await waitFor(() => fetch(`${exporter.url}/readyz`).then((r) => r.status), (s) => s === 200, { what: 'readyz' });
    // The first round (at start) is done.
    await waitFor(async () => parseMetrics(await exporter.metrics()), (s) => value(s, 'celery_exporter_poll_duration_seconds', { poller: 'redis_queues' }) >= 0, {
      what: 'a first queue round',
    });
  });

  afterAll(async () => {
    await exporter?.stop();
    redis?.disconnect();
  });

  it('shows 5 tasks within a few seconds of their sending, and 10 after 5 more', async () => {
    let t0 = Date.now();
    await sendWorkload(url, ['add', PARKED, '5']);
    const first = await secondsUntilDepth(exporter, PARKED, 5, t0);
    t0 = Date.now();
    await sendWorkload(url, ['add', PARKED, '5']);
    const second = await secondsUntilDepth(exporter, PARKED, 10, t0);
    console.log(`queue freshness (redis): 5 visible ${first.toFixed(1)} s after the send started, 10 visible ${second.toFixed(1)} s after (incl. the producer's start)`);
    // The producer (a Python process) takes ~1–2 s of that; the poll interval is 15 s.
    expect(first).toBeLessThan(6);
    expect(second).toBeLessThan(6);
  });

  it('polls the broker at most once per 2 s however many scrape, and serves depth at most ~2 s old', async () => {
    // Outside any task-sent nudge: the last send is over.
    await new Promise((r) => setTimeout(r, 2500));
    const before = await hlenCalls();
    const t0 = Date.now();
    const ages = await scrapeAges(exporter, 'redis_queues', 10, 8);
    const seconds = (Date.now() - t0) / 1000;
    const rounds = (await hlenCalls()) - before;
    console.log(
      `queue freshness (redis): ${ages.scrapes} scrapes by 10 scrapers in ${seconds.toFixed(1)} s → ${rounds} broker rounds; ` +
        `age of the depth served: median ${ages.median.toFixed(2)} s, worst ${ages.worst.toFixed(2)} s`,
    );
    expect(ages.scrapes).toBeGreaterThan(100);
    expect(rounds).toBeGreaterThanOrEqual(2);
    expect(rounds).toBeLessThanOrEqual(Math.ceil(seconds / 2) + 1);
    // 2 s minimum + the round itself + scheduling on a busy machine.
    expect(ages.worst).toBeLessThan(3.5);
    const s = parseMetrics(await exporter.metrics());
    expect(value(s, 'celery_exporter_poll_on_demand_total', { poller: 'redis_queues', trigger: 'scrape' })).toBeGreaterThanOrEqual(2);
    expect(value(s, 'celery_exporter_scrape_refresh_timeouts_total', { poller: 'redis_queues' })).toBe(0);
  });
});

describe('a broker that stops answering', () => {
  it('never holds a scrape longer than --queue-scrape-wait: it serves the last depth and counts it', async () => {
    const target = new URL(url);
    const proxy = await startProxy({ host: target.hostname, port: Number(target.port) });
    const e = await startExporter(['--broker-url', `redis://127.0.0.1:${proxy.port}${target.pathname}`, '--queues', PARKED]);
    try {
      await waitFor(async () => parseMetrics(await e.metrics()), (s) => value(s, 'celery_queue_length', { queue_name: PARKED }) === 10, { what: 'depth 10' });
      proxy.setBlackhole(true);
      await new Promise((r) => setTimeout(r, 2100));
      const times: number[] = [];
      let s = parseMetrics('');
      for (let i = 0; i < 3; i++) {
        const t0 = Date.now();
        s = parseMetrics(await e.metrics());
        times.push((Date.now() - t0) / 1000);
      }
      console.log(`queue freshness: scrapes while the broker is silent took ${times.map((t) => t.toFixed(2)).join(', ')} s (wait bound 1 s)`);
      // Within the 10 s poll timeout the last value stays (the round has not failed yet).
      expect(value(s, 'celery_queue_length', { queue_name: PARKED })).toBe(10);
      for (const t of times) expect(t).toBeLessThan(2.5);
      expect(value(s, 'celery_exporter_scrape_refresh_timeouts_total', { poller: 'redis_queues' })).toBeGreaterThanOrEqual(2);
    } finally {
      proxy.setBlackhole(false);
      await e.stop();
      await proxy.close();
    }
  });
});
