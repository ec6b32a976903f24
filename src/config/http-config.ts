import { readFileSync } from 'node:fs';
import type { Options } from 'yargs';
import type { ArgvOf } from './argv.js';
import { ConfigError } from './errors.js';
import { parseInteger, parseSeconds } from './parse.js';
import { parseWebConfig } from './web-config.js';

export const httpOptions = {
  port: { type: 'number', default: 8888, describe: 'HTTP port for /metrics', group: 'HTTP:' },
  host: { type: 'string', default: '0.0.0.0', describe: 'Address to listen on', group: 'HTTP:' },
  'metrics-path': { type: 'string', default: '/metrics', describe: 'Path of the metrics endpoint', group: 'HTTP:' },
  'url-prefix': {
    type: 'string',
    default: '',
    describe: 'Serve every route under this path (e.g. /monitoring), for a reverse proxy',
    group: 'HTTP:',
  },
  'web-config-file': {
    type: 'string',
    describe: 'Prometheus exporter-toolkit web config (TLS, basic auth, headers, rate limit); re-read when it changes',
    group: 'HTTP:',
  },
  'http-max-connections': {
    type: 'number',
    default: 256,
    describe: 'Most HTTP connections open at once; past it the oldest idle connection is closed to make room',
    group: 'HTTP:',
  },
  'http-headers-timeout': {
    type: 'number',
    default: 10,
    describe: 'Seconds a new connection has to finish its TLS handshake and send its request headers',
    group: 'HTTP:',
  },
  'http-idle-timeout': {
    type: 'number',
    default: 60,
    describe: 'Seconds a keep-alive connection may wait for its next request, and a response may stall on a client that does not read',
    group: 'HTTP:',
  },
} as const satisfies Record<string, Options>;

/** How long connections may live without doing anything, and how many may be open. */
export interface ConnectionLimits {
  /** Open connections (TLS ones from before their handshake); past it the oldest idle one is closed. */
  maxConnections: number;
  /** A new connection must finish its TLS handshake and send complete request headers within this. */
  headersTimeoutMs: number;
  /** Keep-alive between requests, and a response making no progress (a client that does not read). */
  idleTimeoutMs: number;
}

export interface HttpConfig {
  host: string;
  port: number;
  metricsPath: string;
  urlPrefix: string;
  webConfigFile: string | undefined;
  limits: ConnectionLimits;
}

type HttpArgv = ArgvOf<typeof httpOptions>;

export function buildHttpConfig(argv: HttpArgv): HttpConfig {
  const metricsPath = String(argv['metrics-path']);
  if (!metricsPath.startsWith('/')) throw new ConfigError('metrics-path', `must start with "/", got "${metricsPath}"`);
  const urlPrefix = String(argv['url-prefix']).replace(/\/+$/, '');
  if (urlPrefix !== '' && (!urlPrefix.startsWith('/') || /[?#\s]/.test(urlPrefix))) {
    throw new ConfigError('url-prefix', `must be a path starting with "/", got "${urlPrefix}"`);
  }
  const file = argv['web-config-file'];
  const webConfigFile = typeof file === 'string' && file !== '' ? file : undefined;
  if (webConfigFile !== undefined) checkWebConfigFile(webConfigFile);
  return {
    host: String(argv['host']),
    port: parseInteger('port', argv['port'], 0, 65535),
    metricsPath,
    urlPrefix,
    webConfigFile,
    limits: connectionLimits(argv),
  };
}

export function connectionLimits(argv: Pick<HttpArgv, 'http-max-connections' | 'http-headers-timeout' | 'http-idle-timeout'>): ConnectionLimits {
  return {
    maxConnections: parseInteger('http-max-connections', argv['http-max-connections'], 1),
    headersTimeoutMs: parseSeconds('http-headers-timeout', argv['http-headers-timeout'], { allowZero: false }) * 1000,
    idleTimeoutMs: parseSeconds('http-idle-timeout', argv['http-idle-timeout'], { allowZero: false }) * 1000,
  };
}

/** A web config that cannot be read or is invalid stops the start (later changes are only logged). */
function checkWebConfigFile(path: string): void {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError('web-config-file', `cannot read "${path}": ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  try {
    parseWebConfig(text, path);
  } catch (err) {
    throw new ConfigError('web-config-file', `${path}: ${(err as Error).message}`);
  }
}
