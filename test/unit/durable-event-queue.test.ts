import { describe, expect, it } from 'vitest';
import { AckWindow } from '../../src/broker/amqp/acks.js';
import { durableQueueArguments } from '../../src/broker/amqp/event-queue.js';
import { amqpOptions, buildAmqpConfig } from '../../src/config/amqp-config.js';
import { defaultsOf } from '../../src/config/argv.js';
import { parseBrokerUrl } from '../../src/config/broker-url.js';

/** --event-queue-name (issue 16, item 3): its options and the acknowledgement bookkeeping. */
/** The defaults of the option table, with some flags set. */
const argv = (set: Record<string, unknown>) => ({ ...defaultsOf(amqpOptions), ...set });

describe('--event-queue-name options', () => {
  const broker = parseBrokerUrl('amqp://app:pw@rabbit:5672/prod');

  it('a named queue defaults to no message TTL, an hour of x-expires and 1,000,000 messages, drop-head', () => {
    const q = buildAmqpConfig(argv({ 'event-queue-name': 'celeryev.exporter-0' }), broker).durableEventQueue!;
    expect(q).toEqual({ name: 'celeryev.exporter-0', ttl: undefined, expires: 3600, maxLength: 1_000_000, shared: false });
    expect(durableQueueArguments(q)).toEqual({ 'x-expires': 3_600_000, 'x-max-length': 1_000_000, 'x-overflow': 'drop-head' });
  });

  it('takes the TTL, expiry, length and sharing flags', () => {
    const set = { 'event-queue-name': 'ev', 'event-queue-ttl': 600, 'event-queue-expires': 7200, 'event-queue-max-length': 5000, 'event-queue-shared': true };
    const q = buildAmqpConfig(argv(set), broker).durableEventQueue!;
    expect(durableQueueArguments(q)).toEqual({ 'x-expires': 7_200_000, 'x-max-length': 5000, 'x-overflow': 'drop-head', 'x-message-ttl': 600_000 });
    expect(q.shared).toBe(true);
  });

  it('without a name: no durable queue and Celery’s 5 s TTL and 60 s expiry, as before', () => {
    const c = buildAmqpConfig(argv({}), broker);
    expect(c.durableEventQueue).toBeUndefined();
    expect([c.eventQueueTtl, c.eventQueueExpires]).toEqual([5, 60]);
  });

  it('refuses a reserved or too long name and a zero length, naming the flag', () => {
    expect(() => buildAmqpConfig(argv({ 'event-queue-name': 'amq.events' }), broker)).toThrow(/--event-queue-name/);
    expect(() => buildAmqpConfig(argv({ 'event-queue-name': 'x'.repeat(256) }), broker)).toThrow(/--event-queue-name/);
    expect(() => buildAmqpConfig(argv({ 'event-queue-name': 'ev', 'event-queue-max-length': 0 }), broker)).toThrow(/--event-queue-max-length/);
  });
});

describe('AckWindow', () => {
  const window = () => {
    const acks: number[] = [];
    const w = new AckWindow();
    w.attach((tag) => acks.push(tag));
    return { w, acks };
  };

  it('acknowledges up to the last processed tag, once, in one frame', () => {
    const { w, acks } = window();
    for (let tag = 1; tag <= 5; tag++) expect(w.delivered(tag, false)).toBe(true);
    expect(w.pending).toBe(5);
    expect(w.settle()).toBe(true);
    expect(w.settle()).toBe(false);
    w.delivered(6, false);
    w.settle();
    expect(acks).toEqual([5, 6]);
    expect(w.pending).toBe(0);
  });

  it('after a lost channel, skips exactly the redeliveries of what it had counted and not acknowledged', () => {
    const { w, acks } = window();
    for (let tag = 1; tag <= 10; tag++) w.delivered(tag, false);
    w.settle(); // 1..10 acknowledged
    for (let tag = 11; tag <= 14; tag++) w.delivered(tag, false); // counted, not acknowledged
    expect(w.detach()).toBe(4);
    const again: number[] = [];
    w.attach((tag) => again.push(tag));
    // RabbitMQ requeues 11..14 (and whatever was in flight, here 15..16) at the head, redelivered.
    const processed = [1, 2, 3, 4, 5, 6].map((tag) => w.delivered(tag, true));
    expect(processed).toEqual([false, false, false, false, true, true]);
    expect(w.skipped).toBe(4);
    w.settle();
    expect([acks, again]).toEqual([[10], [6]]);
  });

  it('stops skipping at the first delivery that is not a redelivery', () => {
    const { w } = window();
    for (let tag = 1; tag <= 3; tag++) w.delivered(tag, false);
    w.detach();
    w.attach(() => undefined);
    expect(w.delivered(1, true)).toBe(false);
    expect(w.delivered(2, false)).toBe(true);
    expect(w.delivered(3, true)).toBe(true);
  });

  it('keeps what is still to skip across a second loss before the redeliveries came back', () => {
    const { w } = window();
    for (let tag = 1; tag <= 3; tag++) w.delivered(tag, false);
    w.detach(); // 3 to skip
    w.attach(() => undefined);
    w.delivered(1, true); // one skipped, two still due
    expect(w.detach()).toBe(1); // the skipped one was not acknowledged either: it comes back too
    w.attach(() => undefined);
    expect([1, 2, 3, 4].map((t) => w.delivered(t, true))).toEqual([false, false, false, true]);
  });

  it('acknowledges nothing while detached', () => {
    const { w, acks } = window();
    w.delivered(1, false);
    w.detach();
    expect(w.settle()).toBe(false);
    expect(acks).toEqual([]);
  });
});
