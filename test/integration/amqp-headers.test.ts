import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { amqpRequestHeaders } from '../../src/broker/amqp/pidbox.js';
import { PYTHON } from '../helpers/celery.js';
import { ROOT } from '../helpers/exporter.js';

const run = promisify(execFile);
// amqplib's own table encoder (not exported by the package; loaded by path).
const codec = createRequire(import.meta.url)(join(ROOT, 'node_modules', 'amqplib', 'lib', 'codec.js')) as {
  encodeTable(buf: Buffer, val: unknown, offset: number): number;
};

function encode(headers: Record<string, unknown>): string {
  const buf = Buffer.alloc(256);
  const n = codec.encodeTable(buf, headers, 0);
  return buf.subarray(0, n).toString('hex');
}

/** Decodes field tables with py-amqp, as a Celery worker does; one JSON result (or error) per table. */
async function pyAmqpDecode(tables: string[]): Promise<unknown[]> {
  const script = [
    'import json, sys',
    'from amqp.serialization import loads',
    'out = []',
    'for h in sys.argv[1:]:',
    '    try:',
    '        out.append(loads("F", bytes.fromhex(h), 0)[0][0])',
    '    except Exception as e:',
    '        out.append({"error": type(e).__name__})',
    'print(json.dumps(out))',
  ].join('\n');
  const { stdout } = await run(PYTHON, ['-c', script, ...tables]);
  return JSON.parse(stdout) as unknown[];
}

describe('AMQP request headers as a Celery worker (py-amqp) reads them', () => {
  const cases = [
    { clock: 1, expires: 0 },
    { clock: 127, expires: 1_795_684_756.25 },
    { clock: 128, expires: 1_795_684_756.5 },
    { clock: 40_000, expires: 1_795_684_757 },
    { clock: 2 ** 31 + 5, expires: 1_795_684_758.125 },
  ];

  it('carry clock and expires unchanged for every clock value', async () => {
    const decoded = await pyAmqpDecode(cases.map((h) => encode(amqpRequestHeaders(h))));
    expect(decoded).toEqual(cases);
  });

  it('(why the types are explicit: amqplib’s default for 128 breaks py-amqp’s parser)', async () => {
    const [plain] = await pyAmqpDecode([encode({ clock: 128, expires: 1_795_684_756.5 })]);
    expect(plain).toEqual({ error: 'UnicodeDecodeError' });
  });
});
