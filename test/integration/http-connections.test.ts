import { writeFileSync } from 'node:fs';
import { connect as netConnect, type Socket } from 'node:net';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import { REDIS_DB, redisUrl } from '../helpers/brokers.js';
import { startExporter, type Exporter } from '../helpers/exporter.js';
import { httpGet } from '../helpers/http-client.js';
import { makePki } from '../helpers/pki.js';

/**
 * Connections that do nothing (issue 11, item 7): plain sockets that send nothing, TLS sockets
 * idle after their handshake, and more of them than the cap. They used to stay open (Node's
 * 60 s headers timeout, checked every 30 s) while more were opened: 19,980 took every file
 * descriptor and /healthz was refused.
 */
const started: Exporter[] = [];
const sockets: Socket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  for (const e of started.splice(0)) await e.stop();
});

async function exporter(args: string[] = []): Promise<Exporter> {
  const e = await startExporter(['--broker-url', redisUrl(REDIS_DB.cli), ...args]);
  started.push(e);
  return e;
}

/** Opens `n` sockets with `open`, resolves once all are connected; counts the ones the server closes. */
async function idleSockets(n: number, open: (onReady: () => void) => Socket): Promise<{ closed: () => number }> {
  let closed = 0;
  await Promise.all(
    Array.from({ length: n }, () =>
      new Promise<void>((resolve) => {
        const s = open(resolve);
        sockets.push(s);
        s.on('error', () => resolve());
        s.on('close', () => {
          closed++;
          resolve();
        });
      }),
    ),
  );
  return { closed: () => closed };
}

async function until(cond: () => boolean, ms: number): Promise<number> {
  const t = performance.now();
  while (!cond() && performance.now() - t < ms) await new Promise((r) => setTimeout(r, 100));
  return Math.round(performance.now() - t);
}

describe('idle connections', () => {
  it('closes plain connections that never send a request, within the headers timeout (default 10 s)', async () => {
    const e = await exporter();
    const idle = await idleSockets(200, (ready) => netConnect(e.port, '127.0.0.1', ready));
    const ms = await until(() => idle.closed() === 200, 25_000);
    console.log(`200 idle plain sockets: ${idle.closed()} closed by the server after ${ms} ms`);
    expect(idle.closed()).toBe(200);
    expect((await httpGet(`${e.url}/healthz`)).status).toBe(200);
  });

  it('closes TLS connections idle after their handshake', async () => {
    const pki = makePki();
    const server = pki.issue('server', 'localhost');
    const file = join(pki.dir, 'web.yml');
    writeFileSync(file, `tls_server_config:\n  cert_file: ${server.cert}\n  key_file: ${server.key}\n`);
    const e = await exporter(['--web-config-file', file, '--http-headers-timeout', '2']);
    let handshakes = 0;
    const idle = await idleSockets(100, (ready) =>
      tlsConnect({ port: e.port, host: '127.0.0.1', servername: 'localhost', rejectUnauthorized: false }, () => {
        handshakes++;
        ready();
      }),
    );
    const ms = await until(() => idle.closed() === 100, 15_000);
    console.log(`100 TLS sockets idle after the handshake (${handshakes} completed): ${idle.closed()} closed after ${ms} ms`);
    expect(handshakes).toBe(100);
    expect(idle.closed()).toBe(100);
  });

  it('past the connection cap closes the oldest idle connection, so /healthz still answers', async () => {
    const e = await exporter(['--http-max-connections', '50', '--http-headers-timeout', '60']);
    const idle = await idleSockets(300, (ready) => netConnect(e.port, '127.0.0.1', ready));
    await until(() => idle.closed() >= 250, 10_000);
    console.log(`300 idle sockets against a cap of 50: ${idle.closed()} closed`);
    expect(idle.closed()).toBeGreaterThanOrEqual(250);
    for (let i = 0; i < 5; i++) expect((await httpGet(`${e.url}/healthz`, { timeoutMs: 5000 })).status).toBe(200);
    expect((await httpGet(`${e.url}/metrics`, { timeoutMs: 30_000 })).status).toBe(200);
  });
});
