import fc from 'fast-check';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { buildEventPath, type EventPath } from '../../src/app/event-path.js';
import { decodeAmqpEvent } from '../../src/broker/amqp/event-bodies.js';
import { decodeRedisEvent, redisEventMessages } from '../../src/broker/redis/event-messages.js';
import { RespError, RespReader } from '../../src/broker/redis/resp.js';
import { decodeEnvelope } from '../../src/decoder/envelope.js';
import { EVENT_TYPES as KNOWN_TYPES, INVALID_REASONS } from '../../src/events/vocabulary.js';
import { parseMetrics, select, sum } from '../helpers/metrics.js';
import { testConfig } from './core.js';
import { capturedAmqpMessages, capturedRedisMessages, envelope } from './fixtures.js';

/**
 * Hostile and broken input (issue 7): random and mutated envelopes and bodies go through the
 * production path (the RESP reader fed arbitrary chunks, each transport's envelope decoding,
 * the pipeline's one entry point). It must never throw, never hit its internal-error path, count every rejection
 * under a bounded reason, and keep its tables bounded. FUZZ_RUNS scales it (the benchmark
 * script runs it at millions).
 */
const RUNS = Number(process.env['FUZZ_RUNS'] ?? 30_000);

function fuzzCore() {
  const lines: string[] = [];
  const log = pino({ level: 'warn' }, { write: (l: string) => lines.push(l) });
  const core = buildEventPath(testConfig({ maxTrackedTasks: 2000, maxSeries: 3000, maxTaskNames: 200, maxWorkers: 100, maxQueues: 50 }), log, {
    defaultMetrics: false,
  });
  return { core, lines };
}

const redisSeeds = capturedRedisMessages().map((m) => m.data);
const amqpSeeds = capturedAmqpMessages().map((m) => Buffer.from(m.body));
const bodySeeds = redisSeeds.map((r) => Buffer.from((JSON.parse(r) as { body: string }).body, 'base64').toString('utf8'));

/** The types the exporter reads, and some it must count as unknown. */
const EVENT_TYPES = [...KNOWN_TYPES, 'worker-elect', 'custom', ''];
const FIELDS = ['type', 'uuid', 'hostname', 'timestamp', 'name', 'queue', 'routing_key', 'eta', 'runtime', 'exception', 'traceback', 'requeue', 'freq', 'active', 'processed', 'loadavg', 'sw_ident', 'sw_ver', 'sw_sys', 'utcoffset', 'clock'];

/** Any value, including the nasty ones: huge strings, deep nesting, special numbers. */
const nasty = fc.oneof(
  fc.anything({ maxDepth: 3 }),
  fc.constantFrom(NaN, Infinity, -Infinity, -1, 0, 1e300, -1e-300, 2 ** 53 + 1, 1e11 + 1, '', '\u0000', '\ud800', null, [], {}),
  fc.string({ maxLength: 300 }),
  fc.integer().map((n) => 'x'.repeat(Math.abs(n) % 20_000)),
  fc.nat(200).map((d) => JSON.parse('['.repeat(d + 1) + ']'.repeat(d + 1)) as unknown),
);

/** An event that is plausible in shape with hostile values. */
const event = fc.record(
  Object.fromEntries(FIELDS.map((f) => [f, f === 'type' ? fc.oneof(fc.constantFrom(...EVENT_TYPES), nasty) : nasty])),
  { requiredKeys: [] },
);
const uuidish = fc.constantFrom('a', 'b', 'c', 'd', 'e');
/** Events with a few shared uuids/hostnames so they interact in the state. */
const coherentEvent = fc.record({
  type: fc.constantFrom(...EVENT_TYPES),
  uuid: uuidish,
  hostname: fc.constantFrom('w1@h', 'w2@h', 'gen1@api'),
  timestamp: fc.oneof(fc.double({ noNaN: false }), fc.constant(1_795_681_000)),
  name: fc.oneof(fc.constant('app.t'), nasty),
  queue: fc.oneof(fc.constant('q'), nasty),
  runtime: nasty,
  eta: fc.oneof(fc.constant(null), fc.date({ noInvalidDate: false }).map((d) => (Number.isNaN(d.getTime()) ? 'not a date' : d.toISOString())), nasty),
  exception: nasty,
  traceback: nasty,
  freq: nasty,
  loadavg: nasty,
});
const body = fc.oneof(event, fc.array(fc.oneof(event, coherentEvent, nasty), { maxLength: 30 }), coherentEvent, nasty);

/** JSON text with Python's bare NaN/Infinity sprinkled in, as a sender might write. */
const bodyText = fc.oneof(
  body.map((b) => {
    try {
      return JSON.stringify(b) ?? 'undefined';
    } catch {
      return '{';
    }
  }),
  fc.tuple(fc.constantFrom(...bodySeeds), fc.nat(), fc.constantFrom('NaN', 'Infinity', '-Infinity', '"', '\\', '{', ']', '')).map(([s, at, ins]) => {
    const i = at % (s.length + 1);
    return s.slice(0, i) + ins + s.slice(i);
  }),
  fc.string({ maxLength: 500 }),
);

/** Real envelopes with one thing broken: truncated, a byte flipped, a field swapped. */
const mutatedEnvelope = fc.oneof(
  fc.tuple(fc.constantFrom(...redisSeeds), fc.nat()).map(([s, n]) => s.slice(0, n % (s.length + 1))),
  fc.tuple(fc.constantFrom(...redisSeeds), fc.nat(), fc.string({ minLength: 1, maxLength: 3 })).map(([s, n, x]) => {
    const i = n % s.length;
    return s.slice(0, i) + x + s.slice(i + 1);
  }),
  fc.tuple(fc.constantFrom(...redisSeeds), fc.constantFrom('application/x-python-serialize', 'application/x-msgpack', 'application/x-yaml', 'text/plain', '')).map(([s, ct]) =>
    s.replace('"content-type": "application/json"', `"content-type": "${ct}"`),
  ),
  fc.tuple(fc.constantFrom(...redisSeeds), fc.constantFrom('utf-8', 'rot13', 'base32', '')).map(([s, enc]) => s.replace('"body_encoding": "base64"', `"body_encoding": "${enc}"`)),
  fc.constantFrom(...redisSeeds).map((s) => s.replace('"headers": {', '"headers": {"compression": "application/x-gzip", ')),
  bodyText.map((t) => envelope(null).replace(/"body": "[^"]*"/, `"body": "${Buffer.from(t).toString('base64')}"`)),
  body.map((b) => safeEnvelope(b)),
  fc.string({ maxLength: 2000 }),
);

/** envelope() for values JSON cannot represent (undefined, cycles…): their text is sent as is. */
function safeEnvelope(b: unknown): string {
  let text: string;
  try {
    text = JSON.stringify(b) ?? 'undefined';
  } catch {
    text = String(b);
  }
  return envelope(null).replace(/"body": "[^"]*"/, `"body": "${Buffer.from(text).toString('base64')}"`);
}

function checkHealthy(core: EventPath, lines: string[]): void {
  expect(lines.filter((l) => l.includes('event processing failed'))).toEqual([]);
  const s = parseMetrics(core.metrics.registry.renderOwnSync());
  for (const x of select(s, 'celery_exporter_events_invalid_total')) expect(INVALID_REASONS).toContain(x.labels['reason']);
  expect(core.state.tracker.size).toBeLessThanOrEqual(2000);
  expect(core.state.workers.size).toBeLessThanOrEqual(100);
  expect(core.state.queues.size).toBeLessThanOrEqual(50);
  expect(sum(s, 'celery_exporter_events_total') + sum(s, 'celery_exporter_events_invalid_total')).toBeGreaterThan(0);
}

// 30k cases take a few seconds; the budget grows with FUZZ_RUNS (npm run fuzz runs a million).
describe('fuzzing the decoder and state', { timeout: Math.max(90_000, (RUNS / 30_000) * 20_000) }, () => {
  it(`survives ${RUNS} mutated Redis envelopes`, () => {
    const { core, lines } = fuzzCore();
    fc.assert(
      fc.property(mutatedEnvelope, (raw) => {
        core.pipeline.onBody(decodeEnvelope(raw));
        const buf = Buffer.concat([Buffer.from('xx'), Buffer.from(raw), Buffer.from('"}}')]);
        core.pipeline.onBody(decodeRedisEvent(buf, 2, buf.length - 3));
      }),
      { numRuns: RUNS },
    );
    checkHealthy(core, lines);
  });

  it(`survives ${RUNS} random AMQP bodies and content types`, () => {
    const { core, lines } = fuzzCore();
    fc.assert(
      fc.property(
        fc.oneof(bodyText.map((t) => Buffer.from(t)), fc.constantFrom(...amqpSeeds), fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a))),
        fc.constantFrom(undefined, 'application/json', 'application/x-python-serialize', 'application/x-msgpack', 'application/x-yaml', 'APPLICATION/JSON'),
        fc.constantFrom(undefined, 'utf-8', 'binary', 'latin-1', ''),
        fc.nat(8),
        (b, ct, enc, pad) => {
          // As delivery-reader.ts hands it over: a view inside a larger receive buffer.
          const buf = Buffer.concat([Buffer.alloc(pad, 0xce), b, Buffer.alloc(pad, 0xce)]);
          core.pipeline.onBody(decodeAmqpEvent(buf, pad, pad + b.length, ct, enc));
        },
      ),
      { numRuns: RUNS },
    );
    checkHealthy(core, lines);
  });

  it(`keeps counting after ${RUNS / 10} hostile event streams with time passing`, () => {
    const { core, lines } = fuzzCore();
    let now = Date.now();
    fc.assert(
      fc.property(fc.array(body, { maxLength: 8 }), fc.nat(5000), (bodies, advance) => {
        for (const b of bodies) core.pipeline.onBody(decodeEnvelope(safeEnvelope(b)));
        now += advance;
        core.state.tick(now);
      }),
      { numRuns: RUNS / 10 },
    );
    checkHealthy(core, lines);
    // A good event after all that is still counted exactly: under its name, or __other__ once
    // the task-name cap is reached, or as a refused series once the series cap is.
    const count = () => {
      const s = parseMetrics(core.metrics.registry.renderOwnSync());
      return {
        events: sum(s, 'celery_exporter_events_total', { type: 'task-sent' }),
        sent: sum(s, 'celery_task_sent_total', { name: 'fuzz.after' }) + sum(s, 'celery_task_sent_total', { name: '__other__' }) + sum(s, 'celery_exporter_series_dropped_total'),
      };
    };
    const before = count();
    core.pipeline.onBody(decodeEnvelope(envelope({ type: 'task-sent', uuid: 'after-1', name: 'fuzz.after', queue: 'q', hostname: 'gen@x', timestamp: 1 })));
    expect(count()).toEqual({ events: before.events + 1, sent: before.sent + 1 });
  });
});

/** One RESP frame a subscribed connection can receive, and the payload it carries if it is a message. */
type Frame = { bytes: Buffer; payload: Buffer | undefined };
const bulk = (b: Buffer) => Buffer.concat([Buffer.from(`$${b.length}\r\n`), b, Buffer.from('\r\n')]);
const payloadBytes = fc.oneof(
  mutatedEnvelope.map((e) => Buffer.from(e)),
  fc.constantFrom(...redisSeeds).map((e) => Buffer.from(e)),
  fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)),
);
const frame: fc.Arbitrary<Frame> = fc.oneof(
  { weight: 6, arbitrary: fc.tuple(payloadBytes, fc.constantFrom('/0.celeryev/*', '/1.celeryev')).map(([p, pattern]): Frame => ({
    bytes: Buffer.concat([Buffer.from('*4\r\n'), bulk(Buffer.from('pmessage')), bulk(Buffer.from(pattern)), bulk(Buffer.from('/0.celeryev/task.multi')), bulk(p)]),
    payload: p,
  })) },
  { weight: 2, arbitrary: payloadBytes.map((p): Frame => ({ bytes: Buffer.concat([Buffer.from('*3\r\n'), bulk(Buffer.from('message')), bulk(Buffer.from('/0.celeryev')), bulk(p)]), payload: p })) },
  { weight: 1, arbitrary: fc.constantFrom('+OK\r\n', '-ERR nope\r\n', ':1\r\n', '*2\r\n$4\r\npong\r\n$0\r\n\r\n', '*3\r\n$10\r\npsubscribe\r\n$13\r\n/0.celeryev/*\r\n:1\r\n', '$-1\r\n').map((r): Frame => ({ bytes: Buffer.from(r), payload: undefined })) },
);

/** Cuts `stream` at the given points (as socket reads do). */
function chunks(stream: Buffer, cuts: number[]): Buffer[] {
  const at = [...new Set(cuts.map((c) => c % (stream.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let last = 0;
  for (const c of [...at, stream.length]) {
    out.push(stream.subarray(last, c));
    last = c;
  }
  return out;
}

describe('fuzzing the Redis socket path: RESP reader → envelope → pipeline', { timeout: Math.max(90_000, (RUNS / 30_000) * 40_000) }, () => {
  it(`hands every message of ${RUNS / 10} streams cut at arbitrary points to the pipeline once, in order`, () => {
    const { core, lines } = fuzzCore();
    const deliver = redisEventMessages(core.pipeline);
    fc.assert(
      fc.property(fc.array(frame, { minLength: 1, maxLength: 12 }), fc.array(fc.nat(), { maxLength: 12 }), (frames, cuts) => {
        const seen: string[] = [];
        const reader = new RespReader({
          onMessage: (buf, start, end) => {
            seen.push(buf.toString('hex', start, end));
            deliver(buf, start, end);
          },
          onReply: () => undefined,
        });
        for (const c of chunks(Buffer.concat(frames.map((f) => f.bytes)), cuts)) reader.feed(c);
        expect(seen).toEqual(frames.filter((f) => f.payload !== undefined).map((f) => f.payload!.toString('hex')));
      }),
      { numRuns: RUNS / 10 },
    );
    checkHealthy(core, lines);
  });

  it(`survives ${RUNS / 10} corrupted streams: only a RespError (the connection is dropped), never a pipeline error`, () => {
    const { core, lines } = fuzzCore();
    const deliver = redisEventMessages(core.pipeline);
    const corrupted = fc.oneof(
      fc.tuple(fc.array(frame, { minLength: 1, maxLength: 6 }), fc.nat(), fc.integer({ min: 0, max: 255 })).map(([frames, at, byte]) => {
        const b = Buffer.concat(frames.map((f) => f.bytes));
        b[at % b.length] = byte;
        return b;
      }),
      fc.uint8Array({ maxLength: 2000 }).map((a) => Buffer.from(a)),
      fc.array(fc.constantFrom('*', '$', ':', '+', '-', '\r\n', '4', '-1', '99999999999', 'pmessage', 'message', 'x'), { maxLength: 60 }).map((p) => Buffer.from(p.join(''))),
    );
    fc.assert(
      fc.property(corrupted, fc.array(fc.nat(), { maxLength: 8 }), (stream, cuts) => {
        let pipelineThrew: unknown;
        const reader = new RespReader({
          onMessage: (buf, start, end) => {
            try {
              deliver(buf, start, end);
            } catch (err) {
              pipelineThrew = err;
              throw err;
            }
          },
          onReply: () => undefined,
        });
        try {
          for (const c of chunks(stream, cuts)) reader.feed(c);
        } catch (err) {
          expect(pipelineThrew).toBeUndefined();
          expect(err).toBeInstanceOf(RespError);
        }
      }),
      { numRuns: RUNS / 10 },
    );
    expect(lines.filter((l) => l.includes('event processing failed'))).toEqual([]);
    const s = parseMetrics(core.metrics.registry.renderOwnSync());
    for (const x of select(s, 'celery_exporter_events_invalid_total')) expect(INVALID_REASONS).toContain(x.labels['reason']);
  });
});
