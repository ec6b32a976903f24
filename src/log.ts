import { format } from 'node:util';
import { pino, type Logger } from 'pino';
import pretty from 'pino-pretty';
import { scrub } from './config/secrets.js';

export type { Logger };

/**
 * pino, JSON by default. Every line passes through scrub() before it is written, so a broker
 * password that reaches a log line through a library's error message is still masked.
 */
export function createLogger(level: string, format: 'json' | 'pretty', dest: NodeJS.WritableStream = process.stderr): Logger {
  const opts = {
    level,
    base: { name: 'celery-prometheus-exporter' },
    hooks: { streamWrite: (s: string) => scrub(s) },
    formatters: { level: (label: string) => ({ level: label }) },
  };
  if (format === 'pretty') {
    return pino(opts, pretty({ destination: dest, sync: true, colorize: false, ignore: 'pid,hostname,name' }));
  }
  return pino(opts, dest as unknown as pino.DestinationStream);
}

/**
 * Routes what libraries print with console.* (ioredis writes "[WARN] This Redis server's `default`
 * user does not require a password, but a password was supplied" with console.warn) through the
 * logger, so every line the daemon writes is one of pino's. The password-not-required notice is
 * harmless (the event subscriber accepts it the same way) and goes to debug.
 */
export function routeConsole(log: Logger): void {
  const toLog = (level: 'warn' | 'info') => (...args: unknown[]) => {
    const text = format(...args).replace(/^\[WARN\]\s*/, '');
    if (/does not require a password, but a password was supplied/.test(text)) log.debug({ source: 'library' }, text);
    else log[level]({ source: 'library' }, text);
  };
  console.warn = toLog('warn');
  console.error = toLog('warn');
  console.log = toLog('info');
  console.info = toLog('info');
}

/**
 * Logs a repeated warning at most once per interval per key, with how many were suppressed,
 * so a flood of bad messages costs one line a minute instead of one per message.
 */
export class RateLimitedLog {
  private readonly last = new Map<string, { at: number; suppressed: number }>();
  constructor(
    private readonly log: Logger,
    private readonly intervalMs = 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  warn(key: string, obj: Record<string, unknown>, msg: string): void {
    const t = this.now();
    const prev = this.last.get(key);
    if (prev !== undefined && t - prev.at < this.intervalMs) {
      prev.suppressed++;
      return;
    }
    const suppressed = prev?.suppressed ?? 0;
    this.last.set(key, { at: t, suppressed: 0 });
    if (this.last.size > 1000) this.last.delete(this.last.keys().next().value as string);
    this.log.warn(suppressed > 0 ? { ...obj, suppressed } : obj, msg);
  }
}
