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
  // No yargs defaults for the two below: the default depends on --event-queue-name (EVENT_QUEUE_DEFAULTS below).
  'event-queue-ttl': {
    type: 'number',
    describe:
      'x-message-ttl (seconds) of the event queue: events older than this expire instead of piling up (Celery: event_queue_ttl). Default 5 for our celeryev.<uuid> queue, none for a --event-queue-name queue',
    group: 'RabbitMQ:',
  },
  'event-queue-expires': {
    type: 'number',
    describe:
      'x-expires (seconds) of the event queue: the broker deletes it this long after we are gone (Celery: event_queue_expires). Default 60 for our celeryev.<uuid> queue, 3600 for a --event-queue-name queue',
    group: 'RabbitMQ:',
  },
  'event-queue-name': {
    type: 'string',
    describe:
      'Consume events from this durable queue (bound to celeryev with "#") instead of an auto-delete one per process: events published while the exporter is down wait for it; with --state-file each is counted exactly once across a restart',
    group: 'RabbitMQ:',
  },
  'event-queue-max-length': {
    type: 'number',
    default: 1_000_000,
    describe: 'x-max-length of a --event-queue-name queue (x-overflow drop-head: the oldest events go first when it is full)',
    group: 'RabbitMQ:',
  },
  'event-queue-shared': {
    type: 'boolean',
    default: false,
    describe:
      'Allow other consumers on the --event-queue-name queue (they split the events between them); without it the exporter refuses to consume while another consumer is attached',
    group: 'RabbitMQ:',
  },
  'rabbitmq-management-url': {
    type: 'string',
    describe:
      'RabbitMQ management API, http(s)://user:pass@host:15672 (credentials default to the broker’s): queue depth of every queue in the vhost, unacked counts and broker health instead of passive declares',
    group: 'RabbitMQ:',
  },
} as const satisfies Record<string, Options>;

/**
 * The event queue's x-message-ttl and x-expires (seconds) when not given: they depend on
 * --event-queue-name, so they cannot be yargs defaults (declared here, once; the flags' help
 * states them). The per-process queue keeps Celery's event_queue_ttl / event_queue_expires; a
 * named queue has no TTL by default (x-max-length bounds it) and lives an hour without us.
 */
export const EVENT_QUEUE_DEFAULTS = {
  perProcess: { ttl: 5, expires: 60 },
  named: { ttl: undefined, expires: 3600 },
} as const;

export interface ManagementConfig {
  /** Base URL without credentials, ending in "/". */
  baseUrl: string;
  username: string;
  password: string;
  /** For logs and error messages. */
  masked: string;
}

/** A named, durable event queue (--event-queue-name); durations in seconds. */
export interface DurableEventQueue {
  name: string;
  /** x-message-ttl; undefined: none (x-max-length bounds the queue). */
  ttl: number | undefined;
  expires: number;
  maxLength: number;
  /** Other consumers allowed on the queue. */
  shared: boolean;
}

export interface AmqpConfig {
  heartbeat: number;
  /** x-message-ttl and x-expires of the per-process celeryev.<uuid> queue (no --event-queue-name). */
  eventQueueTtl: number;
  eventQueueExpires: number;
  /** Set with --event-queue-name. */
  durableEventQueue: DurableEventQueue | undefined;
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
  const durable = buildDurableEventQueue(argv);
  return {
    // AMQP carries the heartbeat as whole seconds in a short.
    heartbeat: parseInteger('amqp-heartbeat', argv['amqp-heartbeat'], 0, 65_535),
    eventQueueTtl: parseTtl(argv['event-queue-ttl'] ?? EVENT_QUEUE_DEFAULTS.perProcess.ttl),
    eventQueueExpires: parseExpires(argv['event-queue-expires'] ?? EVENT_QUEUE_DEFAULTS.perProcess.expires),
    durableEventQueue: durable,
    management,
  };
}

const parseTtl = (v: unknown) => parseSeconds('event-queue-ttl', v, { allowZero: false });

function parseExpires(v: unknown): number {
  const expires = parseSeconds('event-queue-expires', v, { allowZero: false });
  // RabbitMQ rejects x-expires below 1 ms and an x-expires shorter than a reconnect would drop the queue under us.
  if (expires < 1) throw new ConfigError('event-queue-expires', `must be at least 1 second, got ${expires}`);
  return expires;
}

/**
 * A named queue keeps events while the exporter is away, so its defaults differ from the
 * per-process queue's: no message TTL (an event that waited is still worth counting; x-max-length
 * bounds the queue instead) and an hour before an abandoned queue is deleted (a rollout or a node
 * drain takes minutes; Celery's 60 s would delete the queue, and its events, under a slow restart).
 */
function buildDurableEventQueue(argv: ArgvOf<typeof amqpOptions>): DurableEventQueue | undefined {
  const name = argv['event-queue-name'];
  if (name === undefined || name === '') return undefined;
  if (typeof name !== 'string' || Buffer.byteLength(name) > 255 || name.startsWith('amq.')) {
    throw new ConfigError('event-queue-name', 'must be a queue name of at most 255 bytes, not starting with "amq." (reserved by RabbitMQ)');
  }
  const ttl = argv['event-queue-ttl'];
  return {
    name,
    ttl: ttl === undefined ? undefined : parseTtl(ttl),
    expires: parseExpires(argv['event-queue-expires'] ?? EVENT_QUEUE_DEFAULTS.named.expires),
    maxLength: parseInteger('event-queue-max-length', argv['event-queue-max-length'], 1),
    shared: argv['event-queue-shared'],
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
