import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import yargs from 'yargs';
import { buildCollectors, collectorDeps, COLLECTORS, type CollectorDeps } from '../../src/app/collectors.js';
import { buildConfig } from '../../src/config/config.js';
import { daemonOptions } from '../../src/config/options.js';
import type { CollectorSchedule } from '../../src/pollers/collector.js';
import { makeCore } from './core.js';

const log = pino({ level: 'silent' });
let built: CollectorSchedule[] = [];

function build(args: string[]): { schedules: CollectorSchedule[]; seen: Array<(node: string) => void> } {
  const argv = yargs(args).options(daemonOptions).parseSync() as unknown as Parameters<typeof buildConfig>[0];
  const cfg = buildConfig(argv);
  const seen: Array<(node: string) => void> = [];
  const deps: CollectorDeps = { ...collectorDeps(makeCore()), onWorkerSeen: (listener) => seen.push(listener) };
  // Nothing connects while building: the clients connect on their first round.
  built = buildCollectors(cfg, deps, log);
  return { schedules: built, seen };
}

const names = (s: CollectorSchedule[]) => s.map((x) => x.collector.name);

afterEach(async () => {
  await Promise.all(built.map((s) => s.collector.close?.()));
  built = [];
});

describe('the collector table', () => {
  it('builds, per broker, the queue collector and the remote-control ones, in table order', () => {
    expect(names(build(['--broker-url', 'redis://127.0.0.1:1/0']).schedules)).toEqual(['redis_queues', 'inspect', 'enable_events']);
    expect(names(build(['--broker-url', 'amqp://127.0.0.1:1//']).schedules)).toEqual(['amqp_queues', 'inspect', 'enable_events']);
    const mgmt = ['--broker-url', 'amqp://127.0.0.1:1//', '--rabbitmq-management-url', 'http://127.0.0.1:1'];
    expect(names(build(mgmt).schedules)).toEqual(['rabbitmq_management', 'inspect', 'enable_events']);
  });

  it('leaves out what the flags turn off', () => {
    expect(names(build(['--broker-url', 'redis://127.0.0.1:1/0', '--no-inspect-metrics']).schedules)).toEqual(['redis_queues', 'enable_events']);
    const { schedules, seen } = build(['--broker-url', 'redis://127.0.0.1:1/0', '--no-inspect-metrics', '--no-enable-events']);
    expect(names(schedules)).toEqual(['redis_queues']);
    expect(seen).toHaveLength(0);
  });

  it('names each row as the collector it builds (the poller label), and each name once', () => {
    build(['--broker-url', 'redis://127.0.0.1:1/0']);
    const rows = COLLECTORS.map((r) => r.name);
    expect(new Set(rows).size).toBe(rows.length);
    for (const s of built) expect(rows).toContain(s.collector.name);
  });

  it('times the queue collectors by the queue flags (on demand too) and the remote-control ones by theirs', () => {
    const { schedules, seen } = build([
      '--broker-url', 'redis://127.0.0.1:1/0',
      '--queue-poll-interval', '7', '--queue-poll-timeout', '3', '--queue-min-poll-interval', '2',
      '--inspect-poll-interval', '11', '--inspect-poll-timeout', '4', '--enable-events-interval', '90',
    ]);
    const timing = Object.fromEntries(schedules.map((s) => [s.collector.name, [s.intervalMs, s.timeoutMs, s.minIntervalMs]]));
    expect(timing).toEqual({ redis_queues: [7000, 3000, 2000], inspect: [11_000, 4000, undefined], enable_events: [90_000, 4000, undefined] });
    // enable_events on sight: subscribed to "a worker was first seen".
    expect(seen).toHaveLength(1);
  });
});
