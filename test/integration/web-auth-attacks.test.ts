import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import { afterEach, describe, expect, it } from 'vitest';
import { REDIS_DB, redisUrl } from '../helpers/brokers.js';
import { startExporter, type Exporter } from '../helpers/exporter.js';
import { basicAuth, cpuSeconds, httpGet, median } from '../helpers/http-client.js';

/** Basic auth under attack (issue 11, items 9 and 10), with real HTTP clients on several loopback addresses. */
const dir = mkdtempSync(join(tmpdir(), 'cpe-auth-'));
const started: Exporter[] = [];
async function exporterWith(webConfig: string): Promise<Exporter> {
  const file = join(dir, `web-${started.length}.yml`);
  writeFileSync(file, webConfig);
  const e = await startExporter(['--broker-url', redisUrl(REDIS_DB.cli), '--web-config-file', file]);
  started.push(e);
  return e;
}
afterEach(async () => {
  for (const e of started.splice(0)) await e.stop();
});

describe('basic auth timing', () => {
  it('answers an unknown user as slowly as a known user with a wrong password (cost-12 hash)', async () => {
    const e = await exporterWith(`basic_auth_users:\n  alice: '${bcrypt.hashSync('right-pass', 12)}'\n`);
    const url = `${e.url}/metrics`;
    // The first unknown user may wait for the dummy hash to be made; it is not what is compared.
    await httpGet(url, { auth: basicAuth('warm-up', 'x'), from: '127.0.0.20' });
    const unknown: number[] = [];
    const known: number[] = [];
    for (let i = 0; i < 5; i++) {
      // Distinct passwords: nothing may be answered from a cache. Own addresses: under the attempt limit.
      const u = await httpGet(url, { auth: basicAuth(`nobody-${i}`, `guess-${i}`), from: '127.0.0.21' });
      const k = await httpGet(url, { auth: basicAuth('alice', `guess-${i}`), from: '127.0.0.22' });
      expect([u.status, k.status]).toEqual([401, 401]);
      unknown.push(u.ms);
      known.push(k.ms);
    }
    const ratio = median(unknown) / median(known);
    console.log(`unknown user ${median(unknown).toFixed(0)} ms, known user with a wrong password ${median(known).toFixed(0)} ms (median of 5), ratio ${ratio.toFixed(2)}`);
    expect(ratio).toBeGreaterThan(0.5);
    expect(ratio).toBeLessThan(2);
  });
});

describe('bcrypt as a CPU amplifier', () => {
  it('checks few of 200 parallel wrong passwords, and the event loop keeps answering /healthz', async () => {
    const e = await exporterWith(`basic_auth_users:\n  prometheus: '${bcrypt.hashSync('s3cret-prom', 10)}'\n`);
    const scrape = () => httpGet(`${e.url}/metrics`, { auth: basicAuth('prometheus', 's3cret-prom'), from: '127.0.0.31' });
    // Verified once; this scrape also resets the exporter's event-loop lag maximum.
    expect((await scrape()).status).toBe(200);
    const cpu0 = cpuSeconds(e.proc.pid!);
    const t0 = performance.now();
    let attacking = true;
    const probes: number[] = [];
    const prober = (async () => {
      while (attacking) {
        probes.push((await httpGet(`${e.url}/healthz`, { from: '127.0.0.2' })).ms);
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    const answers = await Promise.all(
      Array.from({ length: 200 }, (_, i) => httpGet(`${e.url}/metrics`, { auth: basicAuth('prometheus', `wrong-${i}`), from: '127.0.0.30' })),
    );
    const seconds = (performance.now() - t0) / 1000;
    // Until the last bcrypt check that started has finished.
    await new Promise((r) => setTimeout(r, 1000));
    attacking = false;
    await prober;
    const cpu = cpuSeconds(e.proc.pid!) - cpu0;
    // The real scraper, from its own address, is let in without a new bcrypt check.
    const after = await scrape();
    expect(after.status).toBe(200);
    const lag = Number(/^nodejs_eventloop_lag_max_seconds (\S+)$/m.exec(after.body)?.[1]);
    const by = (s: number) => answers.filter((a) => a.status === s).length;
    console.log(
      `200 parallel wrong passwords: ${by(401)} × 401, ${by(429)} × 429 in ${seconds.toFixed(1)} s, ${cpu.toFixed(2)} CPU-s, ` +
        `event-loop stall max ${(lag * 1000).toFixed(0)} ms, /healthz max ${Math.max(...probes).toFixed(0)} ms over ${probes.length} probes`,
    );
    expect(by(401) + by(429)).toBe(200);
    // A burst of 10 per address, then one per 5 s.
    expect(by(401)).toBeLessThanOrEqual(10 + Math.ceil(seconds / 5) + 1);
    expect(cpu).toBeLessThan(10);
    // Two bcrypt checks at a time, each yielding every ~100 ms (before: all 200 interleaved).
    expect(lag).toBeLessThan(2);
  });

  it('never lets anonymous traffic spend the authenticated scraper’s rate limit', async () => {
    const e = await exporterWith(`basic_auth_users:\n  prometheus: '${bcrypt.hashSync('s3cret-prom', 10)}'\nrate_limit:\n  interval: 500ms\n  burst: 3\n`);
    const scrape = () => httpGet(`${e.url}/metrics`, { auth: basicAuth('prometheus', 's3cret-prom'), from: '127.0.0.41' });
    expect((await scrape()).status).toBe(200);
    let attacking = true;
    const attacker = (async () => {
      for (let i = 0; attacking; i++) {
        const auth = i % 3 === 0 ? undefined : i % 3 === 1 ? basicAuth('prometheus', `guess-${i}`) : basicAuth(`user-${i}`, 'x');
        void httpGet(`${e.url}/metrics`, { auth, from: '127.0.0.40' }).catch(() => undefined);
        await new Promise((r) => setTimeout(r, 50)); // 20 requests/s
      }
    })();
    const statuses: number[] = [];
    for (let i = 0; i < 20; i++) {
      statuses.push((await scrape()).status);
      await new Promise((r) => setTimeout(r, 700));
    }
    attacking = false;
    await attacker;
    console.log(`scraper under an anonymous 20 req/s: ${statuses.filter((s) => s === 429).length} of 20 scrapes answered 429`);
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
  });
});
