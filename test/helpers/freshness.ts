import type { Exporter } from './exporter.js';
import { parseMetrics, select, waitFor } from './metrics.js';

/** Seconds from `since` (ms) until a scrape shows `queue` at `depth`; scrapes every 100 ms. */
export async function secondsUntilDepth(e: Exporter, queue: string, depth: number, since: number, timeoutMs = 30_000): Promise<number> {
  await waitFor(
    async () => parseMetrics(await e.metrics()),
    (s) => select(s, 'celery_queue_length', { queue_name: queue })[0]?.value === depth,
    { what: `${queue} at ${depth}`, intervalMs: 100, timeoutMs },
  );
  return (Date.now() - since) / 1000;
}

export interface AgeFigures {
  scrapes: number;
  median: number;
  worst: number;
}

/**
 * `concurrency` scrapers hammering /metrics for `seconds`; for each scrape, the age of the queue
 * depth it served: the time the scrape answered minus the start of the poll round that wrote it
 * (celery_exporter_poll_success_timestamp_seconds). Undefined ages (metric absent) are skipped.
 */
export async function scrapeAges(e: Exporter, poller: string, concurrency: number, seconds: number): Promise<AgeFigures> {
  const ages: number[] = [];
  const deadline = Date.now() + seconds * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (Date.now() < deadline) {
        const text = await e.metrics();
        const at = Date.now() / 1000;
        const stamp = select(parseMetrics(text), 'celery_exporter_poll_success_timestamp_seconds', { poller })[0]?.value;
        if (stamp !== undefined) ages.push(at - stamp);
        await new Promise((r) => setTimeout(r, 50));
      }
    }),
  );
  ages.sort((a, b) => a - b);
  return { scrapes: ages.length, median: ages[Math.floor(ages.length / 2)] ?? NaN, worst: ages[ages.length - 1] ?? NaN };
}
