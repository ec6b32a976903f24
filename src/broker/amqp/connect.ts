import { readFileSync } from 'node:fs';
import { connect, type ChannelModel, type Options, type SocketOptions } from 'amqplib';
import type { AmqpConfig } from '../../config/amqp-config.js';
import type { BrokerUrl } from '../../config/broker-url.js';
import { VERSION } from '../../version.js';

export interface AmqpConnectOptions {
  url: Options.Connect;
  socket: SocketOptions;
}

/** How long the TCP/TLS connect and the AMQP handshake may take before the attempt is abandoned. */
const CONNECT_TIMEOUT_MS = 10_000;

/**
 * amqplib options for a parsed broker URL. The object form is used (not the URL string) so the
 * vhost goes to RabbitMQ exactly as kombu decoded it ("/" for amqp://h// and amqp://h/%2F).
 */
export function amqpConnectOptions(url: BrokerUrl, amqp: Pick<AmqpConfig, 'heartbeat'>, connectionName: string): AmqpConnectOptions {
  const socket: SocketOptions = {
    timeout: CONNECT_TIMEOUT_MS,
    noDelay: true,
    keepAlive: true,
    keepAliveDelay: 30_000,
    // Shown in the management UI's connection list, so operators can tell our connections apart.
    clientProperties: { connection_name: connectionName, product: 'celery-prometheus-exporter', version: VERSION },
  };
  if (url.tls) {
    const q = url.query;
    const reqs = q['ssl_cert_reqs'];
    socket.rejectUnauthorized = reqs === undefined || !/^(CERT_NONE|none)$/i.test(reqs);
    if (q['ssl_ca_certs']) socket.ca = readFileSync(q['ssl_ca_certs']);
    if (q['ssl_certfile']) socket.cert = readFileSync(q['ssl_certfile']);
    if (q['ssl_keyfile']) socket.key = readFileSync(q['ssl_keyfile']);
  }
  return {
    url: {
      protocol: url.tls ? 'amqps' : 'amqp',
      hostname: url.host,
      port: url.port,
      // kombu's default credentials, as a Celery app with the same URL would use.
      username: url.username ?? 'guest',
      password: url.password ?? 'guest',
      vhost: url.vhost,
      heartbeat: amqp.heartbeat,
    },
    socket,
  };
}

/**
 * Opens a connection; when `signal` aborts first, rejects at once and closes the connection
 * if it still comes up later, so an abandoned attempt never leaks a socket.
 */
export async function openConnection(opts: AmqpConnectOptions, signal?: AbortSignal): Promise<ChannelModel> {
  const pending = connect(opts.url, opts.socket).catch((err: unknown) => {
    throw explainConnectError(err, opts.url.vhost ?? '/');
  });
  if (signal === undefined) return pending;
  signal.throwIfAborted();
  return new Promise<ChannelModel>((resolve, reject) => {
    const onAbort = () => {
      reject(signal.reason as Error);
      pending.then(closeQuietly, () => undefined);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    pending.then(
      (c) => {
        signal.removeEventListener('abort', onAbort);
        if (signal.aborted) void closeQuietly(c);
        else resolve(c);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err as Error);
      },
    );
  });
}

/**
 * RabbitMQ answers connection.open for a vhost that does not exist, or that the user may not
 * use, with connection.close (530 NOT_ALLOWED); amqplib reports only the unexpected frame.
 */
function explainConnectError(err: unknown, vhost: string): Error {
  const msg = err instanceof Error ? err.message : String(err);
  if (/^Expected ConnectionOpenOk; got <ConnectionClose/.test(msg)) {
    return new Error(`RabbitMQ refused vhost "${vhost}" (NOT_ALLOWED: it does not exist, or the user has no permissions on it)`);
  }
  return err instanceof Error ? err : new Error(msg);
}

export async function closeQuietly(c: { close(): Promise<void> } | undefined): Promise<void> {
  if (c === undefined) return;
  try {
    await c.close();
  } catch {
    // already closed by the peer or by a connection error
  }
}

/** AMQP reply code of a channel or connection error (404 NOT_FOUND, 406 PRECONDITION_FAILED, …). */
export function replyCode(err: unknown): number | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}

/** The `broker` label of the celery_broker_* families: host:port/vhost, never credentials. */
export function brokerLabel(url: BrokerUrl): string {
  return `${url.host}:${url.port}/${url.vhost}`;
}
