import type { Options } from 'yargs';
import { listOption, type ArgvOf } from './argv.js';
import { applyBrokerTlsFlags, brokerTlsOptions } from './broker-tls.js';
import { parseBrokerUrl, type BrokerUrl } from './broker-url.js';
import { DEFAULT_BROKER_URL } from './defaults.js';
import { parseKeyValues, parsePrioritySteps, transportOptionValue } from './parse.js';
import { registerMasked, registerSecret } from './secrets.js';

/** The options every command reads (the daemon, inspect, control, events). */
export const brokerOptions = {
  'broker-url': {
    alias: 'broker',
    type: 'string',
    describe:
      'Broker URL (redis://, rediss://, redis+socket://, sentinel://, amqp://, amqps://). Falls back to CELERY_BROKER_URL, then redis://localhost:6379/0',
    group: 'Broker:',
  },
  'broker-transport-option': {
    type: 'string',
    array: true,
    describe: 'kombu transport option k=v, repeatable (global_keyprefix, sep, priority_steps, visibility_timeout, master_name, …)',
    group: 'Broker:',
  },
  ...brokerTlsOptions,
} as const satisfies Record<string, Options>;

export interface BrokerConfig {
  url: BrokerUrl;
  transportOptions: Record<string, unknown>;
}

export function buildBrokerConfig(argv: ArgvOf<typeof brokerOptions>): BrokerConfig {
  const fromFlags = argv['broker-url'];
  const fromCelery = process.env['CELERY_BROKER_URL'];
  // Not a table default: CELERY_BROKER_URL comes between the flag (and its twin) and the default.
  const raw = typeof fromFlags === 'string' && fromFlags !== '' ? fromFlags : fromCelery !== undefined && fromCelery !== '' ? fromCelery : DEFAULT_BROKER_URL;
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
