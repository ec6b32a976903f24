import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import type { ConnectionLimits } from '../http/connections.js';
import { parseWebConfig } from './web-config.js';
import { buildAmqpConfig, type AmqpConfig } from './amqp-config.js';
import { applyBrokerTlsFlags } from './broker-tls.js';
import { parseBrokerUrl, type BrokerUrl } from './broker-url.js';
import { DEFAULT_BROKER_URL, ENV_PREFIX } from './defaults.js';
import { ConfigError } from './errors.js';
import {
  parseBuckets,
  parseChoice,
  parseInteger,
  parseKeyValues,
  parseList,
  parsePrioritySteps,
  parseRegex,
  parseSeconds,
  transportOptionValue,
} from './parse.js';
import { parsePeriodicTasks, type PeriodicTask } from './periodic.js';
import { registerMasked, registerSecret } from './secrets.js';

export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';

export interface BrokerConfig {
  url: BrokerUrl;
  transportOptions: Record<string, unknown>;
}

/** Everything the daemon needs, validated; built once from flags, env and file, then read-only. */
export interface Config {
  broker: BrokerConfig;
  http: {
    host: string;
    port: number;
    metricsPath: string;
    urlPrefix: string;
    webConfigFile: string | undefined;
    /** Connection cap and timeouts (always set by buildConfig). */
    limits?: ConnectionLimits;
  };
  workers: { timeout: number | undefined; purgeAfter: number; stripHostnamePrefix: boolean };
  metrics: {
    runtimeBuckets: number[];
    queueWaitBuckets: number[];
    latencyBuckets: number[];
    staticLabels: Record<string, string>;
    celeryExporterNames: boolean;
    maxTrackedTasks: number;
    trackedTaskTtl: number;
    maxLabelLength: number;
    /** Seconds after which a running task counts as long-running; 0 = off (always set by buildConfig). */
    longRunningTaskThreshold?: number;
    /** Cardinality controls (always set by buildConfig; optional so hand-built configs stay short). */
    taskNameAllow?: RegExp;
    taskNameDeny?: RegExp;
    maxTaskNames?: number;
    maxExceptionClasses?: number;
    dropLabels?: Array<'hostname' | 'exception'>;
    maxSeries?: number;
    maxWorkers?: number;
    maxQueues?: number;
    /** --periodic-task declarations (always set by buildConfig). */
    periodicTasks?: PeriodicTask[];
  };
  queues: {
    names: string[];
    pollInterval: number;
    pollTimeout: number;
    /** Seconds; 0 = no on-demand polls. */
    minPollInterval: number;
    scrapeWait: number;
    discoveryInterval: number;
    forgetAfter: number;
  };
  /** RabbitMQ-only settings (read with any broker, used with amqp://). */
  amqp: AmqpConfig;
  remoteControl: RemoteControlConfig;
  /** Continuity across restarts (state file, rebuild from the workers); durations in seconds. */
  state?: StateConfig;
  log: { level: LogLevel; format: 'json' | 'pretty' };
}

/** Remote-control pollers (inspect metrics, enable_events); durations in seconds. */
export interface RemoteControlConfig {
  inspect: boolean;
  pollInterval: number;
  pollTimeout: number;
  replyTimeout: number;
  enableEvents: boolean;
  enableEventsInterval: number;
}

export interface StateConfig {
  file: string | undefined;
  saveInterval: number;
  scrapeSaveMinInterval: number;
  reconcileGrace: number;
}

type Argv = Record<string, unknown>;

/** Reads a YAML or JSON config file for yargs' .config(); keys are the flag names. */
/** The key under which --print-config shows the resolved configuration (skipped when loaded). */
export const EFFECTIVE_KEY = 'effective';

/** The config file last loaded and its keys, so an unknown key can be blamed on the file. */
export let loadedConfigFile: { path: string; keys: Set<string> } | undefined;

export function loadConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError('config', `cannot read "${path}": ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  let data: unknown;
  try {
    data = parseYaml(text); // YAML is a superset of JSON
  } catch (err) {
    throw new ConfigError('config', `"${path}" is not valid YAML/JSON: ${(err as Error).message.split('\n')[0]}`);
  }
  if (data === null || data === undefined) return {};
  if (typeof data !== 'object' || Array.isArray(data)) throw new ConfigError('config', `"${path}" must hold a mapping of flag names to values`);
  // --print-config's resolved settings: for reading, not options.
  delete (data as Record<string, unknown>)[EFFECTIVE_KEY];
  loadedConfigFile = { path, keys: new Set(Object.keys(data)) };
  return data as Record<string, unknown>;
}

/**
 * Repeatable options given through the environment arrive as one string: split it on
 * whitespace (values in env twins therefore cannot contain spaces; use the flag or file).
 */
export function listOption(argv: Argv, key: string): string[] {
  const v = argv[key];
  const list = v === undefined || v === null ? [] : Array.isArray(v) ? v.map(String) : [String(v)];
  const envValue = process.env[envName(key)];
  if (list.length === 1 && envValue !== undefined && list[0] === envValue) {
    return envValue.split(/\s+/).filter((s) => s !== '');
  }
  return list;
}

/** A config-file mapping (NAME: VALUE, which yargs wraps in a list) as it is, else the repeatable option's list. */
function mappingOrList(argv: Argv, key: string): unknown {
  const v = argv[key];
  const isMapping = (x: unknown) => typeof x === 'object' && x !== null && !Array.isArray(x);
  return isMapping(v) || (Array.isArray(v) && v.some(isMapping)) ? v : listOption(argv, key);
}

export function envName(flag: string): string {
  return `${ENV_PREFIX}_${flag.replace(/-/g, '_').toUpperCase()}`;
}

export function buildBrokerConfig(argv: Argv): BrokerConfig {
  const fromFlags = argv['broker-url'];
  const raw =
    typeof fromFlags === 'string' && fromFlags !== ''
      ? fromFlags
      : process.env['CELERY_BROKER_URL'] !== undefined && process.env['CELERY_BROKER_URL'] !== ''
        ? process.env['CELERY_BROKER_URL']
        : DEFAULT_BROKER_URL;
  const url = parseBrokerUrl(raw);
  registerSecret(url.password);
  registerMasked(url.masked);
  applyBrokerTlsFlags(argv, url);
  const transportOptions: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(parseKeyValues('broker-transport-option', listOption(argv, 'broker-transport-option')))) {
    transportOptions[k] = transportOptionValue(v);
  }
  const sk = transportOptions['sentinel_kwargs'];
  if (typeof sk === 'object' && sk !== null && typeof (sk as Record<string, unknown>)['password'] === 'string') {
    registerSecret((sk as Record<string, string>)['password']);
  }
  const sep = transportOptions['sep'];
  if (sep !== undefined && typeof sep !== 'string') transportOptions['sep'] = String(sep);
  if (transportOptions['priority_steps'] !== undefined) {
    transportOptions['priority_steps'] = parsePrioritySteps('broker-transport-option', transportOptions['priority_steps']);
  }
  return { url, transportOptions };
}

export function buildConfig(argv: Argv): Config {
  const workerTimeout = argv['worker-timeout'];
  const staticLabels = parseKeyValues('static-label', listOption(argv, 'static-label'), /^[a-zA-Z_][a-zA-Z0-9_]*$/);
  for (const k of Object.keys(staticLabels)) {
    if (k.startsWith('__')) throw new ConfigError('static-label', `label names starting with "__" are reserved ("${k}")`);
  }
  const metricsPath = String(argv['metrics-path'] ?? '/metrics');
  if (!metricsPath.startsWith('/')) throw new ConfigError('metrics-path', `must start with "/", got "${metricsPath}"`);
  const urlPrefix = String(argv['url-prefix'] ?? '').replace(/\/+$/, '');
  if (urlPrefix !== '' && (!urlPrefix.startsWith('/') || /[?#\s]/.test(urlPrefix))) {
    throw new ConfigError('url-prefix', `must be a path starting with "/", got "${urlPrefix}"`);
  }
  const webConfigFile = typeof argv['web-config-file'] === 'string' && argv['web-config-file'] !== '' ? argv['web-config-file'] : undefined;
  if (webConfigFile !== undefined) {
    let text: string;
    try {
      text = readFileSync(webConfigFile, 'utf8');
    } catch (err) {
      throw new ConfigError('web-config-file', `cannot read "${webConfigFile}": ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    }
    try {
      parseWebConfig(text, webConfigFile);
    } catch (err) {
      throw new ConfigError('web-config-file', `${webConfigFile}: ${(err as Error).message}`);
    }
  }
  const broker = buildBrokerConfig(argv);
  return {
    broker,
    http: {
      host: String(argv['host'] ?? '0.0.0.0'),
      port: parseInteger('port', argv['port'], 0, 65535),
      metricsPath,
      urlPrefix,
      webConfigFile,
      limits: {
        maxConnections: parseInteger('http-max-connections', argv['http-max-connections'] ?? 256, 1),
        headersTimeoutMs: parseSeconds('http-headers-timeout', argv['http-headers-timeout'] ?? 10, { allowZero: false }) * 1000,
        idleTimeoutMs: parseSeconds('http-idle-timeout', argv['http-idle-timeout'] ?? 60, { allowZero: false }) * 1000,
      },
    },
    workers: {
      timeout: workerTimeout === undefined || workerTimeout === null ? undefined : parseSeconds('worker-timeout', workerTimeout),
      purgeAfter: parseSeconds('purge-offline-worker-metrics', argv['purge-offline-worker-metrics']),
      stripHostnamePrefix: argv['strip-hostname-prefix'] === true,
    },
    metrics: {
      runtimeBuckets: parseBuckets('runtime-buckets', argv['runtime-buckets']),
      queueWaitBuckets: parseBuckets('queue-wait-buckets', argv['queue-wait-buckets']),
      latencyBuckets: parseBuckets('latency-buckets', argv['latency-buckets']),
      staticLabels,
      celeryExporterNames: parseChoice('metric-names', argv['metric-names'], ['default', 'celery-exporter']) === 'celery-exporter',
      maxTrackedTasks: parseInteger('max-tracked-tasks', argv['max-tracked-tasks'], 1),
      trackedTaskTtl: parseSeconds('tracked-task-ttl', argv['tracked-task-ttl'], { allowZero: false }),
      maxLabelLength: parseInteger('max-label-length', argv['max-label-length'], 8, 10_000),
      longRunningTaskThreshold: parseSeconds('long-running-task-threshold', argv['long-running-task-threshold']),
      taskNameAllow: parseRegex('task-name-allow', argv['task-name-allow']),
      taskNameDeny: parseRegex('task-name-deny', argv['task-name-deny']),
      maxTaskNames: parseInteger('max-task-names', argv['max-task-names'], 0),
      maxExceptionClasses: parseInteger('max-exception-classes', argv['max-exception-classes'], 0),
      dropLabels: parseList(listOption(argv, 'drop-label')).map((l) => parseChoice('drop-label', l, ['hostname', 'exception'] as const)),
      maxSeries: parseInteger('max-series', argv['max-series'], 0),
      maxWorkers: parseInteger('max-workers', argv['max-workers'], 1),
      maxQueues: parseInteger('max-queues', argv['max-queues'], 1),
      periodicTasks: parsePeriodicTasks(mappingOrList(argv, 'periodic-task'), mappingOrList(argv, 'periodic-task-tolerance')),
    },
    queues: {
      names: parseList(listOption(argv, 'queues')),
      pollInterval: parseSeconds('queue-poll-interval', argv['queue-poll-interval'], { allowZero: false }),
      pollTimeout: parseSeconds('queue-poll-timeout', argv['queue-poll-timeout'], { allowZero: false }),
      minPollInterval: parseSeconds('queue-min-poll-interval', argv['queue-min-poll-interval']),
      scrapeWait: parseSeconds('queue-scrape-wait', argv['queue-scrape-wait']),
      discoveryInterval: parseSeconds('queue-discovery-interval', argv['queue-discovery-interval']),
      forgetAfter: parseSeconds('queue-forget-after', argv['queue-forget-after']),
    },
    amqp: buildAmqpConfig(argv, broker.url),
    remoteControl: buildRemoteControlConfig(argv),
    state: buildStateConfig(argv),
    log: {
      level: parseChoice('log-level', argv['log-level'], ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']),
      format: parseChoice('log-format', argv['log-format'], ['json', 'pretty']),
    },
  };
}

function buildRemoteControlConfig(argv: Argv): RemoteControlConfig {
  const replyTimeout = parseSeconds('inspect-reply-timeout', argv['inspect-reply-timeout'] ?? 1, { allowZero: false });
  const pollTimeout = parseSeconds('inspect-poll-timeout', argv['inspect-poll-timeout'] ?? 10, { allowZero: false });
  // A round is a ping and then four calls side by side, each ending with one idle reply window.
  if (pollTimeout <= 2 * replyTimeout) {
    throw new ConfigError('inspect-poll-timeout', `must be more than twice --inspect-reply-timeout (${replyTimeout} s), got ${pollTimeout} s`);
  }
  return {
    inspect: argv['inspect-metrics'] !== false,
    pollInterval: parseSeconds('inspect-poll-interval', argv['inspect-poll-interval'] ?? 15, { allowZero: false }),
    pollTimeout,
    replyTimeout,
    enableEvents: argv['enable-events'] !== false,
    enableEventsInterval: parseSeconds('enable-events-interval', argv['enable-events-interval'] ?? 60, { allowZero: false }),
  };
}

function buildStateConfig(argv: Argv): StateConfig {
  const file = argv['state-file'];
  return {
    file: typeof file === 'string' && file !== '' ? file : undefined,
    saveInterval: parseSeconds('state-save-interval', argv['state-save-interval'] ?? 30, { allowZero: false }),
    scrapeSaveMinInterval: parseSeconds('state-scrape-save-min-interval', argv['state-scrape-save-min-interval'] ?? 1),
    reconcileGrace: parseSeconds('reconcile-grace', argv['reconcile-grace'] ?? 30),
  };
}
