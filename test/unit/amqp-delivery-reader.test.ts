import { createRequire } from 'node:module';
import { join } from 'node:path';
import fc from 'fast-check';
import type { Channel, ChannelModel } from 'amqplib';
import { describe, expect, it } from 'vitest';
import { ackFrame, installDeliveryReader, NEED_MORE, NOT_MINE, readDelivery } from '../../src/broker/amqp/delivery-reader.js';

/**
 * The event consumer's front on amqplib's frame reader (delivery-reader.ts), checked against
 * amqplib itself: frames come from amqplib's own encoder, and what the front leaves to amqplib
 * is read by amqplib's own recvFrame/decodeFrame. Fuzzed like the RESP reader (FUZZ_RUNS).
 */
const RUNS = Math.max(200, Math.floor(Number(process.env['FUZZ_RUNS'] ?? 30_000) / 20));
// amqplib's package exports hide lib/; the files themselves are the oracle.
const lib = join(import.meta.dirname, '..', '..', 'node_modules', 'amqplib', 'lib');
const req = createRequire(import.meta.url);
interface Defs {
  BasicAck: number;
  BasicDeliver: number;
  BasicCancel: number;
  BasicProperties: number;
  encodeMethod(id: number, ch: number, fields: object): Buffer;
  encodeProperties(id: number, ch: number, size: number, fields: object): Buffer;
}
const defs = req(join(lib, 'defs.js')) as Defs;
const frameLib = req(join(lib, 'frame.js')) as { makeBodyFrame(ch: number, b: Buffer): Buffer; HEARTBEAT_BUF: Buffer };
const { Connection } = req(join(lib, 'connection.js')) as { Connection: { prototype: { recvFrame(): unknown } } };

const CH = 1;
const MAX = 131_072;

interface Delivery {
  consumerTag: string;
  deliveryTag: number;
  redelivered: boolean;
  exchange: string;
  routingKey: string;
  props: Record<string, unknown>;
  body: Buffer;
}

function encode(d: Delivery, ch = CH, frameBody = MAX - 8): Buffer {
  const parts = [
    defs.encodeMethod(defs.BasicDeliver, ch, { consumerTag: d.consumerTag, deliveryTag: d.deliveryTag, redelivered: d.redelivered, exchange: d.exchange, routingKey: d.routingKey }),
    defs.encodeProperties(defs.BasicProperties, ch, d.body.length, d.props),
  ];
  for (let o = 0; o < d.body.length; o += frameBody) parts.push(frameLib.makeBodyFrame(ch, d.body.subarray(o, o + frameBody)));
  return Buffer.concat(parts);
}

const short = fc.string({ maxLength: 40 });
const delivery: fc.Arbitrary<Delivery> = fc.record({
  consumerTag: short,
  // Beyond 2^32 too: a long-lived channel's tags pass it (the tag is a longlong).
  deliveryTag: fc.oneof(fc.nat(), fc.integer({ min: 2 ** 32, max: Number.MAX_SAFE_INTEGER })),
  redelivered: fc.boolean(),
  exchange: short,
  routingKey: fc.oneof(fc.constantFrom('task.multi', 'task.sent', 'worker.heartbeat'), short),
  props: fc.record(
    {
      contentType: fc.oneof(fc.constantFrom('application/json', 'application/x-json', 'text/plain', ''), short),
      contentEncoding: fc.oneof(fc.constantFrom('utf-8', 'utf8', 'binary', ''), short),
      headers: fc.dictionary(short, fc.oneof(short, fc.integer(), fc.boolean())),
      deliveryMode: fc.constantFrom(1, 2),
      priority: fc.integer({ min: 0, max: 9 }),
      correlationId: short,
    },
    { requiredKeys: [] },
  ),
  body: fc.oneof(fc.uint8Array({ maxLength: 600 }), fc.string({ maxLength: 300 }).map((s) => new TextEncoder().encode(JSON.stringify([{ type: s }])))).map((a) => Buffer.from(a)),
});

type Seen = { body: string; contentType: string | undefined; contentEncoding: string | undefined; deliveryTag: number; redelivered: boolean };
const expected = (d: Delivery): Seen => ({
  body: d.body.toString('hex'),
  contentType: d.props['contentType'] as string | undefined,
  contentEncoding: d.props['contentEncoding'] as string | undefined,
  deliveryTag: d.deliveryTag,
  redelivered: d.redelivered,
});

describe('ackFrame', () => {
  it('is the basic.ack (multiple) amqplib would encode, for any channel and tag', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 65_535 }), fc.oneof(fc.nat(), fc.integer({ min: 2 ** 32, max: Number.MAX_SAFE_INTEGER })), (ch, tag) => {
        expect(ackFrame(ch, tag).toString('hex')).toBe(defs.encodeMethod(defs.BasicAck, ch, { deliveryTag: tag, multiple: true }).toString('hex'));
      }),
      { numRuns: RUNS },
    );
  });
});

describe('readDelivery', () => {
  it('reads every delivery amqplib encodes: the body, content type and encoding amqplib would give', () => {
    fc.assert(
      fc.property(delivery, fc.nat(), (d, cutAt) => {
        const buf = encode(d);
        const seen: Seen[] = [];
        const end = readDelivery(buf, 0, CH, MAX, (b, s, e, ct, ce, tag, re) =>
          seen.push({ body: b.toString('hex', s, e), contentType: ct, contentEncoding: ce, deliveryTag: tag, redelivered: re }),
        );
        expect(end).toBe(buf.length);
        expect(seen).toEqual([expected(d)]);
        // Any prefix is not enough yet, and hands nothing over.
        const cut = cutAt % buf.length;
        expect(readDelivery(buf.subarray(0, cut), 0, CH, MAX, () => expect.fail('partial delivery handed over'))).toBe(NEED_MORE);
      }),
      { numRuns: RUNS },
    );
  });

  it("leaves other channels, heartbeats, split bodies and other methods to amqplib", () => {
    const d: Delivery = { consumerTag: 'c', deliveryTag: 1, redelivered: false, exchange: 'celeryev', routingKey: 'task.multi', props: { contentType: 'application/json' }, body: Buffer.from('[{"a": 1}]') };
    const never = () => expect.fail('handed over');
    expect(readDelivery(encode(d, 2), 0, CH, MAX, never)).toBe(NOT_MINE);
    expect(readDelivery(frameLib.HEARTBEAT_BUF, 0, CH, MAX, never)).toBe(NOT_MINE);
    expect(readDelivery(encode(d, CH, 4), 0, CH, MAX, never)).toBe(NOT_MINE);
    expect(readDelivery(encode({ ...d, body: Buffer.alloc(200) }), 0, CH, 100, never)).toBe(NOT_MINE);
    expect(readDelivery(defs.encodeMethod(defs.BasicCancel, CH, { consumerTag: 'c', nowait: true }), 0, CH, MAX, never)).toBe(NOT_MINE);
    // A zero-length body has no body frame.
    const empty = encode({ ...d, body: Buffer.alloc(0) });
    let n = 0;
    expect(readDelivery(empty, 0, CH, MAX, (_b, s, e) => (n += 1 + e - s))).toBe(empty.length);
    expect(n).toBe(1);
  });

  it('never throws nor hands over a range outside the buffer, whatever the bytes', () => {
    const d: Delivery = { consumerTag: 'c', deliveryTag: 1, redelivered: false, exchange: 'celeryev', routingKey: 'task.multi', props: { contentType: 'application/json', contentEncoding: 'utf-8' }, body: Buffer.from('[{"a": 1}]') };
    const seed = encode(d);
    const mutated = fc.array(fc.tuple(fc.nat(seed.length - 1), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }).map((muts) => {
      const b = Buffer.from(seed);
      for (const [i, v] of muts) b[i] = v;
      return b;
    });
    fc.assert(
      fc.property(fc.oneof(mutated, fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a))), (buf) => {
        const r = readDelivery(buf, 0, CH, MAX, (b, s, e) => expect(0 <= s && s <= e && e <= b.length).toBe(true));
        expect(r === NEED_MORE || r === NOT_MINE || (r > 0 && r <= buf.length)).toBe(true);
      }),
      { numRuns: RUNS },
    );
  });
});

/** A stand-in for amqplib's Connection: its real recvFrame over chunks, as the socket gives them. */
function fakeConnection(chunks: Buffer[]) {
  return {
    rest: Buffer.alloc(0),
    stream: { read: () => chunks.shift() ?? null },
    recvSinceLastCheck: false,
    frameMax: MAX,
    maxFrameSize: 64 * 1024 * 1024,
    recvFrame: Connection.prototype.recvFrame,
  };
}

describe('installDeliveryReader', () => {
  it('gives each message once, in order, whether the front or amqplib reads it, however the stream is cut', () => {
    const item = fc.oneof(
      { weight: 6, arbitrary: delivery.map((d) => ({ kind: 'fast' as const, d })) },
      { weight: 1, arbitrary: delivery.filter((d) => d.body.length > 8).map((d) => ({ kind: 'split' as const, d })) },
      { weight: 1, arbitrary: fc.constant({ kind: 'heartbeat' as const }) },
      { weight: 1, arbitrary: delivery.map((d) => ({ kind: 'other' as const, d })) },
    );
    fc.assert(
      fc.property(fc.array(item, { maxLength: 12 }), fc.array(fc.integer({ min: 1, max: 400 }), { minLength: 1, maxLength: 20 }), (items, cuts) => {
        const wire = Buffer.concat(
          items.map((it) => (it.kind === 'heartbeat' ? frameLib.HEARTBEAT_BUF : it.kind === 'split' ? encode(it.d, CH, 8) : encode(it.d, it.kind === 'other' ? 3 : CH))),
        );
        const chunks: Buffer[] = [];
        for (let o = 0, i = 0; o < wire.length; i++) chunks.push(wire.subarray(o, (o += cuts[i % cuts.length]!)));
        const conn = fakeConnection(chunks);
        const got: Seen[] = [];
        const off = installDeliveryReader({ connection: conn } as unknown as ChannelModel, { ch: CH } as unknown as Channel, (b, s, e, ct, ce, tag, re) =>
          got.push({ body: b.toString('hex', s, e), contentType: ct, contentEncoding: ce, deliveryTag: tag, redelivered: re }),
        );
        expect(off).toBeTypeOf('function');
        // What amqplib's channel would assemble from the frames left to it.
        let slow: { props: Record<string, unknown>; parts: Buffer[]; size: number; tag: number; redelivered: boolean } | undefined;
        const slowSeen: Array<Seen & { channel: number }> = [];
        let heartbeats = 0;
        for (let f = conn.recvFrame() as Record<string, unknown> | false; f !== false; f = conn.recvFrame() as Record<string, unknown> | false) {
          if (f['channel'] === 0) heartbeats++;
          else if (f['id'] === defs.BasicDeliver) {
            const m = f['fields'] as { deliveryTag: number; redelivered: boolean };
            slow = { props: {}, parts: [], size: -1, tag: m.deliveryTag, redelivered: m.redelivered };
          }
          else if (f['id'] === defs.BasicProperties) {
            slow!.props = f['fields'] as Record<string, unknown>;
            slow!.size = f['size'] as number;
          } else if (f['content'] !== undefined) slow!.parts.push(f['content'] as Buffer);
          if (slow !== undefined && slow.size >= 0 && slow.parts.reduce((n, p) => n + p.length, 0) === slow.size) {
            const body = Buffer.concat(slow.parts).toString('hex');
            slowSeen.push({
              channel: f['channel'] as number,
              body,
              contentType: slow.props['contentType'] as string | undefined,
              contentEncoding: slow.props['contentEncoding'] as string | undefined,
              deliveryTag: slow.tag,
              redelivered: slow.redelivered,
            });
            if (f['channel'] === CH) got.push(slowSeen.at(-1)!);
            slow = undefined;
          }
        }
        expect(conn.rest.length).toBe(0);
        expect(heartbeats).toBe(items.filter((i) => i.kind === 'heartbeat').length);
        expect(got.map((g) => ({ ...g, channel: undefined }))).toEqual(
          items.flatMap((i) => (i.kind === 'fast' || i.kind === 'split' ? [{ ...expected(i.d), channel: undefined }] : [])),
        );
        expect(slowSeen.filter((s) => s.channel === 3).length).toBe(items.filter((i) => i.kind === 'other').length);
        off!();
        expect(conn.recvFrame).toBe(Connection.prototype.recvFrame);
      }),
      { numRuns: RUNS },
    );
  });

  it('pauses 16 ms after a short read, then has amqplib read again; taken off mid-pause, it hands over at once', async () => {
    const d: Delivery = { consumerTag: 'c', deliveryTag: 1, redelivered: false, exchange: 'celeryev', routingKey: 'task.sent', props: { contentType: 'application/json' }, body: Buffer.from('{"type": "task-sent"}') };
    for (const takeOff of [false, true]) {
      const conn = fakeConnection([encode(d, CH)]);
      let readable = 0;
      (conn.stream as { emit?: (e: string) => boolean }).emit = () => (readable++, true);
      let got = 0;
      const off = installDeliveryReader({ connection: conn } as unknown as ChannelModel, { ch: CH } as unknown as Channel, () => got++)!;
      expect(conn.recvFrame()).toBe(false);
      expect(got).toBe(1);
      conn.stream.read = () => encode(d, CH);
      // Paused: nothing read, however often amqplib asks.
      expect(conn.recvFrame()).toBe(false);
      expect(got).toBe(1);
      if (takeOff) off();
      await new Promise((r) => setTimeout(r, takeOff ? 1 : 40));
      expect(readable).toBe(1);
      if (!takeOff) {
        conn.stream.read = () => null;
        expect(conn.recvFrame()).toBe(false);
        off();
      }
    }
  });

  it('stays off when amqplib is not the expected shape', () => {
    expect(installDeliveryReader({} as ChannelModel, { ch: 1 } as unknown as Channel, () => undefined)).toBeUndefined();
    expect(installDeliveryReader({ connection: { recvFrame: () => false } } as unknown as ChannelModel, { ch: 1 } as unknown as Channel, () => undefined)).toBeUndefined();
  });
});
