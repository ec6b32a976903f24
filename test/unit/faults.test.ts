import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { describeConnectError } from '../../src/broker/connect-errors.js';
import { fanoutPrefixes } from '../../src/broker/redis/connect.js';
import { judgeLoss, parseServerFacts, ReadBacklog, type LostSubscription } from '../../src/broker/redis/subscription-loss.js';
import { RetryGate } from '../../src/broker/retry-gate.js';
import { parseBrokerUrl } from '../../src/config/broker-url.js';
import { MetricRegistry } from '../../src/metrics/registry.js';
import { MonotonicMirror } from '../../src/metrics/monotonic-mirror.js';
import { SelfMetrics } from '../../src/metrics/self-metrics.js';
import type { Collector } from '../../src/pollers/collector.js';
import { PollScheduler } from '../../src/pollers/scheduler.js';
import { backoffDelay } from '../../src/util/backoff.js';

describe('backoff', () => {
  it('doubles from 0.5 s up to 30 s, with jitter in the upper half', () => {
    for (let attempt = 0; attempt < 12; attempt++) {
      const ceiling = Math.min(30_000, 500 * 2 ** attempt);
      expect(backoffDelay(attempt, 500, 30_000, () => 0)).toBe(ceiling / 2);
      expect(backoffDelay(attempt, 500, 30_000, () => 1)).toBe(ceiling);
    }
    expect(backoffDelay(1000)).toBeLessThanOrEqual(30_000);
  });

  it('RetryGate fails fast inside the backoff with the last error, and opens after it', () => {
    let now = 0;
    const gate = new RetryGate(() => now);
    gate.check();
    gate.failed(new Error('connection refused'));
    expect(() => gate.check()).toThrow(/^connection refused \(next connection attempt in 0\.\d s\)$/);
    now += 500;
    gate.check();
    gate.failed(new Error('again'));
    now += 400; // attempt 1 waits 0.5–1 s
    expect(() => gate.check()).toThrow(/again/);
    now += 600;
    gate.check();
    gate.succeeded();
    gate.failed(new Error('x'));
    now += 500;
    gate.check(); // back to the first step after a success
  });
});

describe('connect errors', () => {
  it('says what DNS, refused and unreachable errors mean', () => {
    const err = (code: string, extra: object) => Object.assign(new Error(`raw ${code}`), { code, ...extra });
    expect(describeConnectError(err('ENOTFOUND', { hostname: 'redis.internal' }))).toBe('cannot resolve host name "redis.internal" (ENOTFOUND): DNS lookup failed');
    expect(describeConnectError(err('ECONNREFUSED', { address: '10.0.0.1', port: 6379 }))).toMatch(/^connection refused by 10\.0\.0\.1:6379 \(ECONNREFUSED\)/);
    expect(describeConnectError(err('EHOSTUNREACH', { address: '10.0.0.1', port: 5672 }))).toBe('10.0.0.1:5672 is unreachable (EHOSTUNREACH)');
    expect(describeConnectError(new Error('WRONGPASS invalid username-password pair'))).toBe('WRONGPASS invalid username-password pair');
  });
});

describe('monotonic mirror of a broker counter', () => {
  it('keeps what was counted when the broker restarts at 0', () => {
    const m = new MonotonicMirror();
    expect([m.update(5), m.update(9), m.update(2), m.update(4)]).toEqual([5, 9, 11, 13]);
    // A restart the broker reports (new run_id) even when its new value is not lower.
    expect(m.update(20, true)).toBe(13 + 20);
  });
});

describe('Redis subscription loss', () => {
  const facts = (runId: string, extra = ''): string => `# Server\r\nredis_version:7.0.15\r\nrun_id:${runId}\r\n# Stats\r\n${extra}# Replication\r\nrole:master\r\n`;

  it('reads run_id, role and the disconnection counters newer servers have', () => {
    expect(parseServerFacts(facts('abc'))).toEqual({ runId: 'abc', role: 'master' });
    expect(parseServerFacts(facts('abc', 'evicted_clients:2\r\nclient_output_buffer_limit_disconnections:7\r\n'))).toEqual({
      runId: 'abc',
      role: 'master',
      evictedClients: 2,
      outputBufferDisconnections: 7,
    });
  });

  it('tells a backlog from a subscriber that keeps up, by the sizes of the reads', () => {
    const caughtUp = new ReadBacklog();
    for (let i = 0; i < 1000; i++) caughtUp.onRead(700 + (i % 300));
    expect(caughtUp.atClose()).toEqual([0, 0]);

    const behind = new ReadBacklog();
    for (let i = 0; i < 50; i++) behind.onRead(900);
    for (let i = 0; i < 10; i++) behind.onRead(65536);
    behind.onRead(1234); // the remainder before the FIN
    expect(behind.atClose()).toEqual([10, 10 * 65536 + 1234]);

    // A backlog long drained does not count.
    for (let i = 0; i < 5; i++) behind.onRead(800);
    expect(behind.atClose()).toEqual([0, 0]);
    // Busy but not behind: big reads that do not fill the buffer.
    const busy = new ReadBacklog();
    for (let i = 0; i < 100; i++) busy.onRead(20_000 + i * 400);
    expect(busy.atClose()).toEqual([0, 0]);
    // TLS hands over 16 KiB pieces.
    const tls = new ReadBacklog(16384);
    for (let i = 0; i < 8; i++) tls.onRead(16384);
    expect(tls.atClose()).toEqual([8, 8 * 16384]);
  });

  const lost = (over: Partial<LostSubscription> = {}): LostSubscription => ({
    facts: { runId: 'r1', role: 'master' },
    address: '10.0.0.1:6379',
    fullReads: 0,
    backlogBytes: 0,
    lagGrowth: 0,
    upMs: 60_000,
    ...over,
  });

  it('judges a restart, a kill, and a drop of a subscriber that was behind', () => {
    expect(judgeLoss(lost(), { runId: 'r2' }, '10.0.0.1:6379')).toEqual({ kind: 'other-server', detail: 'Redis restarted meanwhile (new run_id)' });
    expect(judgeLoss(lost(), { runId: 'r2' }, '10.0.0.2:6379').kind).toBe('other-server');
    expect(judgeLoss(lost(), { runId: 'r1' }, '10.0.0.1:6379').kind).toBe('closed');

    const behind = judgeLoss(lost({ fullReads: 30, backlogBytes: 2_000_000, lagGrowth: 3.2 }), { runId: 'r1' }, '10.0.0.1:6379');
    expect(behind.kind).toBe('dropped');
    if (behind.kind !== 'dropped') return;
    expect(behind.cause).toMatch(/most likely its pub\/sub output buffer passed client-output-buffer-limit pubsub/);
    expect(behind.evidence).toBe('it was reading a backlog: 30 full socket reads (1.9 MiB) back to back just before the close; the event lag had grown by 3.2 s; Redis stayed up (same run_id)');
    // Lag alone is evidence too (a TLS socket reads in smaller pieces).
    expect(judgeLoss(lost({ lagGrowth: 5 }), { runId: 'r1' }, '10.0.0.1:6379').kind).toBe('dropped');
    expect(judgeLoss(lost({ lagGrowth: 1, fullReads: 2 }), { runId: 'r1' }, '10.0.0.1:6379').kind).toBe('closed');
  });

  it('uses the server counters where they exist', () => {
    const before = { runId: 'r1', outputBufferDisconnections: 3, evictedClients: 0 };
    const counted = judgeLoss(lost({ facts: before }), { runId: 'r1', outputBufferDisconnections: 4, evictedClients: 0 }, '10.0.0.1:6379');
    expect(counted.kind === 'dropped' && counted.evidence).toMatch(/Redis counted it in client_output_buffer_limit_disconnections/);
    const evicted = judgeLoss(lost({ facts: before }), { runId: 'r1', outputBufferDisconnections: 3, evictedClients: 1 }, '10.0.0.1:6379');
    expect(evicted.kind === 'dropped' && evicted.cause).toMatch(/client eviction/);
    // Behind, but the server did not count an overflow: killed while behind (events lost all the same).
    const killed = judgeLoss(lost({ facts: before, fullReads: 10 }), { runId: 'r1', outputBufferDisconnections: 3, evictedClients: 0 }, '10.0.0.1:6379');
    expect(killed.kind === 'dropped' && killed.cause).toMatch(/CLIENT KILL/);
  });

  it('tells an oversized message from CLIENT KILL by INFO commandstats (Redis 7)', () => {
    const stats = 'cmdstat_info:calls=2,usec=41\r\ncmdstat_client|setname:calls=4,usec=3\r\ncmdstat_client|kill:calls=2,usec=5\r\ncmdstat_acl|setuser:calls=1,usec=9\r\n';
    expect(parseServerFacts(stats)).toEqual({ clientKills: 2, aclChanges: 1 });
    expect(parseServerFacts('cmdstat_client|setname:calls=4,usec=3\r\n')).toEqual({ clientKills: 0 });
    // Redis 6 does not split subcommands: nothing to go on.
    expect(parseServerFacts('cmdstat_client:calls=9,usec=3\r\n')).toEqual({});
    const facts = { runId: 'r1', clientKills: 2, aclChanges: 1 };
    // Keeping up, closed by the server, no kill meanwhile: a message over the limit (events lost).
    const big = judgeLoss(lost({ facts }), { runId: 'r1', clientKills: 2, aclChanges: 1 }, '10.0.0.1:6379');
    expect(big.kind).toBe('dropped');
    expect(big.kind === 'dropped' && big.cause).toMatch(/larger than client-output-buffer-limit pubsub/);
    // A kill (or an ACL change) ran meanwhile: closed, as before.
    const killed = judgeLoss(lost({ facts }), { runId: 'r1', clientKills: 3, aclChanges: 1 }, '10.0.0.1:6379');
    expect(killed).toEqual({ kind: 'closed', detail: 'Redis stayed up (same run_id) and the exporter was not behind: closed by CLIENT KILL (counted in INFO commandstats)' });
    expect(judgeLoss(lost({ facts }), { runId: 'r1', clientKills: 2, aclChanges: 2 }, '10.0.0.1:6379').kind).toBe('closed');
    // Without commandstats (older Redis, ACL) the verdict stays "closed".
    expect(judgeLoss(lost(), { runId: 'r1' }, '10.0.0.1:6379').kind).toBe('closed');
  });
});

describe('Sentinel fanout prefixes', () => {
  const cfg = (url: string, transportOptions: Record<string, unknown> = {}) => ({ url: parseBrokerUrl(url), transportOptions });
  it("adds kombu 5.2's literal /{db}. behind Sentinel, only for the default prefix", () => {
    expect(fanoutPrefixes(cfg('redis://h:6379/3'))).toEqual(['/3.']);
    expect(fanoutPrefixes(cfg('sentinel://s1:26379;sentinel://s2:26379', { master_name: 'm' }))).toEqual(['/0.', '/{db}.']);
    expect(fanoutPrefixes(cfg('sentinel://s1:26379', { fanout_prefix: 'custom.' }))).toEqual(['custom.']);
    expect(fanoutPrefixes(cfg('sentinel://s1:26379', { fanout_prefix: false }))).toEqual(['']);
  });
});

describe('poll scheduler logging', () => {
  it('logs one line when a poller starts failing and one when it recovers, not one per round', async () => {
    const lines: Array<{ level: number; msg: string; poller?: string }> = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        for (const l of chunk.toString().split('\n')) if (l !== '') lines.push(JSON.parse(l) as never);
        cb();
      },
    });
    const log = pino({ level: 'info' }, sink);
    const self = new SelfMetrics(new MetricRegistry({ defaultMetrics: false }), { version: 't', broker: 'b', transport: 'redis' });
    let fail = true;
    const p: Collector = { name: 'p', collect: () => (fail ? Promise.reject(new Error('down')) : Promise.resolve()) };
    const s = new PollScheduler([], self, log);
    const round = () => s.runOnce({ collector: p, intervalMs: 1000, timeoutMs: 1000 });
    for (let i = 0; i < 5; i++) await round();
    fail = false;
    await round();
    await round();
    fail = true;
    await round();
    await new Promise((r) => setImmediate(r));
    expect(lines.map((l) => l.msg)).toEqual([
      'poll failed; its series are withheld until it succeeds (further failures are logged at debug level)',
      'poll succeeded again; its series are back',
      'poll failed; its series are withheld until it succeeds (further failures are logged at debug level)',
    ]);
    expect((lines[1] as unknown as { failedRounds: number }).failedRounds).toBe(5);
  });
});
