import { connect, type Socket } from 'node:net';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REDIS_DB, redisUrl } from '../helpers/brokers.js';
import { startExporter, type Exporter } from '../helpers/exporter.js';
import { httpGet, rssBytes } from '../helpers/http-client.js';
import { waitFor } from '../helpers/metrics.js';
import { envelope } from '../unit/fixtures.js';

/**
 * /metrics under scrape load (issue 11, item 8): clients that never read used to get the whole
 * exposition buffered in the exporter (200 such clients on 20k series added 1.3 GB of RSS), and
 * many parallel scrapes starved /healthz. Here: a ~5 MB exposition (4,000 task names, and a
 * long static label on every line).
 */
const NAMES = 4000;
let e: Exporter;
let expositionBytes = 0;
const sockets: Socket[] = [];

beforeAll(async () => {
  e = await startExporter(['--broker-url', redisUrl(REDIS_DB.cli), '--max-task-names', '0', '--static-label', `pad=${'p'.repeat(1000)}`]);
  await waitFor(() => fetch(`${e.url}/readyz`).then((r) => r.status), (s) => s === 200, { what: 'readyz' });
  const pub = new Redis(redisUrl(REDIS_DB.cli));
  const p = pub.pipeline();
  for (let i = 0; i < NAMES; i++) {
    const uuid = `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`;
    const body = { hostname: 'gen1@load', utcoffset: 0, pid: 1, clock: i, uuid, name: `load.task_${i}`, queue: 'celery', timestamp: Date.now() / 1000, type: 'task-sent' };
    p.publish(`/${REDIS_DB.cli}.celeryev/task.sent`, envelope(body, 'task.sent', 'gen1@load'));
  }
  await p.exec();
  pub.disconnect();
  const text = await waitFor(() => e.metrics(), (t) => t.includes(`load.task_${NAMES - 1}"`), { what: 'every task name exported' });
  expositionBytes = Buffer.byteLength(text);
});

afterAll(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await e?.stop();
});

describe('scrape load', () => {
  it('holds little memory for 100 clients that never read the exposition', async () => {
    const before = rssBytes(e.proc.pid!);
    for (let i = 0; i < 100; i++) {
      const s = connect(e.port, '127.0.0.1', () => s.write('GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n'));
      s.pause(); // never read: the kernel's receive buffer fills, then the exporter's send side
      s.on('error', () => undefined);
      sockets.push(s);
    }
    let peak = before;
    for (let i = 0; i < 50; i++) {
      await new Promise((r) => setTimeout(r, 200));
      peak = Math.max(peak, rssBytes(e.proc.pid!));
    }
    const grew = (peak - before) / 1048576;
    console.log(`100 non-reading scrapers of a ${(expositionBytes / 1048576).toFixed(1)} MB exposition: RSS ${(before / 1048576).toFixed(0)} → ${(peak / 1048576).toFixed(0)} MB peak (+${grew.toFixed(0)} MB)`);
    // Everything buffered would be 100 × the exposition; each stalled client holds about one chunk.
    expect(grew).toBeLessThan(100 * (expositionBytes / 1048576) * 0.2);
    // The others are still served meanwhile.
    expect((await httpGet(`${e.url}/healthz`, { timeoutMs: 5000 })).status).toBe(200);
    const full = await httpGet(`${e.url}/metrics`, { timeoutMs: 60_000 });
    expect(full.status).toBe(200);
    expect(Buffer.byteLength(full.body)).toBeGreaterThan(expositionBytes * 0.9);
    for (const s of sockets.splice(0)) s.destroy();
  });

  it('keeps the event loop (and /healthz) answering during 100 parallel reading scrapes', async () => {
    const scrapes = await Promise.all(Array.from({ length: 100 }, () => httpGet(`${e.url}/metrics`, { timeoutMs: 300_000 })));
    expect(scrapes.every((s) => s.status === 200 && Buffer.byteLength(s.body) > expositionBytes * 0.9)).toBe(true);
    // Each scrape reports the longest stall since the previous one: their maximum covers the load.
    // (The exporter's own figure: a prober in this process would measure this process's stalls.)
    const lags = scrapes.map((s) => Number(/^nodejs_eventloop_lag_max_seconds\{[^}]*\} (\S+)$/m.exec(s.body)?.[1]));
    const max = Math.max(...lags);
    const probe = await httpGet(`${e.url}/healthz`, { timeoutMs: 5000 });
    console.log(`100 parallel scrapes of ${(expositionBytes / 1048576).toFixed(1)} MB: event-loop stall max ${(max * 1000).toFixed(0)} ms; /healthz right after ${probe.ms.toFixed(0)} ms`);
    expect(lags.every((l) => Number.isFinite(l))).toBe(true);
    // Two renders at a time, ~64 KB per turn: a probe waits for a few ms of rendering, not 100 renders' worth.
    expect(max).toBeLessThan(1);
  });
});
