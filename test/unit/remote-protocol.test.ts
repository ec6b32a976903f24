import { describe, expect, it } from 'vitest';
import { envelope } from '../../src/broker/redis/pidbox-wire.js';
import { unframe as unframeAmqp } from '../../src/broker/amqp/pidbox.js';
import { unframe as unframeRedis } from '../../src/broker/redis/pidbox-wire.js';
import { isUnreadable, type ReplyMessage } from '../../src/remote/mailbox.js';
import { buildRequest, pidboxNames, replyQueueName, requestHeaders } from '../../src/remote/protocol.js';
import { parseReply } from '../../src/remote/reply.js';
import { capturedPidbox, rawReply } from './pidbox-fixtures.js';

const names = pidboxNames();
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

type Obj = Record<string, unknown>;

/** Celery's request body of a captured call (Redis: base64 in the envelope; AMQP: the plain body). */
function celeryBody(kind: 'redis' | 'amqp', req: unknown): Obj {
  const r = req as Obj;
  const text = kind === 'redis' ? Buffer.from(String(r['body']), 'base64').toString('utf8') : String(r['body']);
  return JSON.parse(text) as Obj;
}

describe('request encoding, against the requests Celery 5.2.6 itself sent', () => {
  for (const kind of ['redis', 'amqp'] as const) {
    const data = capturedPidbox(kind);
    it(`${kind}: every method's body has Celery's keys, order and values (ids aside)`, () => {
      expect(data.calls.length).toBe(10);
      for (const call of data.calls) {
        const theirs = celeryBody(kind, call.celery_request);
        const ours = buildRequest(call.method, theirs['arguments'] as Obj, { reply: { ticket: 'T', oid: 'O' }, names }) as unknown as Obj;
        expect(Object.keys(ours)).toEqual(Object.keys(theirs));
        const { ticket, reply_to, ...rest } = theirs;
        expect(ticket).toMatch(UUID);
        expect((reply_to as Obj)['exchange']).toBe('reply.celery.pidbox');
        expect({ ...ours, ticket: undefined, reply_to: undefined }).toEqual({ ...rest, ticket: undefined, reply_to: undefined });
        expect(ours['reply_to']).toEqual({ exchange: 'reply.celery.pidbox', routing_key: 'O' });
      }
    });
  }

  it('redis: our envelope has the shape of Celery’s (keys, properties, delivery info, header names)', () => {
    const theirs = capturedPidbox('redis').calls[0]!.celery_request as Obj;
    const req = buildRequest('ping', {}, { reply: { ticket: 'T', oid: 'O' }, names });
    const ours = JSON.parse(envelope(req, requestHeaders(1000, 1_795_000_000_000), names)) as Obj;
    expect(Object.keys(ours)).toEqual(Object.keys(theirs));
    const [op, tp] = [ours['properties'] as Obj, theirs['properties'] as Obj];
    expect(Object.keys(op)).toEqual(Object.keys(tp));
    expect({ ...op, delivery_tag: 'x' }).toEqual({ ...tp, delivery_tag: 'x' });
    expect(op['delivery_tag']).toMatch(UUID);
    expect(ours['content-type']).toBe(theirs['content-type']);
    expect(ours['content-encoding']).toBe(theirs['content-encoding']);
    expect(Object.keys(ours['headers'] as Obj)).toEqual(Object.keys(theirs['headers'] as Obj));
    expect((ours['headers'] as Obj)['expires']).toBe(1_795_000_001);
    expect(JSON.parse(Buffer.from(String(ours['body']), 'base64').toString())).toEqual(req);
  });

  it('a cast carries no ticket or reply_to; a destination is always a list', () => {
    const cast = buildRequest('heartbeat', {}, { names });
    expect(Object.keys(cast)).toEqual(['method', 'arguments', 'destination', 'pattern', 'matcher']);
    expect(buildRequest('ping', {}, { destination: ['w1@h'], names }).destination).toEqual(['w1@h']);
    expect(buildRequest('ping', {}, { destination: [], names }).destination).toBeNull();
  });

  it('the clock moves forward; expires is 0 without a timeout', () => {
    const a = requestHeaders(undefined);
    const b = requestHeaders(500, 10_000);
    expect(a.expires).toBe(0);
    expect(b.clock).toBe(a.clock + 1);
    expect(b.expires).toBe(10.5);
  });

  it('names follow the control exchange', () => {
    expect(names).toEqual({ requestExchange: 'celery.pidbox', replyExchange: 'reply.celery.pidbox' });
    expect(replyQueueName('abc', names)).toBe('abc.reply.celery.pidbox');
    expect(pidboxNames('app2')).toEqual({ requestExchange: 'app2.pidbox', replyExchange: 'reply.app2.pidbox' });
  });
});

describe('reply decoding, on the replies real workers sent', () => {
  for (const kind of ['redis', 'amqp'] as const) {
    it(`${kind}: every captured reply unframes, carries its call's ticket and names one worker`, () => {
      const data = capturedPidbox(kind);
      let n = 0;
      for (const call of data.calls) {
        expect(call.replies).toHaveLength(3);
        const hosts: string[] = [];
        for (const r of call.replies) {
          const raw = rawReply(kind, r);
          expect(isUnreadable(raw)).toBe(false);
          expect((raw as ReplyMessage).headers['ticket']).toBe(call.ticket);
          const p = parseReply(raw, call.ticket);
          if (p.kind !== 'reply') throw new Error(p.kind);
          expect(p.nodes).toHaveLength(1);
          hosts.push(p.nodes[0]![0]);
          n++;
        }
        expect(hosts.sort()).toEqual([...data.workers].sort());
      }
      expect(n).toBe(30);
    });
  }

  it('a reply with another ticket is foreign; one without a ticket is ours (as kombu treats it)', () => {
    const r = rawReply('redis', capturedPidbox('redis').calls[0]!.replies[0]) as ReplyMessage;
    expect(parseReply(r, 'not-this-call').kind).toBe('foreign');
    const { ticket: _t, ...headers } = r.headers;
    expect(parseReply({ headers, text: r.text }, 'any').kind).toBe('reply');
  });

  it('a reply past its expires header is dropped', () => {
    expect(parseReply({ headers: { expires: 1000 }, text: '{"a@b": 1}' }, 't', 1_001_000).kind).toBe('expired');
    expect(parseReply({ headers: { expires: 1000 }, text: '{"a@b": 1}' }, 't', 999_000).kind).toBe('reply');
  });

  it('unreadable replies are classified, never thrown', () => {
    const good = capturedPidbox('redis').calls[0]!.replies[0] as string;
    const env = JSON.parse(good) as Obj;
    const cases: Array<[string, string]> = [
      ['not json at all', 'envelope'],
      ['[1, 2]', 'envelope'],
      [JSON.stringify({ ...env, body: '!!!not base64' }), 'encoding'],
      [JSON.stringify({ ...env, 'content-type': 'application/x-python-serialize' }), 'content_type'],
      [JSON.stringify({ ...env, body: Buffer.from('{"a@b": ').toString('base64') }), 'json'],
      [JSON.stringify({ ...env, body: Buffer.from('["a@b"]').toString('base64') }), 'shape'],
      [JSON.stringify({ ...env, body: Buffer.from('{}').toString('base64') }), 'shape'],
    ];
    for (const [raw, reason] of cases) {
      const p = parseReply(unframeRedis(raw), String((env['headers'] as Obj)['ticket']));
      expect(p, raw).toEqual({ kind: 'invalid', reason });
    }
    const pickle = unframeAmqp({ content: Buffer.from('x'), properties: { contentType: 'application/x-python-serialize' } });
    expect(parseReply(pickle, 't')).toEqual({ kind: 'invalid', reason: 'content_type' });
  });

  it('Python NaN in a reply does not make it unreadable', () => {
    const p = parseReply({ headers: {}, text: '{"w@h": {"avg": NaN}}' }, 't');
    expect(p).toEqual({ kind: 'reply', nodes: [['w@h', { avg: null }]] });
  });
});
