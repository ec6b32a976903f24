import { expect } from 'vitest';
import { celeryCli } from './celery.js';
import { select, value, type Sample } from './metrics.js';

type Obj = Record<string, any>;

/** `celery -A tasks inspect <method> --json` against the test broker, parsed. */
export async function celeryInspect(brokerUrl: string, method: string, extra: string[] = []): Promise<Obj> {
  const { stdout } = await celeryCli(brokerUrl, ['inspect', method, '--json', ...extra]);
  return JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as Obj;
}

/** What Celery's own inspect reports about the workers, read twice around the exporter's values. */
export interface CeleryView {
  stats: Obj;
  reserved: Obj;
  scheduled: Obj;
  activeQueues: Obj;
  active: Obj;
}

export async function celeryView(brokerUrl: string): Promise<CeleryView> {
  return {
    stats: await celeryInspect(brokerUrl, 'stats'),
    reserved: await celeryInspect(brokerUrl, 'reserved'),
    scheduled: await celeryInspect(brokerUrl, 'scheduled'),
    activeQueues: await celeryInspect(brokerUrl, 'active_queues'),
    active: await celeryInspect(brokerUrl, 'active'),
  };
}

/** True once the exporter's counters have moved past Celery's first reading (a round after it). */
export function freshAfter(s: Sample[], before: CeleryView, workers: readonly string[]): boolean {
  return workers.every((w) => {
    const up = select(s, 'celery_worker_uptime_seconds', { hostname: w })[0]?.value;
    return up !== undefined && up >= before.stats[w].uptime + 1;
  });
}

/**
 * Every inspect metric equals what Celery reports for the same workers. Values that move
 * (uptime, CPU, peak RSS) must lie between Celery's reading before and after the scrape.
 */
export function expectMetricsMatchCelery(s: Sample[], before: CeleryView, after: CeleryView, workers: readonly string[]): void {
  for (const w of workers) {
    const h = { hostname: w };
    const st = before.stats[w];
    const st2 = after.stats[w];
    expect(st, `celery stats of ${w}`).toBeDefined();
    expect(value(s, 'celery_worker_pool_max_concurrency', h)).toBe(st.pool['max-concurrency']);
    expect(value(s, 'celery_worker_pool_processes', h)).toBe(st.pool.processes.length);
    expect(value(s, 'celery_worker_prefetch_count', h)).toBe(st.prefetch_count);
    expect(st2.prefetch_count).toBe(st.prefetch_count);
    expect(value(s, 'celery_worker_tasks_reserved', h)).toBe(before.reserved[w].length);
    expect(value(s, 'celery_worker_tasks_scheduled', h)).toBe(before.scheduled[w].length);
    between(value(s, 'celery_worker_uptime_seconds', h), st.uptime, st2.uptime, `uptime of ${w}`);
    between(value(s, 'celery_worker_cpu_user_seconds_total', h), st.rusage.utime, st2.rusage.utime, `utime of ${w}`);
    between(value(s, 'celery_worker_cpu_system_seconds_total', h), st.rusage.stime, st2.rusage.stime, `stime of ${w}`);
    // Linux ru_maxrss is KiB.
    between(value(s, 'celery_worker_max_resident_memory_bytes', h), st.rusage.maxrss * 1024, st2.rusage.maxrss * 1024, `maxrss of ${w}`);
    expect(value(s, 'celery_worker_ping_success', h)).toBe(1);
    const rtt = value(s, 'celery_worker_ping_duration_seconds', h);
    expect(rtt).toBeGreaterThan(0);
    expect(rtt).toBeLessThan(5);
  }
  const queues = new Map<string, { workers: number; processes: number }>();
  for (const w of workers) {
    for (const q of before.activeQueues[w] as Array<{ name: string }>) {
      const e = queues.get(q.name) ?? { workers: 0, processes: 0 };
      e.workers += 1;
      e.processes += before.stats[w].pool.processes.length;
      queues.set(q.name, e);
    }
  }
  expect(queues.size).toBeGreaterThan(0);
  for (const [q, e] of queues) {
    expect(value(s, 'celery_active_worker_count', { queue_name: q }), `workers on ${q}`).toBe(e.workers);
    expect(value(s, 'celery_active_process_count', { queue_name: q }), `processes on ${q}`).toBe(e.processes);
  }
}

/** Heartbeat `active` ÷ pool size, against `inspect active` ÷ stats max-concurrency. */
export function expectUtilizationMatchesCelery(s: Sample[], view: CeleryView, workers: readonly string[]): void {
  for (const w of workers) {
    expect(value(s, 'celery_worker_pool_utilization_ratio', { hostname: w }), `utilisation of ${w}`).toBe(
      view.active[w].length / view.stats[w].pool['max-concurrency'],
    );
  }
}

function between(v: number, lo: number, hi: number, what: string): void {
  expect(v, `${what}: ${v} not in [${lo}, ${hi}]`).toBeGreaterThanOrEqual(lo);
  expect(v, `${what}: ${v} not in [${lo}, ${hi}]`).toBeLessThanOrEqual(hi);
}

/** Volatile fields of a reply, by method: they must exist on both sides, their values may differ. */
const VOLATILE: Record<string, string[][]> = {
  stats: [['uptime'], ['clock'], ['rusage'], ['pool', 'writes']],
};

/**
 * Our `inspect --json` against Celery's: the same nodes, the same keys everywhere, the same
 * values except the few that change between two calls.
 */
export function expectSameInspectJson(method: string, ours: Obj, theirs: Obj): void {
  expect(Object.keys(ours).sort(), `${method}: nodes`).toEqual(Object.keys(theirs).sort());
  const vol = VOLATILE[method] ?? [];
  const strip = (node: Obj) => {
    const copy = structuredClone(node) as Obj;
    for (const path of vol) {
      let o: Obj = copy;
      for (const k of path.slice(0, -1)) o = o?.[k];
      const last = path[path.length - 1]!;
      if (o !== undefined && o !== null && last in o) o[last] = '<volatile>';
    }
    return copy;
  };
  for (const n of Object.keys(ours)) {
    expect(keysDeep(ours[n]), `${method}: keys of ${n}`).toEqual(keysDeep(theirs[n]));
    expect(strip(ours[n]), `${method}: values of ${n}`).toEqual(strip(theirs[n]));
  }
}

function keysDeep(v: unknown, prefix = ''): string[] {
  if (typeof v !== 'object' || v === null) return [];
  const out: string[] = [];
  for (const [k, x] of Object.entries(v)) {
    const p = Array.isArray(v) ? `${prefix}[]` : `${prefix}.${k}`;
    out.push(p, ...keysDeep(x, p));
  }
  return [...new Set(out)].sort();
}
