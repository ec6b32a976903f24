import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { defaultsOf, type ArgvOf } from '../../src/config/argv.js';
import { maskUrl, parseBrokerUrl } from '../../src/config/broker-url.js';
import { defaultConfig } from '../../src/config/config.js';
import { httpOptions } from '../../src/config/http-config.js';
import { ConfigError } from '../../src/config/errors.js';
import { parseBuckets, transportOptionValue } from '../../src/config/parse.js';
import { scrub, registerSecret } from '../../src/config/secrets.js';
import { cli } from '../helpers/cli.js';

/** A config file with a misspelt key (and a password that must not be printed). */
function unknownKeyFile(): string {
  const f = join(mkdtempSync(join(tmpdir(), 'cpe-cfg-')), 'exporter.json');
  writeFileSync(f, JSON.stringify({ 'brokr-url': 'redis://:hunter22@h:6379/0' }));
  return f;
}

const printConfig = async (args: string[], env: Record<string, string> = {}) => {
  const r = await cli(['--print-config', ...args], env);
  expect(r.stderr).toBe('');
  return JSON.parse(r.stdout).effective as Record<string, Record<string, unknown>>;
};

describe('broker URLs', () => {
  it('parses Redis URLs, DB, TLS and credentials', () => {
    const u = parseBrokerUrl('rediss://user:p%40ss@redis.example:6380/3?ssl_cert_reqs=CERT_NONE');
    expect(u).toMatchObject({ transport: 'redis', tls: true, host: 'redis.example', port: 6380, db: 3, username: 'user', password: 'p@ss' });
    expect(u.masked).toBe('rediss://user:****@redis.example:6380/3?ssl_cert_reqs=CERT_NONE');
    expect(parseBrokerUrl('redis://localhost')).toMatchObject({ port: 6379, db: 0, password: undefined });
    expect(parseBrokerUrl('redis+socket:///run/redis.sock?virtual_host=2')).toMatchObject({ socketPath: '/run/redis.sock', db: 2 });
  });

  it('parses AMQP vhosts the way kombu does', () => {
    expect(parseBrokerUrl('amqp://guest:guest@localhost:5672//').vhost).toBe('/');
    expect(parseBrokerUrl('amqp://guest:guest@localhost:5672/').vhost).toBe('/');
    expect(parseBrokerUrl('amqp://h/prod').vhost).toBe('prod');
    expect(parseBrokerUrl('amqp://h/%2Fteam').vhost).toBe('/team');
    expect(parseBrokerUrl('amqps://h').port).toBe(5671);
  });

  it('parses sentinel lists', () => {
    const u = parseBrokerUrl('sentinel://:pw@s1:26379/0;sentinel://:pw@s2:26380/0');
    expect(u.sentinels).toEqual([{ host: 's1', port: 26379 }, { host: 's2', port: 26380 }]);
    expect(u.masked).toBe('sentinel://:****@s1:26379/0;sentinel://:****@s2:26380/0');
  });

  it('rejects unknown transports and bad URLs without showing the password', () => {
    for (const bad of ['sqs://AKIA:topsecret@x', 'redis://:topsecret@h:99999/0', 'redis://:topsecret@h/abc', 'nonsense']) {
      let err: unknown;
      try {
        parseBrokerUrl(bad);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as Error).message).toMatch(/^invalid --broker-url: /);
      expect((err as Error).message).not.toContain('topsecret');
    }
  });

  it('masks passwords, even ones with @ in them', () => {
    expect(maskUrl('redis://:p@ss@host:6379/0')).toBe('redis://:****@host:6379/0');
    expect(maskUrl('connect to amqp://u:x@h//, then redis://:y@r/1')).toBe('connect to amqp://u:****@h//, then redis://:****@r/1');
    registerSecret('s3cr3t-value');
    expect(scrub('error: auth s3cr3t-value failed')).toBe('error: auth **** failed');
  });
});

describe('option values', () => {
  it('parses bucket lists strictly', () => {
    expect(parseBuckets('runtime-buckets', '0.1, 1,10')).toEqual([0.1, 1, 10]);
    expect(() => parseBuckets('runtime-buckets', '1,a')).toThrow('invalid --runtime-buckets: "a" is not a non-negative number');
    expect(() => parseBuckets('queue-wait-buckets', '5,1')).toThrow(/strictly increasing/);
    expect(() => parseBuckets('runtime-buckets', '')).toThrow(/empty/);
  });

  it('reads transport option values like kombu/the Python exporter', () => {
    expect(transportOptionValue('3600')).toBe(3600);
    expect(transportOptionValue('[0,3,6,9]')).toEqual([0, 3, 6, 9]);
    expect(transportOptionValue('{"password": "x"}')).toEqual({ password: 'x' });
    expect(transportOptionValue('prefix:')).toBe('prefix:');
    expect(transportOptionValue('False')).toBe(false);
  });
});

describe('configuration precedence: flag > env > file > default', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cpe-config-'));
  const file = join(dir, 'config.yaml');
  writeFileSync(file, 'port: 7000\nhost: 127.0.0.2\nmetrics-path: /from-file\nstatic-label:\n  - team=data\nbroker-url: redis://file:6379/4\n');

  it('uses defaults', async () => {
    const c = await printConfig([]);
    expect(c['http']).toEqual({ host: '0.0.0.0', port: 8888, metricsPath: '/metrics', urlPrefix: '', limits: { maxConnections: 256, headersTimeoutMs: 10_000, idleTimeoutMs: 60_000 } });
    expect(c['broker']!['url']).toBe('redis://localhost:6379/0');
  });

  it('takes the file over defaults, env over the file, flags over env', async () => {
    expect((await printConfig(['--config', file]))['http']).toEqual({ host: '127.0.0.2', port: 7000, metricsPath: '/from-file', urlPrefix: '', limits: { maxConnections: 256, headersTimeoutMs: 10_000, idleTimeoutMs: 60_000 } });
    const env = { CELERY_EXPORTER_PORT: '7100', CELERY_EXPORTER_METRICS_PATH: '/from-env', CELERY_EXPORTER_HTTP_MAX_CONNECTIONS: '64' };
    expect((await printConfig(['--config', file], env))['http']).toEqual({
      host: '127.0.0.2',
      port: 7100,
      metricsPath: '/from-env',
      urlPrefix: '',
      limits: { maxConnections: 64, headersTimeoutMs: 10_000, idleTimeoutMs: 60_000 },
    });
    expect((await printConfig(['--config', file, '--port', '7200'], env))['http']!['port']).toBe(7200);
    expect((await printConfig(['--config', file]))['metrics']!['staticLabels']).toEqual({ team: 'data' });
  });

  it('falls back to CELERY_BROKER_URL below every other source', async () => {
    const env = { CELERY_BROKER_URL: 'redis://:pw@celery:6379/2' };
    expect((await printConfig([], env))['broker']!['url']).toBe('redis://:****@celery:6379/2');
    expect((await printConfig(['--config', file], env))['broker']!['url']).toBe('redis://file:6379/4');
    expect((await printConfig([], { ...env, CELERY_EXPORTER_BROKER_URL: 'redis://env:6379/1' }))['broker']!['url']).toBe('redis://env:6379/1');
    expect((await printConfig(['--broker', 'redis://flag/5'], env))['broker']!['url']).toBe('redis://flag/5');
  });

  it('splits repeatable options given in the environment on whitespace', async () => {
    const c = await printConfig([], { CELERY_EXPORTER_STATIC_LABEL: 'a=1 b=2', CELERY_EXPORTER_BROKER_TRANSPORT_OPTION: 'global_keyprefix=pfx: visibility_timeout=60' });
    expect(c['metrics']!['staticLabels']).toEqual({ a: '1', b: '2' });
    expect(c['broker']!['transportOptions']).toEqual({ global_keyprefix: 'pfx:', visibility_timeout: 60 });
  });

  it('--print-config prints a config file that --config accepts as it is (round trip)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cpe-rt-'));
    const args = ['--broker-url', 'redis://:hunter22@h:6379/2', '--static-label', 'team=a', '--queues', 'x,y', '--no-enable-events', '--port', '9100'];
    const first = await cli(['--print-config', ...args]);
    expect(first.stderr).toBe('');
    expect(first.stdout).not.toContain('hunter22');
    const file = join(dir, 'printed.json');
    writeFileSync(file, first.stdout);
    const second = await cli(['--print-config', '--config', file]);
    expect(second.stderr).toBe('');
    expect(second.stdout).toBe(first.stdout);
    const doc = JSON.parse(second.stdout) as Record<string, unknown>;
    expect(doc).toMatchObject({ 'broker-url': 'redis://:****@h:6379/2', port: 9100, 'enable-events': false, 'static-label': ['team=a'] });
  });

  it('exits 2 with one line naming the flag, password never shown', async () => {
    const cases: Array<[string[], Record<string, string>, RegExp]> = [
      [['--runtime-buckets', '1,x'], {}, /invalid --runtime-buckets: "x"/],
      [['--broker-url', 'kafka://u:hunter22@k'], {}, /invalid --broker-url: unknown transport "kafka"/],
      [[], { CELERY_EXPORTER_BROKER_URL: 'redis://:hunter22@h:0x/0' }, /invalid --broker-url/],
      [['--port', 'http'], {}, /--port must be an integer/],
      [['--log-format', 'xml'], {}, /invalid --log-format/],
      [['--config', '/nonexistent.yaml'], {}, /invalid --config: cannot read/],
      [['--static-label', 'novalue'], {}, /invalid --static-label: expected key=value/],
      [['--no-such-flag'], {}, /^celery-prometheus-exporter: unknown flag --no-such-flag$/m],
      [['--prot', '1'], {}, /^celery-prometheus-exporter: unknown flag --prot; did you mean --port\?$/m],
      [['--port', 'abc'], {}, /^celery-prometheus-exporter: --port must be an integer$/m],
      [['--port', '1.5'], {}, /--port must be an integer, got "1.5"/],
      [['--config', unknownKeyFile()], {}, /unknown key "brokr-url" in the config file \/.*\.json; did you mean "broker-url"\?$/m],
    ];
    for (const [args, env, re] of cases) {
      const r = await cli(args, env);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(re);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).not.toContain('hunter22');
    }
  }, 60_000);

  it('names the flag of a URL with a malformed percent-escape (it printed only "URI malformed")', { timeout: 60_000 }, async () => {
    const cases: Array<[string[], Record<string, string>, RegExp]> = [
      [['--broker-url', 'redis://:hunter22%ZZ@h/0'], {}, /invalid --broker-url: malformed percent-escape in the password of "redis:\/\/:\*\*\*\*@h\/0"/],
      [['--broker-url', 'amqp://u:hunter22@h/%E0%A4%A'], {}, /invalid --broker-url: malformed percent-escape in the path/],
      [['--broker-url', 'redis+socket://:hunter22%E0@/run/r.sock'], {}, /invalid --broker-url: malformed percent-escape in the password/],
      [['--broker-url', 'amqp://u:brokerpw@h//', '--rabbitmq-management-url', 'http://u:hunter22%@h:15672'], {}, /invalid --rabbitmq-management-url: malformed percent-escape/],
    ];
    for (const [args, env, re] of cases) {
      const r = await cli(args, env);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(re);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).not.toContain('hunter22');
    }
  });
});

describe('one set of defaults: the option table', () => {
  it('derives the argv type from the table: defaults make an option required, the rest may be undefined', () => {
    expectTypeOf<ArgvOf<typeof httpOptions>>().toEqualTypeOf<{
      port: number;
      host: string;
      'metrics-path': string;
      'url-prefix': string;
      'web-config-file'?: string | undefined;
      'http-max-connections': number;
      'http-headers-timeout': number;
      'http-idle-timeout': number;
    }>();
    expect(defaultsOf(httpOptions)).toEqual({
      port: 8888,
      host: '0.0.0.0',
      'metrics-path': '/metrics',
      'url-prefix': '',
      'http-max-connections': 256,
      'http-headers-timeout': 10,
      'http-idle-timeout': 60,
    });
  });

  it('defaultConfig() is the configuration the CLI resolves with no option at all', async () => {
    const cfg = defaultConfig();
    const printable = JSON.parse(JSON.stringify({ ...cfg, broker: { ...cfg.broker, url: cfg.broker.url.masked } })) as unknown;
    expect(printable).toEqual(await printConfig([]));
  });
});

