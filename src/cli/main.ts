import yargs, { type Argv } from 'yargs';
import { buildConfig, loadConfigFile } from '../config/config.js';
import { ENV_PREFIX } from '../config/defaults.js';
import { ConfigError } from '../config/errors.js';
import { daemonOptions } from '../config/options.js';
import { scrub } from '../config/secrets.js';
import { startDaemon } from '../daemon.js';
import { createLogger, type Logger } from '../log.js';
import { VERSION } from '../version.js';

const NAME = 'celery-prometheus-exporter';

/** One line on stderr, password-free, exit 2: what an operator sees for bad configuration. */
function configFailure(message: string): never {
  process.stderr.write(`${NAME}: ${scrub(message.split('\n').join(' ').trim())}\n`);
  process.exit(2);
}

export async function runCli(args: string[]): Promise<void> {
  const parser: Argv = yargs(args)
    .scriptName(NAME)
    .usage(`$0 [options]\n\nExports Celery task, worker and queue metrics to Prometheus.`)
    .env(ENV_PREFIX)
    .config('config', 'YAML or JSON file holding any of the options below (flag names as keys)', loadConfigFile)
    .options(daemonOptions)
    .option('print-config', {
      type: 'boolean',
      describe: 'Print the effective configuration as JSON (passwords masked) and exit',
      group: 'Options:',
    })
    .strictOptions()
    .version(VERSION)
    .help()
    .wrap(Math.min(120, process.stdout.columns || 100))
    .fail((msg, err) => {
      if (err instanceof ConfigError) configFailure(err.message);
      if (err) configFailure(err.message);
      configFailure(msg ?? 'invalid arguments');
    });

  const argv = (await parser.parseAsync()) as Record<string, unknown>;
  let cfg;
  try {
    cfg = buildConfig(argv);
  } catch (err) {
    if (err instanceof ConfigError) configFailure(err.message);
    throw err;
  }
  if (argv['print-config'] === true) {
    process.stdout.write(`${scrub(JSON.stringify(printable(cfg), null, 2))}\n`);
    return;
  }
  const log = createLogger(cfg.log.level, cfg.log.format);
  await runDaemon(cfg, log);
}

async function runDaemon(cfg: ReturnType<typeof buildConfig>, log: Logger): Promise<void> {
  let daemon;
  try {
    daemon = await startDaemon(cfg, log);
  } catch (err) {
    log.fatal({ err: scrub(String(err)) }, 'failed to start');
    process.exit(1);
  }
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    setTimeout(() => {
      log.warn('shutdown took too long; exiting');
      process.exit(1);
    }, 5000).unref();
    daemon.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err: scrub(String(err)) }, 'error during shutdown');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

/** The config with the broker URL reduced to its masked form. */
function printable(cfg: ReturnType<typeof buildConfig>): unknown {
  const { url, ...broker } = cfg.broker;
  return { ...cfg, broker: { ...broker, url: url.masked } };
}
