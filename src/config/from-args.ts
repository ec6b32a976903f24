import yargs from 'yargs';
import { buildConfig, type Config } from './config.js';
import { daemonOptions } from './options.js';

/**
 * The configuration the daemon runs with for these flags alone: the option table's defaults,
 * no environment twins, no config file. Tests, benchmarks and the docs generator build their
 * configuration with it, so they run on the daemon's real defaults. With no --broker-url the
 * URL still falls back to CELERY_BROKER_URL, as buildConfig does.
 */
export function configFromArgs(args: readonly string[] = []): Config {
  const argv = yargs([...args]).options(daemonOptions).strict().exitProcess(false).parseSync();
  return buildConfig(argv as Record<string, unknown>);
}
