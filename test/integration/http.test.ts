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
