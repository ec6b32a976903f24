import { accessSync, constants } from 'node:fs';
import type { Options } from 'yargs';
import type { ArgvOf } from './argv.js';
import type { BrokerUrl } from './broker-url.js';
import { ConfigError } from './errors.js';

/**
 * TLS material for amqps:// and rediss:// as flags, named after Celery's broker_use_ssl keys.
 * They land in the URL query under kombu's names (ssl_ca_certs, …), which both transports read,
 * so a flag and the query parameter are the same setting (the flag wins).
 */
export const brokerTlsOptions = {
  'broker-ssl-ca-certs': {
    type: 'string',
    describe: 'PEM file of the CA(s) that signed the broker certificate (amqps://, rediss://); default: the system CAs',
    group: 'Broker:',
  },
  'broker-ssl-certfile': {
    type: 'string',
    describe: 'PEM client certificate for brokers that require one (with --broker-ssl-keyfile)',
    group: 'Broker:',
  },
  'broker-ssl-keyfile': {
    type: 'string',
    describe: 'PEM private key of --broker-ssl-certfile',
    group: 'Broker:',
  },
  'broker-ssl-cert-reqs': {
    type: 'string',
    describe: 'CERT_REQUIRED (default) or CERT_NONE (do not verify the broker certificate; for tests only)',
    group: 'Broker:',
  },
} as const satisfies Record<string, Options>;

const FLAG_TO_QUERY: Record<keyof typeof brokerTlsOptions, string> = {
  'broker-ssl-ca-certs': 'ssl_ca_certs',
  'broker-ssl-certfile': 'ssl_certfile',
  'broker-ssl-keyfile': 'ssl_keyfile',
  'broker-ssl-cert-reqs': 'ssl_cert_reqs',
};

/** Folds the TLS flags into the parsed URL and checks that the files can be read. */
export function applyBrokerTlsFlags(argv: ArgvOf<typeof brokerTlsOptions>, url: BrokerUrl): void {
  for (const [flag, key] of Object.entries(FLAG_TO_QUERY)) {
    const v = argv[flag as keyof typeof FLAG_TO_QUERY];
    if (typeof v !== 'string' || v === '') continue;
    if (!url.tls) throw new ConfigError(flag, `needs a TLS broker URL (amqps:// or rediss://), got ${url.scheme}://`);
    url.query[key] = v;
  }
  const reqs = url.query['ssl_cert_reqs'];
  if (reqs !== undefined && !/^(CERT_NONE|CERT_OPTIONAL|CERT_REQUIRED|none|optional|required)$/i.test(reqs)) {
    throw new ConfigError('broker-ssl-cert-reqs', `"${reqs}" is not CERT_REQUIRED, CERT_OPTIONAL or CERT_NONE`);
  }
  if ((url.query['ssl_certfile'] === undefined) !== (url.query['ssl_keyfile'] === undefined)) {
    throw new ConfigError('broker-ssl-certfile', 'a client certificate needs both --broker-ssl-certfile and --broker-ssl-keyfile');
  }
  for (const [flag, key] of Object.entries(FLAG_TO_QUERY)) {
    const path = url.query[key];
    if (key === 'ssl_cert_reqs' || path === undefined) continue;
    try {
      accessSync(path, constants.R_OK);
    } catch (err) {
      throw new ConfigError(flag, `cannot read "${path}": ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    }
  }
}
