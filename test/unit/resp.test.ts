import { describe, expect, it } from 'vitest';
import { encodeCommand, RespError, RespReader, type Reply } from '../../src/broker/redis/resp.js';

function collect() {
  const messages: string[] = [];
  const replies: Reply[] = [];
  const reader = new RespReader({
    onMessage: (buf, s, e) => messages.push(buf.toString('utf8', s, e)),
    onReply: (r) => replies.push(r),
  });
  return { reader, messages, replies };
}

const pmessage = (payload: string, pattern = '/0.celeryev/*', channel = '/0.celeryev/task.multi') =>
  Buffer.from(`*4\r\n$8\r\npmessage\r\n$${pattern.length}\r\n${pattern}\r\n$${channel.length}\r\n${channel}\r\n$${Buffer.byteLength(payload)}\r\n${payload}\r\n`);

describe('RESP reader', () => {
  it('encodes commands as RESP arrays of bulk strings', () => {
    expect(encodeCommand(['PSUBSCRIBE', '/0.celeryev/*']).toString()).toBe('*2\r\n$10\r\nPSUBSCRIBE\r\n$13\r\n/0.celeryev/*\r\n');
  });

  it('reads replies and pub/sub messages in order', () => {
    const { reader, messages, replies } = collect();
    reader.feed(
      Buffer.concat([
        Buffer.from('+OK\r\n-ERR nope\r\n:3\r\n*3\r\n$10\r\npsubscribe\r\n$13\r\n/0.celeryev/*\r\n:1\r\n'),
        pmessage('{"a": 1}'),
        Buffer.from('*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$5\r\nhello\r\n*2\r\n$4\r\npong\r\n$0\r\n\r\n$-1\r\n'),
        pmessage('é ünïcode'),
      ]),
    );
    expect(messages).toEqual(['{"a": 1}', 'hello', 'é ünïcode']);
    expect(replies.slice(0, 2)).toEqual(['OK', new RespError('ERR nope')]);
    expect(replies.slice(2)).toEqual([3, ['psubscribe', '/0.celeryev/*', 1], ['pong', ''], null]);
  });

  it('reassembles frames split at every possible byte', () => {
    const stream = Buffer.concat([pmessage('x'.repeat(300)), Buffer.from('+OK\r\n'), pmessage('{"b": 2}')]);
    for (let cut = 1; cut < stream.length; cut++) {
      const { reader, messages, replies } = collect();
      reader.feed(stream.subarray(0, cut));
      reader.feed(stream.subarray(cut));
      expect(messages, `cut at ${cut}`).toEqual(['x'.repeat(300), '{"b": 2}']);
      expect(replies).toEqual(['OK']);
    }
  });

  it('joins a large message delivered in many small chunks', () => {
    const big = 'y'.repeat(3_000_000);
    const stream = pmessage(big);
    const { reader, messages } = collect();
    for (let i = 0; i < stream.length; i += 65_536) reader.feed(stream.subarray(i, i + 65_536));
    expect(messages).toHaveLength(1);
    expect(messages[0]!.length).toBe(big.length);
  });

  it('throws on garbage instead of misreading it', () => {
    const { reader } = collect();
    expect(() => reader.feed(Buffer.from('?what\r\n'))).toThrow(RespError);
    const r2 = collect().reader;
    expect(() => r2.feed(Buffer.from('*4\r\n$8\r\npmessage\r\n$x1\r\n'))).toThrow(RespError);
  });
});
