import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { RateLimitedLog } from '../../src/log.js';
import type { NodeReply, RemoteControl } from '../../src/remote/client.js';
import { STARTUP_GRACE_MS, type InspectRound } from '../../src/remote/inspect-poller.js';
import { collectorDeps, inspectPollerFor } from '../../src/app/collectors.js';
import { LabelPolicy } from '../../src/state/labels.js';
import { select, value } from '../helpers/metrics.js';
import { makeCore, testConfig, type TestCore } from './core.js';
import { capturedPidbox, nodeReplies } from './pidbox-fixtures.js';

const KiB = 1024;

function poller(t: TestCore, opts: { purgeAfterMs?: number; strip?: boolean } = {}) {
  return inspectPollerFor(
    collectorDeps(t),
    {} as RemoteControl,
    new LabelPolicy({ stripHostnamePrefix: opts.strip ?? false, maxLength: 200 }),
    new RateLimitedLog(pino({ level: 'silent' })),
    { replyTimeoutMs: 1000, purgeAfterMs: opts.purgeAfterMs ?? 600_000 },
    () => t.clock.now,
  );
}

function capturedRound(kind: 'redis' | 'amqp'): InspectRound {
  const data = capturedPidbox(kind);
  return {
    ping: nodeReplies(kind, 'ping', data),
    stats: nodeReplies(kind, 'stats', data),
    activeQueues: nodeReplies(kind, 'active_queues', data),
    reserved: nodeReplies(kind, 'reserved', data),
    scheduled: nodeReplies(kind, 'scheduled', data),
  };
}

function statsOf(round: InspectRound, host: string): Record<string, any> {
  return round.stats.find((r) => r.hostname === host)!.value as Record<string, any>;
}

describe('inspect replies of real workers → worker pool metrics', () => {
  for (const kind of ['redis', 'amqp'] as const) {
    it(`${kind}: prefork, threads and solo workers each report what their pool has`, () => {
      const t = makeCore();
      const round = capturedRound(kind);
      poller(t).apply(round);
      const s = t.samples();
      for (const host of ['prefork@capture', 'threads@capture', 'solo@capture']) {
        const st = statsOf(round, host);
        const h = { hostname: host };
        expect(value(s, 'celery_worker_pool_max_concurrency', h)).toBe(st['pool']['max-concurrency']);
        expect(value(s, 'celery_worker_prefetch_count', h)).toBe(st['prefetch_count']);
        expect(value(s, 'celery_worker_uptime_seconds', h)).toBe(st['uptime']);
        expect(value(s, 'celery_worker_cpu_user_seconds_total', h)).toBe(st['rusage']['utime']);
        expect(value(s, 'celery_worker_cpu_system_seconds_total', h)).toBe(st['rusage']['stime']);
        // No heartbeat seen yet, so the OS is unknown: Linux's KiB is assumed.
        expect(value(s, 'celery_worker_max_resident_memory_bytes', h)).toBe(st['rusage']['maxrss'] * KiB);
        expect(value(s, 'celery_worker_ping_success', h)).toBe(1);
        expect(value(s, 'celery_worker_ping_duration_seconds', h)).toBe(0.005);
      }
      expect(value(s, 'celery_worker_pool_processes', { hostname: 'prefork@capture' })).toBe(2);
      // One series per (worker, queue it consumes), from active_queues.
      for (const r of round.activeQueues) {
        const names = (r.value as Array<{ name: string }>).map((q) => q.name).sort();
        expect(select(s, 'celery_worker_queue_info', { hostname: r.hostname }).map((x) => x.labels['queue_name']).sort()).toEqual(names);
      }
      expect(value(s, 'celery_worker_pool_processes', { hostname: 'solo@capture' })).toBe(1);
      // The threads pool has no processes: no series rather than a wrong 0.
      expect(select(s, 'celery_worker_pool_processes', { hostname: 'threads@capture' })).toEqual([]);
      expect(value(s, 'celery_worker_pool_max_concurrency', { hostname: 'threads@capture' })).toBe(3);

      // The capture's workload: prefork has 1 reserved and 1 ETA task, solo 1 ETA task.
      expect(value(s, 'celery_worker_tasks_reserved', { hostname: 'prefork@capture' })).toBe(1);
      expect(value(s, 'celery_worker_tasks_reserved', { hostname: 'threads@capture' })).toBe(0);
      expect(value(s, 'celery_worker_tasks_scheduled', { hostname: 'prefork@capture' })).toBe(1);
      expect(value(s, 'celery_worker_tasks_scheduled', { hostname: 'solo@capture' })).toBe(1);

      // Queues: cap-shared is consumed by prefork (2 processes) and threads (none).
      expect(value(s, 'celery_active_worker_count', { queue_name: 'cap-shared' })).toBe(2);
      expect(value(s, 'celery_active_process_count', { queue_name: 'cap-shared' })).toBe(2);
      expect(value(s, 'celery_active_worker_count', { queue_name: 'cap-b' })).toBe(1);
      expect(value(s, 'celery_active_process_count', { queue_name: 'cap-b' })).toBe(0);
      expect(value(s, 'celery_active_process_count', { queue_name: 'cap-c' })).toBe(1);
      expect(t.state.queues.sources('cap-a')?.has('worker')).toBe(true);
      expect(t.state.queues.list().sort()).toEqual(['cap-a', 'cap-b', 'cap-c', 'cap-shared']);
    });
  }

  it('utilisation = heartbeat active ÷ max-concurrency, refreshed at each scrape', () => {
    const t = makeCore();
    const p = poller(t);
    const hb = (active: number) =>
      t.feed({ type: 'worker-heartbeat', hostname: 'prefork@capture', freq: 2, active, processed: 3, timestamp: t.clock.now / 1000, sw_sys: 'Linux' });
    hb(1);
    p.apply(capturedRound('redis'));
    expect(value(t.samples(), 'celery_worker_pool_utilization_ratio', { hostname: 'prefork@capture' })).toBe(0.5);
    hb(2);
    expect(value(t.samples(), 'celery_worker_pool_utilization_ratio', { hostname: 'prefork@capture' })).toBe(1);
    // Workers without heartbeats have no utilisation (no data, not 0).
    expect(select(t.samples(), 'celery_worker_pool_utilization_ratio', { hostname: 'solo@capture' })).toEqual([]);
  });

  it('max RSS is taken as bytes for macOS workers (ru_maxrss units differ by OS)', () => {
    const t = makeCore();
    t.feed({ type: 'worker-heartbeat', hostname: 'solo@capture', freq: 2, active: 0, timestamp: t.clock.now / 1000, sw_ident: 'py-celery', sw_ver: '5.2.6', sw_sys: 'Darwin' });
    const round = capturedRound('redis');
    poller(t).apply(round);
    expect(value(t.samples(), 'celery_worker_max_resident_memory_bytes', { hostname: 'solo@capture' })).toBe(
      statsOf(round, 'solo@capture')['rusage']['maxrss'],
    );
  });

  it('a worker that stops answering loses its inspect series; known workers keep ping_success 0', () => {
    const t = makeCore();
    const p = poller(t);
    const full = capturedRound('redis');
    p.apply(full);
    const without = (rs: readonly NodeReply[]) => rs.filter((r) => r.hostname !== 'solo@capture');
    t.clock.now += 15_000;
    p.apply({ ping: without(full.ping), stats: without(full.stats), activeQueues: without(full.activeQueues), reserved: without(full.reserved), scheduled: without(full.scheduled) });
    const s = t.samples();
    const solo = { hostname: 'solo@capture' };
    expect(value(s, 'celery_worker_ping_success', solo)).toBe(0);
    for (const name of ['celery_worker_pool_max_concurrency', 'celery_worker_tasks_reserved', 'celery_worker_uptime_seconds', 'celery_worker_ping_duration_seconds', 'celery_worker_cpu_user_seconds_total']) {
      expect(select(s, name, solo), name).toEqual([]);
    }
    // Its queue now has no consumer: 0, not absent.
    expect(value(s, 'celery_active_worker_count', { queue_name: 'cap-c' })).toBe(0);
    // Its queue membership goes with it (celery_worker_queue_info joins workers to queues).
    expect(select(s, 'celery_worker_queue_info', solo)).toEqual([]);
    expect(select(s, 'celery_worker_queue_info', { hostname: 'prefork@capture' }).length).toBeGreaterThan(0);
    expect(value(s, 'celery_worker_ping_success', { hostname: 'prefork@capture' })).toBe(1);
  });

  it('a worker just announced by events gets a startup grace before ping_success says 0', () => {
    const t = makeCore();
    const p = poller(t);
    const empty: InspectRound = { ping: [], stats: [], activeQueues: [], reserved: [], scheduled: [] };
    t.feed({ type: 'worker-online', hostname: 'new@h', freq: 2, active: 0, timestamp: t.clock.now / 1000 });
    p.apply(empty);
    expect(select(t.samples(), 'celery_worker_ping_success', { hostname: 'new@h' })).toEqual([]);
    t.clock.now += STARTUP_GRACE_MS - 1;
    p.apply(empty);
    expect(select(t.samples(), 'celery_worker_ping_success', { hostname: 'new@h' })).toEqual([]);
    t.clock.now += 1;
    p.apply(empty);
    expect(value(t.samples(), 'celery_worker_ping_success', { hostname: 'new@h' })).toBe(0);
    // Once it has answered, a later silence counts at once.
    const pong: NodeReply = { hostname: 'new@h', value: { ok: 'pong' }, elapsedMs: 3 };
    p.apply({ ...empty, ping: [pong] });
    expect(value(t.samples(), 'celery_worker_ping_success', { hostname: 'new@h' })).toBe(1);
    t.clock.now += 2_000;
    p.apply(empty);
    expect(value(t.samples(), 'celery_worker_ping_success', { hostname: 'new@h' })).toBe(0);
  });

  it('a worker known only from remote control is purged after the purge delay without answers', () => {
    const t = makeCore();
    const p = poller(t, { purgeAfterMs: 60_000 });
    const full = capturedRound('redis');
    p.apply(full);
    const empty: InspectRound = { ping: [], stats: [], activeQueues: [], reserved: [], scheduled: [] };
    t.clock.now += 30_000;
    p.apply(empty);
    expect(value(t.samples(), 'celery_worker_ping_success', { hostname: 'solo@capture' })).toBe(0);
    t.clock.now += 31_000;
    p.apply(empty);
    expect(select(t.samples(), 'celery_worker_ping_success')).toEqual([]);
    // And it stays gone.
    t.clock.now += 15_000;
    p.apply(empty);
    expect(select(t.samples(), 'celery_worker_ping_success')).toEqual([]);
  });

  it('series purged by the event side are not re-created for a silent worker', () => {
    const t = makeCore(testConfig({}, { purgeAfter: 20 }));
    const p = poller(t);
    t.feed({ type: 'worker-online', hostname: 'solo@capture', freq: 2, active: 0, timestamp: t.clock.now / 1000 });
    p.apply(capturedRound('redis'));
    t.feed({ type: 'worker-offline', hostname: 'solo@capture', timestamp: t.clock.now / 1000 });
    t.advance(31_000); // past the event-side purge
    expect(select(t.samples(), 'celery_worker_pool_max_concurrency', { hostname: 'solo@capture' })).toEqual([]);
    p.apply({ ping: [], stats: [], activeQueues: [], reserved: [], scheduled: [] });
    expect(select(t.samples(), 'celery_worker_ping_success', { hostname: 'solo@capture' })).toEqual([]);
  });

  it('error replies and odd shapes leave that worker without series, never throw', () => {
    const t = makeCore();
    const err = (hostname: string): NodeReply => ({ hostname, value: { error: "KeyError('stats')" }, elapsedMs: 1 });
    poller(t).apply({
      ping: [{ hostname: 'odd@h', value: { ok: 'nope' }, elapsedMs: 1 }],
      stats: [err('odd@h'), { hostname: 'x@h', value: 'N/A', elapsedMs: 1 }, { hostname: 'y@h', value: { pool: 'N/A', rusage: 'N/A', uptime: 5 }, elapsedMs: 1 }],
      activeQueues: [err('odd@h'), { hostname: 'x@h', value: [{ nope: 1 }, 'q'], elapsedMs: 1 }],
      reserved: [err('odd@h')],
      scheduled: [{ hostname: 'odd@h', value: {}, elapsedMs: 1 }],
    });
    const s = t.samples();
    expect(value(s, 'celery_worker_ping_success', { hostname: 'odd@h' })).toBe(0);
    expect(select(s, 'celery_worker_pool_max_concurrency')).toEqual([]);
    expect(select(s, 'celery_worker_tasks_reserved')).toEqual([]);
    expect(value(s, 'celery_worker_uptime_seconds', { hostname: 'y@h' })).toBe(5);
    expect(select(s, 'celery_active_worker_count')).toEqual([]);
  });

  it('--strip-hostname-prefix labels inspect series the way event series are labelled', () => {
    const t = makeCore();
    poller(t, { strip: true }).apply(capturedRound('redis'));
    expect(value(t.samples(), 'celery_worker_pool_max_concurrency', { hostname: 'capture' })).toBeGreaterThan(0);
  });

  it('a failed round withdraws every inspect series', () => {
    const t = makeCore();
    const p = poller(t);
    p.apply(capturedRound('redis'));
    p.onFailure();
    const s = t.samples();
    for (const name of ['celery_worker_pool_max_concurrency', 'celery_worker_ping_success', 'celery_active_worker_count']) {
      expect(select(s, name)).toEqual([]);
    }
  });

  it('the purge of a worker removes its inspect series with the rest', () => {
    const t = makeCore();
    poller(t).apply(capturedRound('redis'));
    t.state.purgeHostname('prefork@capture');
    expect(t.samples().filter((x) => x.labels['hostname'] === 'prefork@capture')).toEqual([]);
  });
});
