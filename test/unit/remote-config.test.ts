import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli } from '../helpers/cli.js';


describe('remote-control flags', () => {
  it('default to inspect polling every 15 s with a 1 s reply window, enable_events every 60 s', async () => {
    const r = await cli(['--print-config']);
    expect(JSON.parse(r.stdout).effective.remoteControl).toEqual({
      inspect: true,
      pollInterval: 15,
      pollTimeout: 10,
      replyTimeout: 1,
      enableEvents: true,
      enableEventsInterval: 60,
    });
  });

  it('--no-enable-events / --no-inspect-metrics, and their environment twins, turn them off', async () => {
    const a = JSON.parse((await cli(['--print-config', '--no-enable-events', '--no-inspect-metrics'])).stdout).effective.remoteControl;
    expect([a.enableEvents, a.inspect]).toEqual([false, false]);
    const b = JSON.parse(
      (await cli(['--print-config'], { CELERY_EXPORTER_ENABLE_EVENTS: 'false', CELERY_EXPORTER_ENABLE_EVENTS_INTERVAL: '30' })).stdout,
    ).effective.remoteControl;
    expect([b.enableEvents, b.enableEventsInterval]).toEqual([false, 30]);
  });

  it('rejects a reply window that cannot fit in the poll timeout, naming the flag', async () => {
    const r = await cli(['--inspect-reply-timeout', '5', '--inspect-poll-timeout', '8']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^celery-prometheus-exporter: invalid --inspect-poll-timeout: must be more than twice --inspect-reply-timeout/);
    const z = await cli(['--enable-events-interval', '0']);
    expect(z.code).toBe(2);
    expect(z.stderr).toMatch(/invalid --enable-events-interval/);
  });
});

describe('subcommands share the daemon’s environment and config file', () => {
  it('accept daemon-only settings from the environment and the config file without complaint', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cpe-'));
    const file = join(dir, 'c.yml');
    writeFileSync(file, 'port: 9808\nqueues: [a, b]\nbroker-url: redis://127.0.0.1:1/0\n');
    // Nothing listens on port 1: the broker error proves the command got past option parsing.
    const r = await cli(['inspect', 'ping', '--config', file, '--timeout', '0.2'], { CELERY_EXPORTER_PORT: '9999', CELERY_EXPORTER_LOG_LEVEL: 'silent' });
    expect(r.stderr).not.toMatch(/unknown (argument|flag|key)/i);
    expect(r.stderr).toMatch(/remote control over redis:\/\/127\.0\.0\.1:1\/0 failed/);
    expect(r.code).toBe(1);
  });

  it('reject unknown methods and options with status 2', async () => {
    expect((await cli(['inspect', 'shutdown'])).code).toBe(2);
    expect((await cli(['control', 'shutdown'])).code).toBe(2);
    expect((await cli(['inspect', 'ping', '--bogus'])).code).toBe(2);
  });

  it('end on bad configuration like the daemon: one line naming the flag, no password, status 2', { timeout: 60_000 }, async () => {
    const cases: Array<[string[], RegExp]> = [
      [['inspect', 'ping', '--broker-url', 'kafka://u:hunter22@k'], /^celery-prometheus-exporter: invalid --broker-url: unknown transport "kafka" in "kafka:\/\/u:\*\*\*\*@k"/],
      [['control', 'enable_events', '--broker-url', 'redis://:hunter22@h:0x/0'], /^celery-prometheus-exporter: invalid --broker-url: /],
      [['inspect', 'ping', '--timeout', '0'], /^celery-prometheus-exporter: invalid --timeout: "0" is not a positive number of seconds\n$/],
      [['events', '--broker-url', 'kafka://u:hunter22@k'], /^celery-prometheus-exporter: invalid --broker-url: unknown transport "kafka" in "kafka:\/\/u:\*\*\*\*@k"/],
      // events builds the daemon's whole configuration (its transport reads it).
      [['events', '--runtime-buckets', '1,x'], /^celery-prometheus-exporter: invalid --runtime-buckets: "x" is not a non-negative number\n$/],
    ];
    for (const [args, message] of cases) {
      const r = await cli(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).not.toContain('hunter22');
      expect(r.stdout).toBe('');
    }
  });

  it('never show the broker password, even when the broker refuses', async () => {
    const r = await cli(['inspect', 'ping', '--broker-url', 'redis://:s3cretpw@127.0.0.1:1/0', '--timeout', '0.2', '--log-level', 'silent']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('redis://:****@127.0.0.1:1/0');
    expect(r.stderr).not.toContain('s3cretpw');
  });
});
