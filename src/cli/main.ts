import yargs, { type Argv, type Options } from 'yargs';
import { listOption } from '../config/argv.js';
import { buildBrokerConfig, buildConfig, EFFECTIVE_KEY, loadConfigFile, type Config } from '../config/config.js';
import { ENV_PREFIX } from '../config/defaults.js';
import { brokerOptions, daemonOptions, type DaemonArgv } from '../config/options.js';
import { parseList } from '../config/parse.js';
import { maskUrl } from '../config/broker-url.js';
import { registerMasked, scrub } from '../config/secrets.js';
import { startDaemon } from '../daemon.js';
import { createLogger, routeConsole, type Logger } from '../log.js';
import { CONTROL_METHODS, INSPECT_METHODS } from '../remote/methods.js';
import { VERSION } from '../version.js';
import { configFailure, NAME, orConfigFailure } from './config-failure.js';
import { runEvents } from './events.js';
import { explainUnknown } from './unknown-flags.js';
import { Reported, runControl, runInspect, type RemoteArgs } from './remote-commands.js';

/**
 * What a command handler receives: yargs' parse of the option tables it was given (the daemon's,
 * which every command accepts, and the command's own), plus the CLI's own flags.
 */
type CommandArgv = DaemonArgv & Record<string, unknown>;

export async function runCli(args: string[]): Promise<void> {
  const parser: Argv = yargs(args)
    .scriptName(NAME)
    .usage(`$0 [options]\n$0 <command> [options]\n\nExports Celery task, worker and queue metrics to Prometheus.`)
    .env(ENV_PREFIX)
    .config('config', 'YAML or JSON file holding any of the options below (flag names as keys)', loadConfigFile)
    .options(brokerOptions)
    .command(
      '$0',
      'Run the exporter (the default command)',
      (y) =>
        y.options(daemonOnlyOptions).option('print-config', {
          type: 'boolean',
          describe: 'Print the configuration as a JSON config file for --config (passwords masked; the resolved settings under "effective") and exit',
          group: 'Options:',
        }),
      (argv) => startCommand(argv as unknown as CommandArgv),
    )
    .command(
      'inspect <method>',
      'Ask the workers, like `celery inspect <method>` (no Python needed)',
      (y) =>
        y
          .positional('method', { choices: INSPECT_METHODS, describe: 'Inspect method', type: 'string' })
          .options({ ...remoteOptions, ...hiddenDaemonOptions })
          .example('$0 inspect ping', 'which workers answer')
          .example('$0 inspect stats --json -d celery@host1', 'one worker’s stats as JSON'),
      (argv) => remoteCommand(argv as unknown as CommandArgv, runInspect),
    )
    .command(
      'control <method>',
      'Send a control command to the workers, like `celery control <method>`',
      (y) =>
        y
          .positional('method', { choices: CONTROL_METHODS, describe: 'Control command', type: 'string' })
          .options({ ...remoteOptions, ...hiddenDaemonOptions })
          .example('$0 control enable_events', 'switch task events on in every worker'),
      (argv) => remoteCommand(argv as unknown as CommandArgv, runControl),
    )
    .command(
      'events',
      'Print the live event stream, one line per event (time, type, task, uuid, worker, outcome)',
      (y) =>
        y
          .options({ ...eventsOptions, ...hiddenDaemonOptions })
          .example('$0 events --type "task-f*" --task "app.tasks.*"', 'failures of some tasks')
          .example('$0 events --json --worker "celery@web-*"', 'one JSON object per event'),
      (argv) => eventsCommand(argv as unknown as CommandArgv),
    )
    .strict()
    .version(VERSION)
    .help()
    .wrap(Math.min(120, process.stdout.columns || 100))
    .fail((msg, err) => parseFailure(msg, err, args));

  await parser.parseAsync();
}

/** A ConfigError thrown while loading --config, or yargs' own complaint (with the closest known flag). */
function parseFailure(msg: string | undefined, err: Error | undefined, args: string[]): never {
  if (err) configFailure(err.message);
  const known = [...Object.keys(daemonOptions), 'config', 'print-config', 'help', 'version'];
  configFailure(explainUnknown(msg ?? '', known, args) ?? msg ?? 'invalid arguments');
}

/** Options of the daemon alone; the subcommands accept them silently (shared env and config files). */
const daemonOnlyOptions = Object.fromEntries(
  Object.entries(daemonOptions).filter(([k]) => !(k in brokerOptions)),
) as Record<string, Options>;
const hiddenDaemonOptions = Object.fromEntries(
  Object.entries(daemonOnlyOptions).map(([k, o]) => [k, { ...o, hidden: true }]),
) as Record<string, Options>;

const remoteOptions = {
  destination: {
    alias: 'd',
    type: 'string',
    array: true,
    describe: 'Only these workers (node names, comma-separated or repeated)',
    group: 'Remote control:',
  },
  timeout: {
    alias: 't',
    type: 'number',
    default: 1,
    describe: 'Seconds to wait for the next reply (the wait ends after this long without one)',
    group: 'Remote control:',
  },
  json: { alias: 'j', type: 'boolean', default: false, describe: 'Print the replies as JSON, as `celery … --json` does', group: 'Remote control:' },
} as const satisfies Record<string, Options>;

const eventsOptions = {
  type: { type: 'string', array: true, describe: 'Only these event types (globs, e.g. "task-failed", "task-*")', group: 'Filters:' },
  task: { type: 'string', array: true, describe: 'Only these task names (globs)', group: 'Filters:' },
  worker: { type: 'string', array: true, describe: 'Only events from these hostnames (globs, e.g. "celery@web-*")', group: 'Filters:' },
  json: { type: 'boolean', default: false, describe: 'One JSON object per event (the event as sent, plus the task name and queue when known)', group: 'Output:' },
} as const satisfies Record<string, Options>;

async function startCommand(argv: CommandArgv): Promise<void> {
  const cfg = orConfigFailure(() => buildConfig(argv));
  if (argv['print-config'] === true) {
    process.stdout.write(`${scrub(JSON.stringify({ ...flagValues(argv), [EFFECTIVE_KEY]: printable(cfg) }, null, 2))}\n`);
    return;
  }
  const log = createLogger(cfg.log.level, cfg.log.format);
  routeConsole(log);
  await runDaemon(cfg, log);
}

async function remoteCommand(argv: CommandArgv, run: (a: RemoteArgs) => Promise<number>): Promise<void> {
  const timeout = Number(argv['timeout']);
  if (!Number.isFinite(timeout) || timeout <= 0) configFailure(`invalid --timeout: "${String(argv['timeout'])}" is not a positive number of seconds`);
  const a: RemoteArgs = {
    broker: orConfigFailure(() => buildBrokerConfig(argv)),
    logLevel: argv['log-level'],
    method: String(argv['method']),
    destination: parseList(listOption(argv, 'destination')),
    timeoutSeconds: timeout,
    json: argv['json'] === true,
  };
  await finish(() => run(a));
}

async function eventsCommand(argv: CommandArgv): Promise<void> {
  const cfg = orConfigFailure(() => buildConfig(argv));
  const filters = {
    types: parseList(listOption(argv, 'type')),
    tasks: parseList(listOption(argv, 'task')),
    workers: parseList(listOption(argv, 'worker')),
  };
  await finish(() => runEvents(cfg, argv['log-level'], filters, argv['json'] === true));
}

/** Runs a subcommand and exits with its status once stdout is flushed (piped output is async). */
async function finish(run: () => Promise<number>): Promise<void> {
  let code: number;
  try {
    code = await run();
  } catch (err) {
    if (!(err instanceof Reported)) process.stderr.write(`${NAME}: ${scrub(err instanceof Error ? err.message : String(err))}\n`);
    code = typeof process.exitCode === 'number' && process.exitCode !== 0 ? process.exitCode : 1;
  }
  await new Promise<void>((resolve) => process.stdout.write('', () => resolve()));
  process.exit(code);
}

async function runDaemon(cfg: Config, log: Logger): Promise<void> {
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

/**
 * Every daemon option as a flag name with its value (from flags, environment, config file or
 * default), so the printed document is a config file `--config` loads as it is; passwords are
 * masked. The resolved configuration follows under EFFECTIVE_KEY, for reading (ignored on load).
 */
function flagValues(argv: CommandArgv): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(daemonOptions)) {
    const v: unknown = argv[key];
    if (v === undefined) continue;
    // URLs with their password masked and their user kept, as everywhere else.
    const mask = (x: unknown) => {
      if (typeof x !== 'string') return x;
      const m = maskUrl(x);
      registerMasked(m);
      return m;
    };
    out[key] = Array.isArray(v) ? v.map(mask) : mask(v);
  }
  return out;
}

/** The config with the broker URL reduced to its masked form. */
function printable(cfg: Config): unknown {
  const { url, ...broker } = cfg.broker;
  return { ...cfg, broker: { ...broker, url: url.masked } };
}
