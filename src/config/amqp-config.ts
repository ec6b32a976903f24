import type { Options } from 'yargs';
import type { ArgvOf } from './argv.js';
import { decodeComponent, type BrokerUrl } from './broker-url.js';
import { ConfigError } from './errors.js';
import { parseInteger, parseSeconds } from './parse.js';
import { registerSecret } from './secrets.js';

/** Flags read only with an amqp:// or amqps:// broker. */
export const amqpOptions = {
  'amqp-heartbeat': {
    type: 'number',
    default: 30,
    describe: 'AMQP heartbeat interval in seconds proposed to RabbitMQ (the lower of both sides wins; 0 = off); a dead peer is noticed after two missed beats',
    group: 'RabbitMQ:',
  },
  'event-queue-ttl': {
    type: 'number',
    default: 5,
    describe: 'x-message-ttl (seconds) of our celeryev.<uuid> queue: events older than this expire instead of piling up (Celery: event_queue_ttl)',
    group: 'RabbitMQ:',
  },
  'event-queue-expires': {
    type: 'number',
    default: 60,
    describe: 'x-expires (seconds) of our celeryev.<uuid> queue: the broker deletes it this long after we are gone (Celery: event_queue_expires)',
    group: 'RabbitMQ:',
  },
  'rabbitmq-management-url': {
    type: 'string',
    describe:
      'RabbitMQ management API, http(s)://user:pass@host:15672 (credentials default to the broker’s): queue depth of every queue in the vhost, unacked counts and broker health instead of passive declares',
    group: 'RabbitMQ:',
  },
} as const satisfies Record<string, Options>;

export interface ManagementConfig {
  /** Base URL without credentials, ending in "/". */
  baseUrl: string;
  username: string;
  password: string;
  /** For logs and error messages. */
  masked: string;
}

export interface AmqpConfig {
  heartbeat: number;
  eventQueueTtl: number;
  eventQueueExpires: number;
  management: ManagementConfig | undefined;
}

export function buildAmqpConfig(argv: ArgvOf<typeof amqpOptions>, broker: BrokerUrl): AmqpConfig {
  const rawMgmt = argv['rabbitmq-management-url'];
  let management: ManagementConfig | undefined;
  if (typeof rawMgmt === 'string' && rawMgmt !== '') {
    if (broker.transport !== 'amqp') {
      throw new ConfigError('rabbitmq-management-url', `only applies to an amqp:// or amqps:// broker, not ${broker.scheme}://`);
    }
    management = parseManagementUrl(rawMgmt, broker);
  }
  const ttl = parseSeconds('event-queue-ttl', argv['event-queue-ttl'], { allowZero: false });
  const expires = parseSeconds('event-queue-expires', argv['event-queue-expires'], { allowZero: false });
  // RabbitMQ rejects x-expires below 1 ms and an x-expires shorter than a reconnect would drop the queue under us.
  if (expires < 1) throw new ConfigError('event-queue-expires', `must be at least 1 second, got ${expires}`);
  return {
    // AMQP carries the heartbeat as whole seconds in a short.
    heartbeat: parseInteger('amqp-heartbeat', argv['amqp-heartbeat'], 0, 65_535),
    eventQueueTtl: ttl,
    eventQueueExpires: expires,
    management,
  };
}

function parseManagementUrl(raw: string, broker: BrokerUrl): ManagementConfig {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new ConfigError('rabbitmq-management-url', `not a valid URL: "${maskCredentials(raw)}"`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    throw new ConfigError('rabbitmq-management-url', `must be http:// or https://, got "${u.protocol}//"`);
  }
  const masked = maskCredentials(raw);
  const username = u.username !== '' ? decodeComponent(u.username, 'rabbitmq-management-url', 'user name', masked) : (broker.username ?? 'guest');
  const password =
    u.password !== '' ? decodeComponent(u.password, 'rabbitmq-management-url', 'password', masked) : u.username !== '' ? '' : (broker.password ?? 'guest');
  registerSecret(password);
  u.username = '';
  u.password = '';
  u.search = '';
  u.hash = '';
  if (!u.pathname.endsWith('/')) u.pathname += '/';
  const baseUrl = u.toString();
  const maskedBase = baseUrl.replace(/^(https?:\/\/)/, `$1${encodeURIComponent(username)}:****@`);
  return { baseUrl, username, password, masked: maskedBase };
}

function maskCredentials(raw: string): string {
  return raw.replace(/(\/\/[^/@\s:]*:)[^\s/@]*@/, '$1****@');
}
