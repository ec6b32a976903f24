import { buildAmqpConfig, type AmqpConfig } from './amqp-config.js';
import { defaultsOf } from './argv.js';
import { buildBrokerConfig, type BrokerConfig } from './broker-config.js';
import { DEFAULT_BROKER_URL } from './defaults.js';
import { buildHttpConfig, type HttpConfig } from './http-config.js';
import { buildLogConfig, type LogConfig } from './log-config.js';
import { buildMetricsConfig, buildWorkersConfig, type MetricsConfig, type WorkersConfig } from './metrics-config.js';
import { daemonOptions, type DaemonArgv } from './options.js';
import { buildQueuesConfig, type QueuesConfig } from './queue-config.js';
import { buildRemoteControlConfig, type RemoteControlConfig } from './remote-config.js';
import { buildStateConfig, type StateConfig } from './state-config.js';

export { envName, listOption } from './argv.js';
export { buildBrokerConfig, type BrokerConfig } from './broker-config.js';
export { EFFECTIVE_KEY, loadConfigFile, loadedConfigFile } from './config-file.js';
export type { ConnectionLimits, HttpConfig } from './http-config.js';
export type { LogLevel } from './log-config.js';
export type { MetricsConfig, WorkersConfig } from './metrics-config.js';
export type { QueuesConfig } from './queue-config.js';
export type { RemoteControlConfig } from './remote-config.js';
export type { StateConfig } from './state-config.js';

/**
 * Everything the daemon needs, validated; built once from flags, env and file, then read-only.
 * Every field is set: the defaults come from the option table (options.ts), never from here.
 */
export interface Config {
  broker: BrokerConfig;
  http: HttpConfig;
  workers: WorkersConfig;
  metrics: MetricsConfig;
  queues: QueuesConfig;
  /** RabbitMQ-only settings (read with any broker, used with amqp://). */
  amqp: AmqpConfig;
  remoteControl: RemoteControlConfig;
  /** Continuity across restarts (state file, rebuild from the workers). */
  state: StateConfig;
  log: LogConfig;
}

/** The first invalid value throws a ConfigError naming its flag. */
export function buildConfig(argv: DaemonArgv): Config {
  const http = buildHttpConfig(argv);
  const broker = buildBrokerConfig(argv);
  return {
    broker,
    http,
    workers: buildWorkersConfig(argv),
    metrics: buildMetricsConfig(argv),
    queues: buildQueuesConfig(argv),
    amqp: buildAmqpConfig(argv, broker.url),
    remoteControl: buildRemoteControlConfig(argv),
    state: buildStateConfig(argv),
    log: buildLogConfig(argv),
  };
}

/**
 * The configuration of an exporter started without any option and without environment, for
 * code that builds a Core without the CLI (tests, the benchmark, the generators).
 */
export function defaultConfig(): Config {
  return buildConfig({ ...defaultsOf(daemonOptions), 'broker-url': DEFAULT_BROKER_URL });
}
