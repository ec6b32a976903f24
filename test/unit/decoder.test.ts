import { describe, expect, it } from 'vitest';
import { parseBody } from '../../src/decoder/body.js';
import { decodeEnvelope, decodeEnvelopeBuffer } from '../../src/decoder/envelope.js';
import { exceptionClass } from '../../src/decoder/exception.js';
import { Invalid } from '../../src/decoder/invalid.js';
import { parseJsonTolerant } from '../../src/decoder/json.js';
import { capturedRedisMessages, envelope } from './fixtures.js';

describe('kombu envelope', () => {
  const messages = capturedRedisMessages();

  it('decodes every captured message, single events and task.multi arrays', () => {
    let arrays = 0;
    let events = 0;
    for (const m of messages) {
      const body = decodeEnvelope(m.data);
      expect(body).not.toBeInstanceOf(Invalid);
      const parsed = parseBody(body as string);
      expect(parsed).not.toBeInstanceOf(Invalid);
      if (Array.isArray(parsed)) {
        arrays++;
        expect(m.channel.endsWith('task.multi')).toBe(true);
        events += parsed.length;
      } else events++;
    }
    expect(arrays).toBeGreaterThan(10);
    expect(events).toBe(66);
  });

  it('takes the fast path and the full parse to the same body', () => {
    for (const m of messages) {
      const fast = decodeEnvelope(m.data);
      // Reordering the keys defeats the fast path; the result must not change.
      const env = JSON.parse(m.data) as Record<string, unknown>;
      const reordered = JSON.stringify({ properties: env['properties'], ...env });
      expect(decodeEnvelope(reordered)).toEqual(fast);
    }
  });

  it('decodes from a socket buffer view exactly as from a string', () => {
    for (const m of messages) {
      const framed = Buffer.concat([Buffer.from('junk-before'), Buffer.from(m.data), Buffer.from('"junk-after"}}')]);
      const start = 'junk-before'.length;
      expect(decodeEnvelopeBuffer(framed, start, start + Buffer.byteLength(m.data))).toEqual(decodeEnvelope(m.data));
    }
  });

  it('accepts a utf-8 body_encoding envelope with escapes', () => {
    const env = JSON.stringify({
      body: JSON.stringify({ type: 'worker-heartbeat', hostname: 'w\u00e9@h' }),
      'content-type': 'application/json',
      properties: { body_encoding: 'utf-8' },
    });
    const body = decodeEnvelope(env);
    expect(parseBody(body as string)).toEqual({ type: 'worker-heartbeat', hostname: 'wé@h' });
  });

  it('rejects what it cannot read with a reason', () => {
    const reason = (raw: string) => (decodeEnvelope(raw) as Invalid).reason;
    expect(reason('not json')).toBe('envelope');
    expect(reason('[1,2]')).toBe('envelope');
    expect(reason('{"body": 5}')).toBe('envelope');
    expect(reason('{"body": "@@@@", "content-type": "application/json", "properties": {"body_encoding": "base64"}}')).toBe('encoding');
    expect(reason('{"body": "eyJ9", "content-type": "application/x-python-serialize", "properties": {"body_encoding": "base64"}}')).toBe('content_type');
    expect(reason('{"body": "eyJ9", "content-type": "application/x-yaml", "properties": {"body_encoding": "base64"}}')).toBe('content_type');
    expect(reason('{"body": "eyJ9", "headers": {"compression": "application/x-gzip"}, "properties": {"body_encoding": "base64"}}')).toBe('compression');
    expect(reason('{"body": "eyJ9", "properties": {"body_encoding": "rot13"}}')).toBe('encoding');
  });

  it('flags a body that is not JSON', () => {
    const raw = envelope('x').replace(/"body": "[^"]*"/, `"body": "${Buffer.from('{nope').toString('base64')}"`);
    expect((parseBody(decodeEnvelope(raw) as string) as Invalid).reason).toBe('json');
    expect((parseBody('42') as Invalid).reason).toBe('shape');
    expect((parseBody('null') as Invalid).reason).toBe('shape');
  });
});

describe('tolerant JSON', () => {
  it('reads the bare NaN and Infinity Python writes, outside strings only', () => {
    expect(parseJsonTolerant('{"runtime": NaN, "a": Infinity, "b": -Infinity, "s": "NaN Infinity"}')).toEqual({
      runtime: null,
      a: null,
      b: null,
      s: 'NaN Infinity',
    });
    expect(parseJsonTolerant('{"s": "say \\"NaN\\"", "x": NaN}')).toEqual({ s: 'say "NaN"', x: null });
    expect(() => parseJsonTolerant('{bad NaN')).toThrow();
  });
});

describe('exception class', () => {
  it('reads the class from the repr, dotted or not', () => {
    expect(exceptionClass("ValueError('kaboom')", undefined)).toBe('ValueError');
    expect(exceptionClass("KeyError('missing')", undefined)).toBe('KeyError');
    expect(exceptionClass('billiard.exceptions.WorkerLostError(\'Worker exited prematurely\')', undefined)).toBe('WorkerLostError');
    expect(exceptionClass("NotRegistered('tasks.nope')", undefined)).toBe('NotRegistered');
    expect(exceptionClass('TimeLimitExceeded(60,)', undefined)).toBe('TimeLimitExceeded');
  });

  it('looks through wrappers to the last traceback line', () => {
    const tb = 'Traceback (most recent call last):\n  File "x.py", line 1, in f\n    raise Boom()\nmyapp.errors.Boom: bad thing\n';
    expect(exceptionClass("ExceptionWithTraceback('...')", tb)).toBe('Boom');
    expect(exceptionClass(undefined, tb)).toBe('Boom');
  });

  it('falls back to UnknownException', () => {
    expect(exceptionClass(null, null)).toBe('UnknownException');
    expect(exceptionClass('', '')).toBe('UnknownException');
    expect(exceptionClass('x'.repeat(500) + '()', undefined)).toBe('UnknownException');
  });
});
