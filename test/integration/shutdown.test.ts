import { afterEach, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { startProxy, type Proxy } from '../helpers/blackhole-proxy.js';
import { REDIS_DB } from '../helpers/brokers.js';
import { startExporter, type Exporter } from '../helpers/exporter.js';
import { waitFor } from '../helpers/metrics.js';

/**
 * SIGTERM ends the daemon with exit 0 within about a second whatever the broker does (issue 11,
 * item 11): after a black-holed broker had failed remote-control calls, shutdown waited for
 * cleanups the broker never answered and the 5 s watchdog exited 1.
 */
const started: Array<Exporter | Proxy> = [];
afterEach(async () => {
  for (const x of started.splice(0).reverse()) await ('proc' in x ? x.stop() : x.close());
});

const FAST_POLLS = ['--inspect-poll-timeout', '3', '--inspect-reply-timeout', '1', '--inspect-poll-interval', '2', '--queue-poll-interval', '2', '--queue-poll-timeout', '2'];

async function sigterm(e: Exporter): Promise<{ code: number | null; ms: number }> {
  const t = performance.now();
  e.proc.kill('SIGTERM');
  const code = await e.exited;
  return { code, ms: Math.round(performance.now() - t) };
}

async function viaProxy(): Promise<{ proxy: Proxy; url: string }> {
  const target = new URL(inject('redisUrl'));
  const proxy = await startProxy({ host: target.hostname, port: Number(target.port || 6379) });
  started.push(proxy);
  return { proxy, url: `redis://127.0.0.1:${proxy.port}/${REDIS_DB.cli}` };
}

describe('shutdown whatever the broker does', () => {
  it('exits 0 within a second after a black-holed broker failed remote-control calls', async () => {
    const { proxy, url } = await viaProxy();
    const e = await startExporter(['--broker-url', url, ...FAST_POLLS]);
    started.push(e);
    await waitFor(() => fetch(`${e.url}/readyz`).then((r) => r.status), (s) => s === 200, { what: 'readyz' });
    proxy.setBlackhole(true);
    // Calls time out (3 s) and their cleanups queue on connections that never answer.
    await e.waitForOutput(/"poller":"inspect"[^\n]*timed out/, 30_000);
    await new Promise((r) => setTimeout(r, 3000));
    const { code, ms } = await sigterm(e);
    console.log(`SIGTERM with a black-holed broker: exit ${code} after ${ms} ms`);
    expect(e.output()).not.toContain('shutdown took too long');
    expect(code).toBe(0);
    expect(ms).toBeLessThan(2000);
  });

  it('exits 0 within a second when the broker never completes a connection', async () => {
    const { proxy, url } = await viaProxy();
    proxy.setBlackhole(true);
    const e = await startExporter(['--broker-url', url, ...FAST_POLLS]);
    started.push(e);
    await new Promise((r) => setTimeout(r, 5000));
    const { code, ms } = await sigterm(e);
    console.log(`SIGTERM with a broker that accepts and never answers: exit ${code} after ${ms} ms`);
    expect(code).toBe(0);
    expect(ms).toBeLessThan(2000);
  });

  it('exits 0 within a second when nothing listens at the broker address', async () => {
    const e = await startExporter(['--broker-url', 'redis://127.0.0.1:1/0', ...FAST_POLLS]);
    started.push(e);
    await new Promise((r) => setTimeout(r, 5000));
    const { code, ms } = await sigterm(e);
    console.log(`SIGTERM with the broker down: exit ${code} after ${ms} ms`);
    expect(code).toBe(0);
    expect(ms).toBeLessThan(2000);
  });
});
