import { describe, expect, it } from 'vitest';
import { byNode, RemoteControl } from '../../src/remote/client.js';
import type { Mailbox, RawReply, ReplyInbox } from '../../src/remote/mailbox.js';
import type { PidboxRequest } from '../../src/remote/protocol.js';

/** A reply the fake broker delivers `afterMs` after the previous one (or after publishing). */
interface Scripted {
  afterMs: number;
  reply: RawReply;
}

/**
 * A mailbox whose inbox answers from a script instead of waiting: next(idleMs) returns the
 * next scripted reply if it arrives within idleMs of the previous event, else reports idle.
 * Deterministic, so the collection rules can be checked without timing.
 */
class FakeMailbox implements Mailbox {
  readonly kind = 'redis' as const;
  log: string[] = [];
  published: PidboxRequest[] = [];
  closed = 0;
  constructor(
    private readonly script: Scripted[],
    private readonly receivers: number | undefined = undefined,
    private readonly fail: { publish?: Error; next?: Error } = {},
  ) {}

  async openInbox(oid: string): Promise<ReplyInbox> {
    this.log.push(`open ${oid}`);
    const script = [...this.script];
    const box = this;
    return {
      async next(idleMs: number, signal?: AbortSignal) {
        box.log.push(`next ${idleMs}`);
        if (signal?.aborted) throw new Error('aborted');
        if (box.fail.next) throw box.fail.next;
        const s = script[0];
        if (s === undefined || s.afterMs > idleMs) return undefined;
        script.shift();
        return s.reply;
      },
      async close() {
        box.log.push('close');
        box.closed++;
      },
    };
  }

  async publish(request: PidboxRequest): Promise<number | undefined> {
    this.log.push('publish');
    if (this.fail.publish) throw this.fail.publish;
    this.published.push(request);
    return this.receivers;
  }

  async close(): Promise<void> {}
}

let ids = 0;
const newId = () => `id-${++ids}`;
/** The ticket of the call under test: ids are handed out oid first, then ticket. */
const reply = (node: string, value: unknown, ticket: string | undefined): RawReply => ({
  headers: ticket === undefined ? {} : { ticket },
  text: JSON.stringify({ [node]: value }),
});

function client(box: Mailbox, invalid: string[] = []) {
  ids = 0;
  return new RemoteControl(box, { onInvalidReply: (r) => invalid.push(r) }, undefined, newId);
}

describe('reply collection (Celery’s Mailbox._collect semantics)', () => {
  it('opens the reply inbox before publishing, and removes it afterwards', async () => {
    const box = new FakeMailbox([]);
    await client(box).call('ping', { timeoutMs: 100 });
    expect(box.log).toEqual(['open id-1', 'publish', 'next 100', 'close']);
    expect(box.published[0]).toMatchObject({ method: 'ping', ticket: 'id-2', reply_to: { exchange: 'reply.celery.pidbox', routing_key: 'id-1' } });
  });

  it('the timeout is an inactivity gap: each reply restarts it', async () => {
    // Four replies 80 ms apart (320 ms in all) with a 100 ms window: all collected.
    const box = new FakeMailbox([1, 2, 3, 4].map((i) => ({ afterMs: 80, reply: reply(`w${i}@h`, { ok: 'pong' }, 'id-2') })));
    const r = await client(box).call('ping', { timeoutMs: 100 });
    expect(r.replies.map((x) => x.hostname)).toEqual(['w1@h', 'w2@h', 'w3@h', 'w4@h']);
  });

  it('a gap longer than the timeout ends collection, even if more would come', async () => {
    const box = new FakeMailbox([
      { afterMs: 10, reply: reply('w1@h', 1, 'id-2') },
      { afterMs: 150, reply: reply('w2@h', 2, 'id-2') },
    ]);
    const r = await client(box).call('ping', { timeoutMs: 100 });
    expect(r.replies.map((x) => x.hostname)).toEqual(['w1@h']);
  });

  it('stops at the count the broker reported receiving the request, without waiting', async () => {
    const box = new FakeMailbox(
      [1, 2, 3].map((i) => ({ afterMs: 1, reply: reply(`w${i}@h`, 1, 'id-2') })),
      2,
    );
    const r = await client(box).call('stats', { timeoutMs: 1000 });
    expect(r.replies).toHaveLength(2);
    expect(r.receivers).toBe(2);
    expect(box.log.filter((l) => l.startsWith('next'))).toHaveLength(2);
  });

  it('does not wait at all when no mailbox received the request', async () => {
    const box = new FakeMailbox([], 0);
    const r = await client(box).call('ping', { timeoutMs: 1000 });
    expect(r.replies).toEqual([]);
    expect(box.log).toEqual(['open id-1', 'publish', 'close']);
  });

  it('with a destination, sends it as a list and stops once each destination replied', async () => {
    const box = new FakeMailbox([1, 2].map((i) => ({ afterMs: 1, reply: reply(`w${i}@h`, 1, 'id-2') })));
    const r = await client(box).call('ping', { timeoutMs: 1000, destination: ['w1@h'] });
    expect(box.published[0]!.destination).toEqual(['w1@h']);
    expect(r.replies.map((x) => x.hostname)).toEqual(['w1@h']);
  });

  it('skips and counts malformed replies, keeps the good ones, does not count them toward the limit', async () => {
    const invalid: string[] = [];
    const box = new FakeMailbox(
      [
        { afterMs: 1, reply: { invalid: 'encoding' } },
        { afterMs: 1, reply: { headers: { ticket: 'id-2' }, text: '{"w1@h": ' } },
        { afterMs: 1, reply: { headers: { ticket: 'id-2' }, text: '[]' } },
        { afterMs: 1, reply: reply('w1@h', { ok: 'pong' }, 'id-2') },
        { afterMs: 1, reply: reply('w2@h', { ok: 'pong' }, 'id-2') },
      ],
      2,
    );
    const r = await client(box, invalid).call('ping', { timeoutMs: 100 });
    expect(r.replies.map((x) => x.hostname)).toEqual(['w1@h', 'w2@h']);
    expect(r.invalid).toBe(3);
    expect(invalid).toEqual(['encoding', 'json', 'shape']);
  });

  it('skips replies that carry another call’s ticket', async () => {
    const box = new FakeMailbox([
      { afterMs: 1, reply: reply('old@h', 1, 'some-other-ticket') },
      { afterMs: 1, reply: reply('w1@h', 1, 'id-2') },
    ]);
    const r = await client(box).call('ping', { timeoutMs: 100 });
    expect(r.replies.map((x) => x.hostname)).toEqual(['w1@h']);
    expect(r.skipped).toBe(1);
  });

  it('removes the inbox when publishing fails, when reading fails, and when aborted', async () => {
    for (const fail of [{ publish: new Error('publish failed') }, { next: new Error('connection lost') }]) {
      const box = new FakeMailbox([], undefined, fail);
      await expect(client(box).call('ping', { timeoutMs: 100 })).rejects.toThrow(/failed|lost/);
      expect(box.closed).toBe(1);
    }
    const ac = new AbortController();
    ac.abort(new Error('timed out'));
    const box = new FakeMailbox([]);
    await expect(client(box).call('ping', { timeoutMs: 100, signal: ac.signal })).rejects.toThrow('timed out');
    expect(box.closed).toBe(1);
  });

  it('a cast publishes without ticket or reply_to and opens no inbox', async () => {
    const box = new FakeMailbox([]);
    const r = await client(box).call('heartbeat', { timeoutMs: 100, reply: false });
    expect(box.log).toEqual(['publish']);
    expect(box.published[0]).not.toHaveProperty('ticket');
    expect(r.replies).toEqual([]);
  });

  it('every call gets a fresh oid and ticket', async () => {
    const box = new FakeMailbox([]);
    const rc = new RemoteControl(box);
    await rc.call('ping', { timeoutMs: 1 });
    await rc.call('ping', { timeoutMs: 1 });
    const [a, b] = box.published;
    expect(a!.ticket).not.toBe(b!.ticket);
    expect(a!.reply_to!.routing_key).not.toBe(b!.reply_to!.routing_key);
    expect(a!.ticket).not.toBe(a!.reply_to!.routing_key);
  });
});

describe('merging replies by node (flatten_reply)', () => {
  it('a later reply of the same node wins and the duplicate is reported', () => {
    const { nodes, duplicates } = byNode([
      { hostname: 'a@h', value: 1, elapsedMs: 1 },
      { hostname: 'b@h', value: 2, elapsedMs: 1 },
      { hostname: 'a@h', value: 3, elapsedMs: 1 },
    ]);
    expect(nodes).toEqual({ 'a@h': 3, 'b@h': 2 });
    expect(duplicates).toEqual(['a@h']);
  });

  it('a node named __proto__ stays an ordinary key', () => {
    const { nodes } = byNode([{ hostname: '__proto__', value: { polluted: true }, elapsedMs: 1 }]);
    expect(Object.keys(nodes)).toEqual(['__proto__']);
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
    expect(JSON.stringify(nodes)).toBe('{"__proto__":{"polluted":true}}');
  });
});
