import { request } from 'node:http';
import { gunzipSync } from 'node:zlib';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { HttpServer, type MetricsHandler } from '../../src/http/server.js';

const log = pino({ level: 'silent' });
let server: HttpServer | undefined;

afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function start(metrics: MetricsHandler): Promise<string> {
  server = new HttpServer({ host: '127.0.0.1', port: 0, metricsPath: '/metrics' }, { metrics, notReadyReason: () => undefined, landing: { version: 't', broker: 'b' } }, log);
  const a = await server.listen();
  return `http://127.0.0.1:${a.port}/metrics`;
}

/** A GET with the raw body and headers (fetch would decompress, and hide Content-Encoding). */
function get(url: string, gzip = false): Promise<{ status: number; headers: Record<string, unknown>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: gzip ? { 'accept-encoding': 'gzip' } : {} }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** A gate: the first `n` callers wait until all `n` arrived (or `ms` passed); returns the most that waited together. */
function gate(n: number, ms = 1500) {
  let inside = 0;
  let most = 0;
  const waiters: (() => void)[] = [];
  return {
    most: () => most,
    async pass(): Promise<void> {
      inside++;
      most = Math.max(most, inside);
      await new Promise<void>((resolve) => {
        waiters.push(resolve);
        if (waiters.length >= n) for (const w of waiters.splice(0)) w();
        else setTimeout(resolve, ms);
      });
      inside--;
    },
  };
}

describe('metrics handler: before / render / after', () => {
  it.each([false, true])('waits in before and after without holding a render slot (gzip %s)', async (gzip) => {
    const before = gate(6);
    const after = gate(6);
    const url = await start({
      before: () => before.pass(),
      render: (write) => write('up 1\n'),
      after: () => after.pass(),
    });
    const t0 = performance.now();
    const got = await Promise.all(Array.from({ length: 6 }, () => get(url, gzip)));
    // With the whole handler inside the slots (2), at most 2 waited together and each wave timed out.
    expect(before.most()).toBe(6);
    expect(after.most()).toBe(6);
    expect(performance.now() - t0).toBeLessThan(1500);
    for (const r of got) expect((gzip ? gunzipSync(r.body) : r.body).toString()).toBe('up 1\n');
  });

  it.each([false, true])('ends the response only after `after` (gzip %s)', async (gzip) => {
    let afterDone = false;
    const url = await start({
      render: (write) => write('up 1\n'),
      after: async () => {
        await new Promise((r) => setTimeout(r, 100));
        afterDone = true;
      },
    });
    const r = await get(url, gzip);
    expect(afterDone).toBe(true);
    expect(r.status).toBe(200);
  });

  it('answers a plain 500, without Content-Encoding, when a gzip render fails before any byte went out', async () => {
    const url = await start({
      render: async (write) => {
        await write('up 1\n');
        throw new Error('render failed');
      },
    });
    const r = await get(url, true);
    expect(r.status).toBe(500);
    expect(r.headers['content-encoding']).toBeUndefined();
    expect(r.body.toString()).toBe('internal error\n');
  });

  it('answers a plain 500 when `before` fails on a gzip scrape', async () => {
    const url = await start({ before: () => Promise.reject(new Error('refresh failed')), render: (write) => write('up 1\n') });
    const r = await get(url, true);
    expect(r.status).toBe(500);
    expect(r.headers['content-encoding']).toBeUndefined();
    expect(r.body.toString()).toBe('internal error\n');
  });
});
