import { request } from 'node:http';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REDIS_DB, redisUrl } from '../helpers/brokers.js';
import { startExporter, type Exporter } from '../helpers/exporter.js';
import { waitFor } from '../helpers/metrics.js';
import { testSecret } from '../helpers/secrets.js';

/** The HTTP surface and what it (and the log) may say about the broker. */
const SECRET = testSecret('http');
let exporter: Exporter;

describe('HTTP endpoints', () => {
  beforeAll(async () => {
    // Redis here has no password; AUTH with one is accepted by ioredis, which suits a masking test.
    const url = redisUrl(REDIS_DB.cli).replace('redis://', `redis://:${SECRET}@`);
    exporter = await startExporter(['--broker-url', url, '--metrics-path', '/custom-metrics', '--log-level', 'debug']);
  });

  afterAll(async () => {
    await exporter?.stop();
  });

  it('serves a landing page with the broker masked', async () => {
    const res = await fetch(`${exporter.url}/`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/text\/html/);
    const html = await res.text();
    expect(html).toContain('href="/custom-metrics"');
    expect(html).toContain('redis://:****@');
    expect(html).not.toContain(SECRET);
  });

  it('serves metrics on the configured path with the Prometheus content type', async () => {
    const res = await fetch(`${exporter.url}/custom-metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    const text = await res.text();
    expect(text).toContain('celery_exporter_build_info{');
    expect(text).not.toContain(SECRET);
    expect((await fetch(`${exporter.url}/metrics`)).status).toBe(404);
    expect((await fetch(`${exporter.url}/custom-metrics`, { method: 'POST' })).status).toBe(405);
  });

  it('serves /metrics gzip-compressed, streamed, when the client accepts gzip, plain otherwise', async () => {
    /** Raw bytes and headers, undecoded (fetch would decompress behind our back). */
    const get = (acceptEncoding?: string) =>
      new Promise<{ headers: Record<string, string | string[] | undefined>; body: Buffer }>((resolve, reject) => {
        const headers = acceptEncoding === undefined ? {} : { 'Accept-Encoding': acceptEncoding };
        request(`${exporter.url}/custom-metrics`, { headers }, (res) => {
          const parts: Buffer[] = [];
          res.on('data', (d: Buffer) => parts.push(d));
          res.on('end', () => resolve({ headers: res.headers, body: Buffer.concat(parts) }));
          res.on('error', reject);
        })
          .on('error', reject)
          .end();
      });
    /** The families and series (values vary between scrapes). */
    const shape = (text: string) =>
      text
        .split('\n')
        .filter((l) => l !== '' && !l.startsWith('process_') && !l.startsWith('nodejs_') && !/^# (HELP|TYPE) (process|nodejs)_/.test(l))
        .map((l) => (l.startsWith('#') ? l : l.replace(/ [^ ]+$/, '')))
        .join('\n');

    // Series can come and go between two scrapes (a poll round): compare a pair taken back to back.
    const [zipped, plain] = await waitFor(
      () => Promise.all([get('gzip, deflate, br'), get()]),
      ([z, p]) => z.headers['content-encoding'] !== 'gzip' || shape(gunzipSync(z.body).toString('utf8')) === shape(p.body.toString('utf8')),
      { what: 'two scrapes of the same series' },
    );
    expect(zipped.headers['content-encoding']).toBe('gzip');
    expect(zipped.headers['vary']).toBe('Accept-Encoding');
    expect(zipped.headers['transfer-encoding']).toBe('chunked');
    expect(zipped.body.subarray(0, 2)).toEqual(Buffer.from([0x1f, 0x8b]));
    const unzipped = gunzipSync(zipped.body).toString('utf8');
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(plain.headers['vary']).toBe('Accept-Encoding');
    expect(plain.body.toString('utf8')).toMatch(/^# HELP /);
    expect(shape(unzipped)).toBe(shape(plain.body.toString('utf8')));
    expect(unzipped).toContain('celery_exporter_build_info{');
    expect(zipped.body.length).toBeLessThan(plain.body.length / 3);
    // Refused (q=0) or not offered: plain.
    for (const h of ['gzip;q=0', 'identity', 'br']) expect((await get(h)).headers['content-encoding'], h).toBeUndefined();
    expect((await get('*')).headers['content-encoding']).toBe('gzip');
  });

  it('answers /healthz always and /readyz once subscribed', async () => {
    expect((await fetch(`${exporter.url}/healthz`)).status).toBe(200);
    await waitFor(() => fetch(`${exporter.url}/readyz`).then((r) => r.status), (s) => s === 200, { what: 'readyz' });
  });

  it('never logs the password, and exits 0 on SIGTERM', async () => {
    const code = await exporter.stop();
    expect(code).toBe(0);
    expect(exporter.output()).toContain('shutting down');
    expect(exporter.output()).not.toContain(SECRET);
  });
});

describe('unreachable broker', () => {
  it('stays up, reports not ready and broker_up 0, with one log line per state change', async () => {
    const e = await startExporter(['--broker-url', 'redis://127.0.0.1:1/0']);
    try {
      await new Promise((r) => setTimeout(r, 3000));
      const ready = await fetch(`${e.url}/readyz`);
      expect(ready.status).toBe(503);
      expect(await e.metrics()).toContain('celery_exporter_broker_up 0');
      expect(e.output().match(/broker not ready/g)).toHaveLength(1);
    } finally {
      expect(await e.stop()).toBe(0);
    }
  });
});
