import { ConfigError } from './errors.js';

export type TransportKind = 'redis' | 'amqp';

export interface HostPort {
  host: string;
  port: number;
}

export interface BrokerUrl {
  transport: TransportKind;
  scheme: string;
  tls: boolean;
  host: string;
  port: number;
  username: string | undefined;
  password: string | undefined;
  /** Redis database number (URL path; default 0). */
  db: number;
  /** AMQP virtual host (URL path, percent-decoded; default "/"). */
  vhost: string;
  /** redis+socket:// path. */
  socketPath: string | undefined;
  /** sentinel:// hosts, in the order given (kombu's `;`-separated form). */
  sentinels: HostPort[];
  query: Record<string, string>;
  /** The URL with the password replaced by ****, safe for logs and pages. */
  masked: string;
}

const SCHEMES: Record<string, { transport: TransportKind; tls: boolean; port: number }> = {
  redis: { transport: 'redis', tls: false, port: 6379 },
  rediss: { transport: 'redis', tls: true, port: 6379 },
  'redis+socket': { transport: 'redis', tls: false, port: 0 },
  sentinel: { transport: 'redis', tls: false, port: 26379 },
  amqp: { transport: 'amqp', tls: false, port: 5672 },
  amqps: { transport: 'amqp', tls: true, port: 5671 },
  pyamqp: { transport: 'amqp', tls: false, port: 5672 },
};

/** Replaces the password of every URL in `text` (also `;`-joined sentinel lists) with ****. */
export function maskUrl(text: string): string {
  return text.replace(/(\/\/[^/@\s;:]*:)[^\s;/]*@/g, '$1****@');
}

/** Parses a kombu-style broker URL. Errors name the flag and never contain the password. */
export function parseBrokerUrl(raw: string, flag = 'broker-url'): BrokerUrl {
  const masked = maskUrl(raw);
  const parts = raw.split(';').map((s) => s.trim()).filter((s) => s !== '');
  if (parts.length === 0) throw new ConfigError(flag, 'empty broker URL');
  const schemeMatch = /^([a-z][a-z0-9+.-]*):\/\//i.exec(parts[0]!);
  if (!schemeMatch) throw new ConfigError(flag, `not a URL: "${masked}"`);
  const scheme = schemeMatch[1]!.toLowerCase();
  const spec = SCHEMES[scheme];
  if (!spec) {
    throw new ConfigError(
      flag,
      `unknown transport "${scheme}" in "${masked}" (supported: ${Object.keys(SCHEMES).join(', ')})`,
    );
  }
  if (parts.length > 1 && scheme !== 'sentinel') {
    throw new ConfigError(flag, `only sentinel:// URLs may list several hosts separated by ";": "${masked}"`);
  }
  if (scheme === 'redis+socket') return parseSocketUrl(parts[0]!, masked, flag);

  let first: URL;
  try {
    // WHATWG URL does not know these schemes' defaults; parse them as http to get host/port/path.
    first = new URL(parts[0]!.replace(/^[^:]+:/, 'http:'));
  } catch {
    throw new ConfigError(flag, `not a valid URL: "${masked}"`);
  }
  const sentinels = scheme === 'sentinel' ? parts.map((p) => sentinelHost(p, spec.port, flag, masked)) : [];
  const query: Record<string, string> = {};
  for (const [k, v] of first.searchParams) query[k] = v;
  const path = decodeComponent(first.pathname.replace(/^\//, ''), flag, 'path', masked);
  const { db, vhost } = spec.transport === 'redis' ? { db: redisDb(path, query, flag, masked), vhost: '/' } : { db: 0, vhost: amqpVhost(path) };
  return {
    transport: spec.transport,
    scheme,
    tls: spec.tls || query['ssl'] === 'true' || query['ssl_cert_reqs'] !== undefined,
    host: first.hostname.replace(/^\[(.*)\]$/, '$1') || 'localhost',
    port: portOf(first, spec.port, flag, masked),
    username: first.username !== '' ? decodeComponent(first.username, flag, 'user name', masked) : undefined,
    password: first.password !== '' ? decodeComponent(first.password, flag, 'password', masked) : undefined,
    db,
    vhost,
    socketPath: undefined,
    sentinels,
    query,
    masked,
  };
}

function sentinelHost(part: string, defaultPort: number, flag: string, masked: string): HostPort {
  let u: URL;
  try {
    u = new URL(part.replace(/^[^:]+:/, 'http:'));
  } catch {
    throw new ConfigError(flag, `not a valid URL: "${maskUrl(part)}"`);
  }
  return { host: u.hostname || 'localhost', port: portOf(u, defaultPort, flag, masked) };
}

/** The database of a Redis URL: its path, or kombu's `virtual_host` query parameter when numeric. */
function redisDb(path: string, query: Record<string, string>, flag: string, masked: string): number {
  let db = 0;
  const dbText = path.replace(/\/$/, '');
  if (dbText !== '') {
    if (!/^\d+$/.test(dbText)) throw new ConfigError(flag, `Redis database must be a number, got "${dbText}" in "${masked}"`);
    db = Number(dbText);
  }
  if (query['virtual_host'] !== undefined && /^\d+$/.test(query['virtual_host'])) db = Number(query['virtual_host']);
  return db;
}

/** kombu: amqp://h// → vhost "/", amqp://h/prod → "prod", empty path → "/". */
function amqpVhost(path: string): string {
  return path === '' ? '/' : path;
}

/**
 * decodeURIComponent that names the flag: a stray "%" (e.g. an unencoded "%" in a password)
 * otherwise surfaces as a bare "URI malformed". The message shows the masked URL only.
 */
export function decodeComponent(text: string, flag: string, what: string, masked: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw new ConfigError(flag, `malformed percent-escape in the ${what} of "${masked}" (write a literal "%" as %25)`);
  }
}

function portOf(u: URL, fallback: number, flag: string, masked: string): number {
  if (u.port === '') return fallback;
  const p = Number(u.port);
  if (!Number.isInteger(p) || p <= 0 || p > 65535) throw new ConfigError(flag, `bad port in "${masked}"`);
  return p;
}

function parseSocketUrl(raw: string, masked: string, flag: string): BrokerUrl {
  // redis+socket:///path/to/redis.sock?virtual_host=0 (kombu form); a password may precede the path.
  const m = /^redis\+socket:\/\/(?:(?:([^:@/]*):)?([^@/]*)@)?(\/[^?]*)(?:\?(.*))?$/i.exec(raw);
  if (!m) throw new ConfigError(flag, `not a valid redis+socket URL: "${masked}"`);
  const query: Record<string, string> = {};
  for (const [k, v] of new URLSearchParams(m[4] ?? '')) query[k] = v;
  const vh = query['virtual_host'] ?? query['db'];
  if (vh !== undefined && !/^\d+$/.test(vh)) throw new ConfigError(flag, `Redis database must be a number in "${masked}"`);
  return {
    transport: 'redis',
    scheme: 'redis+socket',
    tls: false,
    host: 'localhost',
    port: 0,
    username: m[1] ? decodeComponent(m[1], flag, 'user name', masked) : undefined,
    password: m[2] ? decodeComponent(m[2], flag, 'password', masked) : undefined,
    db: vh !== undefined ? Number(vh) : 0,
    vhost: '/',
    socketPath: m[3],
    sentinels: [],
    query,
    masked,
  };
}
