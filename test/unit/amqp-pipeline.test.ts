import { describe, expect, it } from 'vitest';
import { select, sum, value, type Sample } from '../helpers/metrics.js';
import { makeCore } from './core.js';
import { capturedAmqpMessages, capturedRedisMessages } from './fixtures.js';
import { decodeAmqpBody } from '../../src/decoder/body.js';
import { decodeEnvelope } from '../../src/decoder/envelope.js';

/** The same standard workload, captured once over RabbitMQ and once over Redis. */
function replayAmqp() {
  const t = makeCore();
  for (const m of capturedAmqpMessages()) {
    t.pipeline.onBody(decodeAmqpBody(Buffer.from(m.body, 'utf8'), m.content_type ?? undefined, m.content_encoding ?? undefined));
  }
  return t;
}

const taskCounters = (s: Sample[]) =>
  s
    .filter((x) => /^celery_task_[a-z]+_total$/.test(x.name) && x.name !== 'celery_task_sent_total')
    .map((x) => `${x.name}{${x.labels['name']},${x.labels['queue_name']},${x.labels['exception'] ?? ''}} ${x.value}`)
    .sort();

describe('replaying the AMQP stream captured from a real worker', () => {
  it('is plain JSON with Celery’s properties: no kombu envelope, batches on task.multi', () => {
    const msgs = capturedAmqpMessages();
    expect(msgs.length).toBeGreaterThan(30);
    for (const m of msgs) {
      expect(m.content_type).toBe('application/json');
      expect(m.content_encoding).toBe('utf-8');
      expect(m.delivery_mode).toBe(1);
      expect(m.body).not.toContain('"body_encoding"');
    }
    const multi = msgs.filter((m) => m.routing_key === 'task.multi');
    expect(multi.length).toBeGreaterThan(0);
    for (const m of multi) expect(Array.isArray(JSON.parse(m.body))).toBe(true);
  });

  it('yields the workload’s exact counts through the AMQP body decoding', () => {
    const s = replayAmqp().samples();
    const w = { hostname: 'w1@probe' };
    expect(value(s, 'celery_task_succeeded_total', { ...w, name: 'tests.add', queue_name: 'qa' })).toBe(5);
    expect(value(s, 'celery_task_succeeded_total', { ...w, name: 'tests.add', queue_name: 'high-priority' })).toBe(3);
    expect(value(s, 'celery_task_failed_total', { ...w, name: 'tests.fail_value', exception: 'ValueError' })).toBe(2);
    expect(value(s, 'celery_task_failed_total', { ...w, name: 'tests.fail_key', exception: 'KeyError' })).toBe(1);
    expect(value(s, 'celery_task_retried_total', { ...w, name: 'tests.retry_once' })).toBe(1);
    expect(value(s, 'celery_task_revoked_total', { ...w, name: 'tests.add', queue_name: 'high-priority' })).toBe(1);
    expect(value(s, 'celery_task_rejected_total', { ...w, name: 'tests.reject' })).toBe(1);
    expect(sum(s, 'celery_task_sent_total')).toBe(15);
    expect(value(s, 'celery_worker_up', w)).toBe(0); // the capture ends with worker-offline
    expect(value(s, 'celery_worker_info', { ...w, sw_ident: 'py-celery', sw_ver: '5.2.6' })).toBe(1);
    expect(sum(s, 'celery_exporter_events_invalid_total')).toBe(0);
    expect(value(s, 'celery_exporter_tracked_tasks')).toBe(0);
    expect(select(s, 'celery_task_received_total', { queue_name: 'unknown' })).toHaveLength(0);
  });

  it('gives the same task metrics as the Redis capture of the same workload', () => {
    const redis = makeCore();
    for (const m of capturedRedisMessages()) redis.pipeline.onBody(decodeEnvelope(m.data));
    expect(taskCounters(replayAmqp().samples())).toEqual(taskCounters(redis.samples()));
  });

  it('rejects bodies whose properties say they are not UTF-8 JSON, and counts why', () => {
    const t = makeCore();
    const body = Buffer.from(capturedAmqpMessages()[0]!.body, 'utf8');
    t.pipeline.onBody(decodeAmqpBody(body, 'application/x-python-serialize', 'binary'));
    t.pipeline.onBody(decodeAmqpBody(body, 'application/json', 'binary'));
    t.pipeline.onBody(decodeAmqpBody(Buffer.from('{not json'), 'application/json', 'utf-8'));
    // No properties at all (a hand-made publisher): read as JSON.
    t.pipeline.onBody(decodeAmqpBody(body, undefined, undefined));
    const s = t.samples();
    expect(value(s, 'celery_exporter_events_invalid_total', { reason: 'content_type' })).toBe(1);
    expect(value(s, 'celery_exporter_events_invalid_total', { reason: 'encoding' })).toBe(1);
    expect(value(s, 'celery_exporter_events_invalid_total', { reason: 'json' })).toBe(1);
    expect(value(s, 'celery_exporter_events_total', { type: 'worker-online' })).toBe(1);
  });
});
