import { describe, expect, it } from 'vitest';
import { parseBrokerUrl } from '../../src/config/broker-url.js';
import { ConfigError } from '../../src/config/errors.js';
import { parsePrioritySteps } from '../../src/config/parse.js';
import { parseRedisInfo } from '../../src/broker/redis/info.js';
import { RedisQueueLayout, isInternalExchange, isInternalQueue, queueDepth } from '../../src/broker/redis/queue-keys.js';
import { aggregateUnacked, unackedQueue } from '../../src/broker/redis/unacked.js';

const S = '\x06\x16';

describe('Redis queue layout', () => {
  it('names the base list and the priority sub-lists as kombu does', () => {
    const l = new RedisQueueLayout();
    expect(l.priorityKeys('celery')).toEqual([
      { step: '0', key: 'celery' },
      { step: '3', key: `celery${S}3` },
      { step: '6', key: `celery${S}6` },
      { step: '9', key: `celery${S}9` },
    ]);
    expect(l.unackedKey).toBe('unacked');
    expect(l.unackedIndexKey).toBe('unacked_index');
    expect(l.bindingPattern).toBe('_kombu.binding.*');
  });

  it('honours sep, priority_steps, global_keyprefix and the unacked key options', () => {
    const l = RedisQueueLayout.fromBroker({
      url: parseBrokerUrl('redis://localhost/0'),
      transportOptions: { global_keyprefix: 'app[1]:', sep: ':', priority_steps: [0, 5], unacked_key: 'u', unacked_index_key: 'ui' },
    });
    expect(l.priorityKeys('q').map((k) => k.key)).toEqual(['app[1]:q', 'app[1]:q:5']);
    expect(l.unackedKey).toBe('app[1]:u');
    expect(l.unackedIndexKey).toBe('app[1]:ui');
    // Glob characters of the prefix must not widen the SCAN.
    expect(l.bindingPattern).toBe('app\\[1\\]:_kombu.binding.*');
    expect(l.exchangeOfBindingKey('app[1]:_kombu.binding.celery.pidbox')).toBe('celery.pidbox');
    expect(l.exchangeOfBindingKey('_kombu.binding.celery')).toBeUndefined();
  });

  it('always counts the base list, even when 0 is not a priority step', () => {
    const l = new RedisQueueLayout({ steps: [2, 4] });
    expect(l.priorityKeys('q').map((k) => k.step)).toEqual(['0', '2', '4']);
  });

  it('parses binding members and recognises Celery’s plumbing', () => {
    const l = new RedisQueueLayout();
    expect(l.parseBinding(`celery${S}${S}celery`)).toEqual({ routingKey: 'celery', queue: 'celery' });
    expect(l.parseBinding(`${S}${S}w1@h.celery.pidbox`)).toEqual({ routingKey: '', queue: 'w1@h.celery.pidbox' });
    expect(l.parseBinding('garbage')).toBeUndefined();
    expect(l.parseBinding(`a${S}b${S}`)).toBeUndefined();
    for (const ex of ['celeryev', 'celery.pidbox', 'reply.celery.pidbox']) expect(isInternalExchange(ex)).toBe(true);
    for (const ex of ['celery', 'default', 'celeryevents']) expect(isInternalExchange(ex)).toBe(false);
    for (const q of ['celeryev.5e1f', 'w1@h.celery.pidbox', '0b1c.reply.celery.pidbox']) expect(isInternalQueue(q)).toBe(true);
    expect(isInternalQueue('celery')).toBe(false);
  });

  it('sums depth over all lists and flags queues whose priority sub-lists hold messages', () => {
    const keys = new RedisQueueLayout().priorityKeys('q');
    expect(queueDepth(keys, [3, 0, 0, 0])).toEqual({ total: 3, prioritised: false, byStep: [['0', 3], ['3', 0], ['6', 0], ['9', 0]] });
    expect(queueDepth(keys, [3, 1, 0, 3])).toMatchObject({ total: 7, prioritised: true });
  });
});

describe('priority_steps option', () => {
  it('accepts a JSON list or a comma-separated string and sorts it', () => {
    expect(parsePrioritySteps('f', [9, 0, 3])).toEqual([0, 3, 9]);
    expect(parsePrioritySteps('f', '0, 5,9')).toEqual([0, 5, 9]);
    expect(parsePrioritySteps('f', 4)).toEqual([4]);
  });

  it('rejects anything else, naming the flag', () => {
    for (const bad of [[], ['x'], [-1], [1.5], 'a,b', '0,,3']) {
      expect(() => parsePrioritySteps('broker-transport-option', bad)).toThrow(ConfigError);
    }
    expect(() => parsePrioritySteps('broker-transport-option', 'x')).toThrow(/invalid --broker-transport-option/);
  });
});

describe('unacked (reserved) messages', () => {
  const value = (exchange: string, rk: string) => JSON.stringify([{ body: 'e30=', headers: { task: 't' }, properties: {} }, exchange, rk]);

  it('takes the queue from the routing key of the anonymous exchange', () => {
    expect(unackedQueue(value('', 'default'), new Map())).toBe('default');
  });

  it('resolves a named exchange through its bindings, else falls back to the routing key', () => {
    const bindings = new Map([['tasks', new Map([['rk.a', 'queue-a']])]]);
    expect(unackedQueue(value('tasks', 'rk.a'), bindings)).toBe('queue-a');
    expect(unackedQueue(value('tasks', 'rk.b'), bindings)).toBe('rk.b');
  });

  it('ignores values it cannot read', () => {
    for (const bad of ['not json', '{}', '[1,2]', '[{}, 1, 2]', JSON.stringify([{}, '', ''])]) {
      expect(unackedQueue(bad, new Map())).toBeUndefined();
    }
  });

  it('counts per queue with the oldest fetch time, including hash entries without an index entry', () => {
    const index = ['t1', '100.5', 't2', '90', 't3', '95', 't4', '80'];
    const queueOf = new Map<string, string | null>([
      ['t1', 'a'],
      ['t2', 'a'],
      ['t3', 'b'],
      ['t4', null], // index entry whose hash value is gone
    ]);
    const out = aggregateUnacked(index, queueOf, ['b', 'c']);
    expect(Object.fromEntries(out)).toEqual({
      a: { count: 2, oldest: 90 },
      b: { count: 2, oldest: 95 },
      c: { count: 1, oldest: NaN },
    });
  });
});

describe('Redis INFO', () => {
  it('reads clients, memory, uptime and evictions', () => {
    const text = '# Server\r\nredis_version:7.0.15\r\nuptime_in_seconds:472\r\n\r\n# Clients\r\nconnected_clients:2\r\n# Memory\r\nused_memory:1404880\r\nused_memory_human:1.34M\r\n# Stats\r\nevicted_keys:7\r\n';
    expect(parseRedisInfo(text)).toEqual({ connectedClients: 2, usedMemoryBytes: 1404880, uptimeSeconds: 472, evictedKeys: 7 });
    expect(parseRedisInfo('# Server\r\nfoo:bar\r\n')).toEqual({
      connectedClients: undefined,
      usedMemoryBytes: undefined,
      uptimeSeconds: undefined,
      evictedKeys: undefined,
    });
  });
});
