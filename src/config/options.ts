import type { Options } from 'yargs';
import { amqpOptions } from './amqp-config.js';
import type { ArgvOf } from './argv.js';
import { brokerOptions } from './broker-config.js';
import { httpOptions } from './http-config.js';
import { logOptions } from './log-config.js';
import { cardinalityOptions, longRunningOption, metricsOptions, workerOptions } from './metrics-config.js';
import { periodicOptions } from './periodic.js';
import { queueOptions } from './queue-config.js';
import { remoteControlOptions } from './remote-config.js';
import { continuityOptions } from './state-config.js';

export { brokerOptions };

/**
 * Every flag, once, with its default (the only place a default is declared). Each has the
 * environment twin CELERY_EXPORTER_<FLAG> (upper snake case) and may appear in the --config file;
 * precedence is flag > env > file > default. Each section's table lives beside the code that
 * turns its values into the Config (broker-config.ts, http-config.ts, …); this order is the
 * order of --help, --print-config and docs/configuration.md.
 */
export const daemonOptions = {
  ...brokerOptions,
  ...amqpOptions,
  ...httpOptions,
  ...workerOptions,
  ...metricsOptions,
  ...continuityOptions,
  ...queueOptions,
  ...longRunningOption,
  ...remoteControlOptions,
  ...cardinalityOptions,
  ...periodicOptions,
  ...logOptions,
} as const satisfies Record<string, Options>;

/** What the daemon's builder reads: derived from the table (see ArgvOf). */
export type DaemonArgv = ArgvOf<typeof daemonOptions>;
