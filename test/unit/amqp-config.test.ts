import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { amqpConnectOptions, brokerLabel } from '../../src/broker/amqp/connect.js';
import { isInternalQueue } from '../../src/broker/amqp/internal-queues.js';
import { amqpOptions, buildAmqpConfig } from '../../src/config/amqp-config.js';
import { defaultsOf, type ArgvOf } from '../../src/config/argv.js';
import { applyBrokerTlsFlags } from '../../src/config/broker-tls.js';
import { parseBrokerUrl } from '../../src/config/broker-url.js';
import { ConfigError } from '../../src/config/errors.js';
import { scrub } from '../../src/config/secrets.js';
import { CLI } from '../helpers/exporter.js';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'cpe-amqp-cfg-'));
const file = (name: string, text: string) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};

describe('AMQP connection options', () => {
  it('passes the vhost as kombu decodes it, with guest/guest by default and our heartbeat', () => {
    for (const [url, vhost] of [
      ['amqp://h//', '/'],
      ['amqp://h/%2F', '/'],
      ['amqp://h', '/'],
      ['amqp://h/prod', 'prod'],
      ['amqp://h/team%2Fa', 'team/a'],
    ] as const) {
      expect(amqpConnectOptions(parseBrokerUrl(url), { heartbeat: 30 }, 'x').url.vhost).toBe(vhost);
    }
    const o = amqpConnectOptions(parseBrokerUrl('amqp://h:5673/v'), { heartbeat: 7 }, 'celery-exporter:events');
    expect(o.url).toMatchObject({ protocol: 'amqp', hostname: 'h', port: 5673, username: 'guest', password: 'guest', heartbeat: 7 });
    expect(o.socket.clientProperties).toMatchObject({ connection_name: 'celery-exporter:events' });
    const creds = amqpConnectOptions(parseBrokerUrl('amqp://u%40x:p%2Fw@h/v'), { heartbeat: 30 }, 'x').url;
    expect([creds.username, creds.password]).toEqual(['u@x', 'p/w']);
  });

  it('uses TLS for amqps:// with the CA, client certificate and key, verifying by default', () => {
    const ca = file('ca.pem', 'CA');
    const cert = file('cert.pem', 'CERT');
    const key = file('key.pem', 'KEY');
    const url = parseBrokerUrl('amqps://h/v');
    applyBrokerTlsFlags({ 'broker-ssl-ca-certs': ca, 'broker-ssl-certfile': cert, 'broker-ssl-keyfile': key }, url);
    const o = amqpConnectOptions(url, { heartbeat: 30 }, 'x');
    expect(o.url.protocol).toBe('amqps');
    expect(o.url.port).toBe(5671);
    expect(o.socket.rejectUnauthorized).toBe(true);
    expect([String(o.socket.ca), String(o.socket.cert), String(o.socket.key)]).toEqual(['CA', 'CERT', 'KEY']);
    const insecure = parseBrokerUrl('amqps://h/v');
    applyBrokerTlsFlags({ 'broker-ssl-cert-reqs': 'CERT_NONE' }, insecure);
    expect(amqpConnectOptions(insecure, { heartbeat: 30 }, 'x').socket.rejectUnauthorized).toBe(false);
    // The same names work in the URL query, as for rediss://.
    const q = parseBrokerUrl(`amqps://h/v?ssl_ca_certs=${encodeURIComponent(ca)}`);
    applyBrokerTlsFlags({}, q);
    expect(String(amqpConnectOptions(q, { heartbeat: 30 }, 'x').socket.ca)).toBe('CA');
  });

  it('rejects TLS flags on a plain URL, half a client certificate and unreadable files', () => {
    const err = (argv: Record<string, unknown>, url: string) => {
      try {
        applyBrokerTlsFlags(argv, parseBrokerUrl(url));
      } catch (e) {
        return (e as ConfigError).message;
      }
      return 'no error';
    };
    expect(err({ 'broker-ssl-ca-certs': '/x' }, 'amqp://h/v')).toMatch(/invalid --broker-ssl-ca-certs: needs a TLS broker URL/);
    expect(err({ 'broker-ssl-certfile': file('c2.pem', 'C') }, 'amqps://h/v')).toMatch(/needs both --broker-ssl-certfile and --broker-ssl-keyfile/);
    expect(err({ 'broker-ssl-ca-certs': join(dir, 'missing.pem') }, 'amqps://h/v')).toMatch(/cannot read .*missing\.pem.*ENOENT/);
    expect(err({ 'broker-ssl-cert-reqs': 'maybe' }, 'amqps://h/v')).toMatch(/"maybe" is not CERT_REQUIRED/);
  });

  it('labels the broker host:port/vhost', () => {
    expect(brokerLabel(parseBrokerUrl('amqp://u:secret@rabbit:5672//'))).toBe('rabbit:5672//');
    expect(brokerLabel(parseBrokerUrl('amqps://rabbit/prod'))).toBe('rabbit:5671/prod');
  });
});

describe('RabbitMQ options', () => {
  const broker = parseBrokerUrl('amqp://app:brokerpw@rabbit:5672/prod');
  /** The RabbitMQ options as the CLI hands them over: the table's defaults, then what was given. */
  const given = (values: Partial<ArgvOf<typeof amqpOptions>> = {}) => ({ ...defaultsOf(amqpOptions), ...values });

  it('defaults to Celery’s event queue TTL and expiry', () => {
    expect(buildAmqpConfig(given(), broker)).toEqual({ heartbeat: 30, eventQueueTtl: 5, eventQueueExpires: 60, management: undefined });
    expect(() => buildAmqpConfig(given({ 'event-queue-ttl': 0 }), broker)).toThrow(/invalid --event-queue-ttl/);
    expect(() => buildAmqpConfig(given({ 'event-queue-expires': 0.5 }), broker)).toThrow(/invalid --event-queue-expires: must be at least 1 second/);
  });

  it('reads the management URL, falling back to the broker credentials, and masks the password', () => {
    const m = buildAmqpConfig(given({ 'rabbitmq-management-url': 'https://mon:m%40pw@rabbit:15671/rmq' }), broker).management!;
    expect(m).toEqual({ baseUrl: 'https://rabbit:15671/rmq/', username: 'mon', password: 'm@pw', masked: 'https://mon:****@rabbit:15671/rmq/' });
    expect(scrub('error m@pw')).toBe('error ****');
    const inherited = buildAmqpConfig(given({ 'rabbitmq-management-url': 'http://rabbit:15672' }), broker).management!;
    expect([inherited.username, inherited.password, inherited.baseUrl]).toEqual(['app', 'brokerpw', 'http://rabbit:15672/']);
  });

  it('refuses a management URL that is not http(s) or comes with a Redis broker', () => {
    expect(() => buildAmqpConfig(given({ 'rabbitmq-management-url': 'amqp://rabbit' }), broker)).toThrow(/must be http:\/\/ or https:\/\//);
    expect(() => buildAmqpConfig(given({ 'rabbitmq-management-url': 'http://rabbit:15672' }), parseBrokerUrl('redis://h/0'))).toThrow(
      /only applies to an amqp/,
    );
  });

  it('never prints the management password in --print-config', async () => {
    const r = await run(process.execPath, [
      CLI,
      '--print-config',
      '--broker',
      'amqp://app:brokerpw@rabbit/prod',
      '--rabbitmq-management-url',
      'http://mon:s3cr3t-mgmt@rabbit:15672',
      '--event-queue-ttl',
      '10',
    ]);
    expect(r.stdout).not.toContain('s3cr3t-mgmt');
    expect(r.stdout).not.toContain('brokerpw');
    const cfg = JSON.parse(r.stdout).effective as { amqp: { eventQueueTtl: number; management: { baseUrl: string } } };
    expect(cfg.amqp.eventQueueTtl).toBe(10);
    expect(cfg.amqp.management.baseUrl).toBe('http://rabbit:15672/');
  });
});

describe('internal queues', () => {
  it('leaves out event, gossip, mailbox, reply and server-named queues, not task queues', () => {
    for (const q of ['celeryev.1f0c', 'w1@host.celery.pidbox', '0d3e.reply.celery.pidbox', 'amq.gen-JzTY20BRgKO']) expect(isInternalQueue(q)).toBe(true);
    for (const q of ['celery', 'celeryev', 'high-priority', 'pidbox-jobs', 'default.dlq']) expect(isInternalQueue(q)).toBe(false);
  });
});
