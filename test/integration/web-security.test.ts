import { execFile } from 'node:child_process';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { promisify } from 'node:util';
import bcrypt from 'bcryptjs';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { REDIS_DB, redisUrl } from '../helpers/brokers.js';
import { CLI, startExporter, type Exporter } from '../helpers/exporter.js';
import { waitFor } from '../helpers/metrics.js';
import { makePki } from '../helpers/pki.js';

/** /metrics secured with an exporter-toolkit web config: basic auth, TLS, client certs, headers, prefix. */
const pki = makePki();
const server = pki.issue('server', 'localhost');
const client = pki.issue('client', 'scraper', { san: 'DNS:prometheus.example' });
const expired = pki.issue('expired', 'scraper', { days: -1, san: 'DNS:prometheus.example' });
const ca = readFileSync(pki.caCert);
// htpasswd writes $2y$; bcryptjs writes $2b$ — the same algorithm, both must verify.
const promHash = bcrypt.hashSync('s3cret-prom', 10).replace(/^\$2b\$/, '$2y$');
const opsHash = bcrypt.hashSync('ops-pass', 10);

const started: Exporter[] = [];
async function exporterWith(webConfig: string, extra: string[] = []): Promise<Exporter> {
  const file = join(pki.dir, `web-${started.length}.yml`);
  writeFileSync(file, webConfig);
  const e = await startExporter(['--broker-url', redisUrl(REDIS_DB.cli), '--web-config-file', file, ...extra]);
  started.push(e);
  return e;
}
afterEach(async () => {
  for (const e of started.splice(0)) await e.stop();
});

const basic = (user: string, pass: string) => `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;

interface Res {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  peerFingerprint?: string;
}
function httpsGet(url: string, opts: { auth?: string; cert?: string; key?: string; minVersion?: string; maxVersion?: string } = {}): Promise<Res> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        ca,
        cert: opts.cert ? readFileSync(opts.cert) : undefined,
        key: opts.key ? readFileSync(opts.key) : undefined,
        headers: opts.auth ? { authorization: opts.auth } : {},
        maxVersion: opts.maxVersion as 'TLSv1.2' | undefined,
        agent: false,
      },
      (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body, peerFingerprint: (res.socket as unknown as { getPeerCertificate(): { fingerprint256: string } }).getPeerCertificate?.().fingerprint256 }),
        );
      },
    );
    req.on('error', reject);
    req.end();
  });
}

describe('basic auth', () => {
  it('lets known users in and answers everyone else 401 with WWW-Authenticate', async () => {
    const e = await exporterWith(`basic_auth_users:\n  prometheus: '${promHash}'\n  ops: '${opsHash}'\n`);
    const get = (auth?: string) => fetch(`${e.url}/metrics`, { headers: auth ? { authorization: auth } : {} });
    expect((await get(basic('prometheus', 's3cret-prom'))).status).toBe(200);
    expect((await get(basic('ops', 'ops-pass'))).status).toBe(200);
    for (const denied of [await get(basic('prometheus', 'wrong')), await get(basic('nobody', 's3cret-prom')), await get(), await get('Bearer abc')]) {
      expect(denied.status).toBe(401);
      expect(denied.headers.get('www-authenticate')).toMatch(/^Basic realm=/);
    }
    expect((await fetch(`${e.url}/`)).status).toBe(401);
    // Probes stay open.
    expect((await fetch(`${e.url}/healthz`)).status).toBe(200);
    expect([200, 503]).toContain((await fetch(`${e.url}/readyz`)).status);
  });
});

describe('TLS', () => {
  it('serves HTTPS with the configured certificate and minimum version', async () => {
    const e = await exporterWith(`tls_server_config:\n  cert_file: ${server.cert}\n  key_file: ${server.key}\n  min_version: TLS13\n`);
    const url = e.url.replace('http:', 'https:');
    const ok = await httpsGet(`${url}/metrics`);
    expect(ok.status).toBe(200);
    expect(ok.body).toContain('celery_exporter_build_info');
    await expect(httpsGet(`${url}/metrics`, { maxVersion: 'TLSv1.2' })).rejects.toThrow();
    await expect(fetch(`${e.url}/metrics`)).rejects.toThrow(); // plain HTTP is not served
  });

  it('requires a trusted, unexpired client certificate with an allowed SAN', async () => {
    const e = await exporterWith(
      `tls_server_config:\n  cert_file: ${server.cert}\n  key_file: ${server.key}\n  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ${pki.caCert}\n  client_allowed_sans: [prometheus.example]\n`,
    );
    const url = `${e.url.replace('http:', 'https:')}/metrics`;
    expect((await httpsGet(url, { cert: client.cert, key: client.key })).status).toBe(200);
    await expect(httpsGet(url)).rejects.toThrow();
    await expect(httpsGet(url, { cert: expired.cert, key: expired.key })).rejects.toThrow();
    const otherSan = pki.issue('other', 'scraper', { san: 'DNS:intruder.example' });
    expect((await httpsGet(url, { cert: otherSan.cert, key: otherSan.key })).status).toBe(403);
  });

  it('picks up rotated certificates without a restart', async () => {
    const first = pki.issue('rot', 'localhost');
    const e = await exporterWith(`tls_server_config:\n  cert_file: ${first.cert}\n  key_file: ${first.key}\n`);
    const url = `${e.url.replace('http:', 'https:')}/healthz`;
    const before = (await httpsGet(url)).peerFingerprint;
    const next = pki.issue('rot-next', 'localhost');
    renameSync(next.key, first.key);
    renameSync(next.cert, first.cert);
    const after = await waitFor(() => httpsGet(url).then((r) => r.peerFingerprint), (f) => f !== before, { timeoutMs: 15_000, what: 'the rotated certificate' });
    expect(after).not.toBe(before);
    expect(e.output()).toContain('TLS certificates reloaded');
  });
});

describe('headers, rate limit and URL prefix', () => {
  it('sets configured headers, limits the rate and serves under the prefix only', async () => {
    const e = await exporterWith(
      `http_server_config:\n  headers:\n    X-Frame-Options: deny\n    X-Content-Type-Options: nosniff\nrate_limit:\n  interval: 1m\n  burst: 2\n`,
      ['--url-prefix', '/monitoring'],
    );
    const m = await fetch(`${e.url}/monitoring/metrics`);
    expect(m.status).toBe(200);
    expect(m.headers.get('x-frame-options')).toBe('deny');
    expect((await fetch(`${e.url}/metrics`)).status).toBe(404);
    const landing = await fetch(`${e.url}/monitoring/`);
    expect(await landing.text()).toContain('href="/monitoring/metrics"');
    expect((await fetch(`${e.url}/monitoring/metrics`)).status).toBe(429);
    expect((await fetch(`${e.url}/monitoring/healthz`)).status).toBe(200);
  });
});

describe('strict parsing', () => {
  const run = promisify(execFile);
  it.each([
    ['an unknown key', 'basic_auth_user:\n  a: b\n', /unknown key "basic_auth_user"/],
    ['a plaintext password', 'basic_auth_users:\n  a: hunter2\n', /not a bcrypt hash/],
    ['a missing certificate', 'tls_server_config:\n  cert_file: /nope.crt\n  key_file: /nope.key\n', /cannot read/],
    ['a bad TLS version', `tls_server_config:\n  cert_file: ${server.cert}\n  key_file: ${server.key}\n  min_version: SSL3\n`, /min_version/],
    ['a forbidden header', 'http_server_config:\n  headers:\n    Set-Cookie: x\n', /may not be set/],
  ])('rejects %s at start with one line naming the flag', async (_what, text, re) => {
    const file = join(pki.dir, `bad-${Math.random()}.yml`);
    writeFileSync(file, text);
    const r = await run(process.execPath, [CLI, '--web-config-file', file]).then(
      () => ({ code: 0, stderr: '' }),
      (err: { code: number; stderr: string }) => err,
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^celery-prometheus-exporter: invalid --web-config-file: /);
    expect(r.stderr).toMatch(re);
    expect(r.stderr).not.toContain('hunter2');
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });
});

afterAll(async () => {
  for (const e of started.splice(0)) await e.stop();
});
