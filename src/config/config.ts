import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { parseWebConfig } from '../http/web-config.js';
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
import { registerSecret } from './secrets.js';

export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';

export interface BrokerConfig {
  url: BrokerUrl;
  transportOptions: Record<string, unknown>;
}

/** Everything the daemon needs, validated; built once from flags, env and file, then read-only. */
export interface Config {
  broker: BrokerConfig;
  http: { host: string; port: number; metricsPath: string; urlPrefix: string; webConfigFile: string | undefined };
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
  };
  queues: { names: string[]; pollInterval: number; pollTimeout: number; discoveryInterval: number; forgetAfter: number };
  /** RabbitMQ-only settings (read with any broker, used with amqp://). */
  amqp: AmqpConfig;
  remoteControl: RemoteControlConfig;
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

type Argv = Record<string, unknown>;

/** Reads a YAML or JSON config file for yargs' .config(); keys are the flag names. */
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
    },
    queues: {
      names: parseList(listOption(argv, 'queues')),
      pollInterval: parseSeconds('queue-poll-interval', argv['queue-poll-interval'], { allowZero: false }),
      pollTimeout: parseSeconds('queue-poll-timeout', argv['queue-poll-timeout'], { allowZero: false }),
      discoveryInterval: parseSeconds('queue-discovery-interval', argv['queue-discovery-interval']),
      forgetAfter: parseSeconds('queue-forget-after', argv['queue-forget-after']),
    },
    amqp: buildAmqpConfig(argv, broker.url),
    remoteControl: buildRemoteControlConfig(argv),
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
