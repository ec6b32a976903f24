import type { Options } from 'yargs';
import type { ArgvOf } from './argv.js';
import { parseChoice } from './parse.js';

const LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof LEVELS)[number];

export const logOptions = {
  'log-level': { type: 'string', default: 'info', describe: 'trace, debug, info, warn, error, fatal or silent', group: 'Logging:' },
  'log-format': { type: 'string', default: 'json', describe: 'json or pretty', group: 'Logging:' },
} as const satisfies Record<string, Options>;

export interface LogConfig {
  level: LogLevel;
  format: 'json' | 'pretty';
}

export function buildLogConfig(argv: ArgvOf<typeof logOptions>): LogConfig {
  return {
    level: parseChoice('log-level', argv['log-level'], LEVELS),
    format: parseChoice('log-format', argv['log-format'], ['json', 'pretty']),
  };
}
