import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StatePersister } from '../../src/continuity/persister.js';
import { fingerprint, persistedCounters, persistedHistograms } from '../../src/continuity/snapshot.js';
import { VERSION, writeStateFile } from '../../src/continuity/state-file.js';
import { select, value } from '../helpers/metrics.js';
import { makeCore, testConfig, type TestCore } from './core.js';

const T0 = 1_795_681_000; // the fake clock's start, in seconds

/** A logger that keeps its lines, to check what an operator would read. */
function memoryLog() {
  const lines: Array<Record<string, unknown>> = [];
  const log = pino({ level: 'info' }, { write: (s: string) => lines.push(JSON.parse(s) as Record<string, unknown>) });
  return { log, lines };
}

function persisterFor(t: TestCore, path: string, log = pino({ level: 'silent' }), scrapeMinIntervalMs = 0) {
  return new StatePersister(t.metrics.registry, t, log, { path, fingerprint: fingerprint(t, {}), saveIntervalMs: 30_000, scrapeMinIntervalMs }, () => t.clock.now);
}

/** 10 tasks done, one running since T0+5, one worker heartbeating. */
function busyCore(): TestCore {
  const t = makeCore();
  t.feed({ type: 'worker-online', hostname: 'w1@h', timestamp: T0, freq: 2 });
  for (let i = 0; i < 10; i++) {
    const uuid = `done-${i}`;
    t.feed({ type: 'task-sent', uuid, name: 'app.add', queue: 'q1', timestamp: T0, hostname: 'producer@p' });
    t.feed({ type: 'task-received', uuid, name: 'app.add', timestamp: T0 + 1, hostname: 'w1@h' });
    t.feed({ type: 'task-started', uuid, timestamp: T0 + 2, hostname: 'w1@h' });
    t.feed({ type: 'task-succeeded', uuid, runtime: 0.5 + i, timestamp: T0 + 3, hostname: 'w1@h' });
  }
  t.feed({ type: 'task-sent', uuid: 'long', name: 'app.sleep', queue: 'q1', timestamp: T0 + 4, hostname: 'producer@p' });
  t.feed({ type: 'task-received', uuid: 'long', name: 'app.sleep', timestamp: T0 + 4, hostname: 'w1@h' });
  t.feed({ type: 'task-started', uuid: 'long', timestamp: T0 + 5, hostname: 'w1@h' });
  // Revoked and rejected ones (celery_task_revocations_total, celery_task_rejections_total).
  t.feed({ type: 'task-sent', uuid: 'rv', name: 'app.add', queue: 'q1', timestamp: T0 + 4, hostname: 'producer@p' });
  t.feed({ type: 'task-revoked', uuid: 'rv', terminated: true, timestamp: T0 + 4, hostname: 'w1@h' });
  t.feed({ type: 'task-sent', uuid: 'rj', name: 'app.add', queue: 'q1', timestamp: T0 + 4, hostname: 'producer@p' });
  t.feed({ type: 'task-received', uuid: 'rj', name: 'app.add', timestamp: T0 + 4, hostname: 'w1@h' });
  t.feed({ type: 'task-rejected', uuid: 'rj', requeue: false, timestamp: T0 + 4, hostname: 'w1@h' });
  t.feed({ type: 'worker-heartbeat', hostname: 'w1@h', timestamp: T0 + 6, freq: 2, active: 1, processed: 10, loadavg: [0.5, 0.25, 0.1] });
  t.advance(2000);
  return t;
}

/** The persisted part of an exposition (task counters and histograms, worker gauges), sorted. */
function persisted(t: TestCore): string[] {
  const families = new Set([...persistedCounters(t), ...persistedHistograms(t)].map((f) => f.name));
  const base = (name: string) => name.replace(/_(bucket|sum|count)$/, '');
  return t
    .samples()
    .filter((s) => families.has(s.name) || families.has(base(s.name)) || s.name.startsWith('celery_worker_'))
    .map((s) => `${s.name}${JSON.stringify(s.labels)} ${s.value}`)
    .sort();
}

describe('state file', () => {
  let dir: string;
  let path: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'state-'));
    path = join(dir, 'state.json');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('restores counters, histograms, the worker table and in-flight tasks exactly', () => {
    const a = busyCore();
    expect(persisterFor(a, path).save('shutdown')).toBe(true);
    const b = makeCore(testConfig(), a.clock.now + 10_000);
    persisterFor(b, path).load();
    expect(persisted(b)).toEqual(persisted(a));
    expect(value(b.samples(), 'celery_task_succeeded_total', { name: 'app.add' })).toBe(10);
    expect(value(b.samples(), 'celery_task_revocations_total', { name: 'app.add', reason: 'terminated' })).toBe(1);
    expect(value(b.samples(), 'celery_task_rejections_total', { name: 'app.add', reason: 'discard' })).toBe(1);
    expect(b.state.tracker.size).toBe(1);
    // The running task keeps its age, and finishing it observes its runtime under its own name.
    expect(value(b.samples(), 'celery_task_oldest_active_age_seconds', { name: 'app.sleep', queue_name: 'q1' })).toBeCloseTo(b.clock.now / 1000 - (T0 + 5), 3);
    b.feed({ type: 'task-succeeded', uuid: 'long', runtime: 20, timestamp: T0 + 25, hostname: 'w1@h' });
    expect(value(b.samples(), 'celery_task_runtime_seconds_count', { name: 'app.sleep', queue_name: 'q1', state: 'succeeded' })).toBe(1);
    expect(select(b.samples(), 'celery_task_runtime_seconds_count', { name: 'unknown' })).toEqual([]);
    // The worker was up: it gets a heartbeat window from the restart, not from its last heartbeat.
    expect(value(b.samples(), 'celery_worker_up', { hostname: 'w1@h' })).toBe(1);
  });

  it('a task sent and received before the save, started after the restore, observes its queue wait once and its prefetch wait from its ETA', () => {
    const a = makeCore();
    const eta = new Date((T0 + 10) * 1000).toISOString();
    a.feed({ type: 'task-sent', uuid: 'e', name: 'app.later', queue: 'q1', eta, timestamp: T0, hostname: 'producer@p' });
    a.feed({ type: 'task-received', uuid: 'e', name: 'app.later', eta, timestamp: T0 + 1, hostname: 'w1@h' });
    a.advance(2000);
    persisterFor(a, path).save('shutdown');
    const b = makeCore(testConfig(), a.clock.now + 5_000);
    persisterFor(b, path).load();
    b.feed({ type: 'task-started', uuid: 'e', timestamp: T0 + 12, hostname: 'w1@h' });
    const l = { name: 'app.later', queue_name: 'q1' };
    expect(value(b.samples(), 'celery_task_queue_wait_seconds_count', l)).toBe(1);
    expect(value(b.samples(), 'celery_task_queue_wait_seconds_sum', l)).toBeCloseTo(2, 6); // from the ETA
    expect(value(b.samples(), 'celery_task_prefetch_wait_seconds_count', l)).toBe(1);
    expect(value(b.samples(), 'celery_task_prefetch_wait_seconds_sum', l)).toBeCloseTo(2, 6); // not 11 (from task-received)
  });

  it('a retried task keeps its attempt bookkeeping across a restart', () => {
    const a = makeCore();
    a.feed({ type: 'task-sent', uuid: 'r', name: 'app.flaky', queue: 'q1', timestamp: T0, hostname: 'producer@p' });
    a.feed({ type: 'task-received', uuid: 'r', name: 'app.flaky', retries: 0, timestamp: T0 + 1, hostname: 'w1@h' });
    a.feed({ type: 'task-started', uuid: 'r', timestamp: T0 + 2, hostname: 'w1@h' });
    a.feed({ type: 'task-retried', uuid: 'r', timestamp: T0 + 3, hostname: 'w1@h' });
    a.feed({ type: 'task-sent', uuid: 'r', name: 'app.flaky', queue: 'q1', retries: 1, timestamp: T0 + 3, hostname: 'w1@h' });
    a.feed({ type: 'task-received', uuid: 'r', name: 'app.flaky', retries: 1, timestamp: T0 + 4, hostname: 'w1@h' });
    persisterFor(a, path).save('shutdown');
    const b = makeCore(testConfig(), a.clock.now + 5_000);
    persisterFor(b, path).load();
    expect(b.state.tracker.get('r')).toMatchObject({ sentAttempt: 1, attempt: 1, retried: 1, sent: T0 + 3 });
    b.feed({ type: 'task-started', uuid: 'r', timestamp: T0 + 6, hostname: 'w1@h' });
    const l = { name: 'app.flaky', queue_name: 'q1' };
    expect(value(b.samples(), 'celery_task_queue_wait_seconds_count', l)).toBe(2); // one restored, one now
    expect(value(b.samples(), 'celery_task_queue_wait_seconds_sum', l)).toBeCloseTo(2 + 3, 6);
  });

  it('exception classes restored from the state file keep their places under --max-exception-classes', () => {
    const cfg = testConfig({ maxExceptionClasses: 2 });
    const a = makeCore(cfg);
    a.feed({ type: 'task-failed', uuid: 'f1', exception: "KeyError('x')", timestamp: T0, hostname: 'w1@h' });
    a.feed({ type: 'task-failed', uuid: 'f2', exception: "ValueError('y')", timestamp: T0, hostname: 'w1@h' });
    persisterFor(a, path).save('shutdown');
    const b = makeCore(cfg, a.clock.now + 5_000);
    persisterFor(b, path).load();
    b.feed({ type: 'task-failed', uuid: 'f3', exception: "TypeError('z')", timestamp: T0 + 1, hostname: 'w1@h' });
    b.feed({ type: 'task-failed', uuid: 'f4', exception: "KeyError('x')", timestamp: T0 + 1, hostname: 'w1@h' });
    const exceptions = select(b.samples(), 'celery_task_failed_total').filter((s) => s.value > 0).map((s) => `${s.labels['exception']}=${s.value}`).sort();
    expect(exceptions).toEqual(['KeyError=2', 'ValueError=1', '__other__=1']);
  });

  it('restored hosts follow the purge rules from when they were last seen', () => {
    const a = busyCore();
    persisterFor(a, path).save('interval');
    const b = makeCore(testConfig(), a.clock.now + 700_000); // past the 600 s purge
    persisterFor(b, path).load();
    // Right after the restart the worker is up (a heartbeat window of its own) ...
    expect(value(b.samples(), 'celery_worker_up', { hostname: 'w1@h' })).toBe(1);
    b.advance(30_000);
    // ... then down, and purged: it was last seen more than 600 s ago.
    expect(select(b.samples(), 'celery_worker_up', { hostname: 'w1@h' })).toEqual([]);
    expect(select(b.samples(), 'celery_task_sent_total', { hostname: 'producer@p' })).toEqual([]);
  });

  it('a missing file is a first start', () => {
    const b = makeCore();
    const { log, lines } = memoryLog();
    persisterFor(b, path, log).load();
    expect(lines.map((l) => l['msg'])).toEqual(['no state file yet: first start, counters begin at 0']);
  });

  const bad: Array<[string, (good: Buffer) => Buffer | string, RegExp]> = [
    ['empty', () => '', /is empty/],
    ['truncated', (g) => g.subarray(0, Math.floor(g.length * 0.6)), /truncated/],
    ['corrupt (one byte changed)', (g) => Buffer.from(g.toString('utf8').replace('"app.add"', '"app.adx"')), /checksum/],
    ['foreign (text)', () => 'hello, I am somebody else’s file\n', /no state header/],
    ['foreign (JSON of another program)', () => '{"format":"prometheus-snapshot","version":1}\n{}', /not a state file of this exporter/],
    ['foreign (binary)', () => Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 1, 2, 3]), /no state header/],
    ['of another format version', (g) => Buffer.from(g.toString('utf8').replace(`"version":${VERSION}`, `"version":${VERSION + 1}`)), new RegExp(`format version ${VERSION + 1}`)],
    // Version 1 had no retry-attempt columns (and no revocation/rejection counters).
    ['of format version 1', (g) => Buffer.from(g.toString('utf8').replace(`"version":${VERSION}`, '"version":1')), /format version 1, this exporter reads 2/],
  ];
  for (const [what, make, reason] of bad) {
    it(`a file that is ${what} is logged once, moved aside and ignored`, () => {
      const a = busyCore();
      persisterFor(a, path).save('interval');
      writeFileSync(path, make(readFileSync(path)));
      const b = makeCore();
      const { log, lines } = memoryLog();
      persisterFor(b, path, log).load();
      expect(lines).toHaveLength(1);
      expect(lines[0]!['level']).toBe(40);
      expect(String(lines[0]!['msg'])).toMatch(reason);
      expect(String(lines[0]!['msg'])).toMatch(/ignored, starting clean/);
      expect(existsSync(path)).toBe(false);
      expect(existsSync(`${path}.rejected`)).toBe(true);
      expect(b.state.tracker.size).toBe(0);
      expect(select(b.samples(), 'celery_task_succeeded_total')).toEqual([]);
    });
  }

  it('a file of another configuration (other buckets) starts clean and says why', () => {
    const a = busyCore();
    persisterFor(a, path).save('interval');
    const b = makeCore(testConfig({ runtimeBuckets: [1, 2, 3] }));
    const { log, lines } = memoryLog();
    persisterFor(b, path, log).load();
    expect(String(lines[0]!['msg'])).toMatch(/another configuration.*starting clean/);
    expect(b.state.tracker.size).toBe(0);
  });

  it('a file whose header and checksum are right but whose content is wrong is rejected whole, never half loaded', () => {
    const a = busyCore();
    persisterFor(a, path).save('interval');
    // Rewrite a valid file around a body whose very last value (a task time) is broken.
    const text = readFileSync(path, 'utf8');
    const body = JSON.parse(text.slice(text.indexOf('\n') + 1)) as { tasks: { times: unknown[] } };
    body.tasks.times[body.tasks.times.length - 1] = 'soon';
    writeStateFile(path, { fingerprint: fingerprint(a, {}), savedAt: 1, clean: true }, JSON.stringify(body));
    const b = makeCore();
    const { log, lines } = memoryLog();
    persisterFor(b, path, log).load();
    expect(String(lines[0]!['msg'])).toMatch(/invalid task times/);
    expect(b.state.tracker.size).toBe(0);
    expect(select(b.samples(), 'celery_task_succeeded_total')).toEqual([]);
    expect(select(b.samples(), 'celery_worker_up')).toEqual([]);
  });

  it('a failed save is counted, logged once, and removes the older file (a restart then starts from zero, never below a served value)', () => {
    const a = busyCore();
    const { log, lines } = memoryLog();
    const p = persisterFor(a, path, log);
    expect(p.save('interval')).toBe(true);
    mkdirSync(`${path}.tmp`); // the temporary file cannot be created
    expect(p.save('scrape')).toBe(false);
    expect(p.save('scrape')).toBe(false);
    expect(existsSync(path)).toBe(false);
    expect(value(a.samples(), 'celery_exporter_state_saves_total', { result: 'failure' })).toBe(2);
    expect(lines.filter((l) => l['level'] === 50)).toHaveLength(1);
    rmSync(`${path}.tmp`, { recursive: true });
    expect(p.save('interval')).toBe(true);
    expect(lines.at(-1)!['msg']).toBe('state file saved again');
  });

  it('a scrape ends only after a save that started after it rendered; scrapes inside the minimum interval share one', async () => {
    const t = busyCore();
    // The persister's clock stands still here: the second batch always finds the interval unexpired.
    const p = persisterFor(t, path, undefined, 80);
    await p.afterScrape(); // first: saves at once
    const saves = () => value(t.samples(), 'celery_exporter_state_saves_total', { result: 'success' });
    expect(saves()).toBe(1);
    // Counted after that save and served by the next scrape: must be in the file before it ends.
    t.feed({ type: 'task-succeeded', uuid: 'x1', runtime: 1, timestamp: T0 + 9, hostname: 'w1@h' });
    const scrapes = [p.afterScrape(), p.afterScrape(), p.afterScrape()];
    expect(saves()).toBe(1); // waiting for the interval
    await Promise.all(scrapes);
    expect(saves()).toBe(2);
    const b = makeCore();
    persisterFor(b, path).load();
    expect(value(b.samples(), 'celery_task_succeeded_total', { name: 'unknown' })).toBe(1);
  });
});

