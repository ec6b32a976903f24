import { readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';

/**
 * The Prometheus exporter-toolkit web configuration file (--web.config.file of node_exporter,
 * Prometheus, Alertmanager): TLS, basic auth, response headers, rate limit. Parsed strictly —
 * an unknown key is an error, as in the toolkit — so a typo never silently disables TLS or auth.
 */
export interface WebConfig {
  tls: TlsServerConfig | undefined;
  headers: Record<string, string>;
  users: Map<string, string>;
  rateLimit: { intervalMs: number; burst: number } | undefined;
}

export type ClientAuthType =
  | 'NoClientCert'
  | 'RequestClientCert'
  | 'RequireAnyClientCert'
  | 'VerifyClientCertIfGiven'
  | 'RequireAndVerifyClientCert';

export interface TlsServerConfig {
  cert: Buffer;
  key: Buffer;
  clientAuth: ClientAuthType;
  clientCa: Buffer | undefined;
  clientAllowedSans: string[];
  minVersion: 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3';
  maxVersion: 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3' | undefined;
  ciphers: string | undefined;
  honorCipherOrder: boolean;
  ecdhCurve: string | undefined;
  /** Files the TLS settings came from, watched so certificates rotate without a restart. */
  files: string[];
}

export class WebConfigError extends Error {}

const TLS_VERSIONS: Record<string, TlsServerConfig['minVersion']> = {
  TLS10: 'TLSv1',
  TLS11: 'TLSv1.1',
  TLS12: 'TLSv1.2',
  TLS13: 'TLSv1.3',
};
const CLIENT_AUTH: ClientAuthType[] = ['NoClientCert', 'RequestClientCert', 'RequireAnyClientCert', 'VerifyClientCertIfGiven', 'RequireAndVerifyClientCert'];
/** Go's cipher suite names (the toolkit's) → OpenSSL's. */
const CIPHERS: Record<string, string> = {
  TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256: 'ECDHE-ECDSA-AES128-GCM-SHA256',
  TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256: 'ECDHE-RSA-AES128-GCM-SHA256',
  TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384: 'ECDHE-ECDSA-AES256-GCM-SHA384',
  TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384: 'ECDHE-RSA-AES256-GCM-SHA384',
  TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256: 'ECDHE-ECDSA-CHACHA20-POLY1305',
  TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256: 'ECDHE-RSA-CHACHA20-POLY1305',
  TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA: 'ECDHE-ECDSA-AES128-SHA',
  TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA: 'ECDHE-RSA-AES128-SHA',
  TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA: 'ECDHE-ECDSA-AES256-SHA',
  TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA: 'ECDHE-RSA-AES256-SHA',
  TLS_RSA_WITH_AES_128_GCM_SHA256: 'AES128-GCM-SHA256',
  TLS_RSA_WITH_AES_256_GCM_SHA384: 'AES256-GCM-SHA384',
};
const CURVES: Record<string, string> = { CurveP256: 'P-256', CurveP384: 'P-384', CurveP521: 'P-521', X25519: 'X25519' };
/** Response headers the toolkit lets the file set, with the values it accepts (undefined = any). */
const HEADERS: Record<string, RegExp | undefined> = {
  'Content-Security-Policy': undefined,
  'X-Frame-Options': /^(deny|sameorigin)$/i,
  'X-Content-Type-Options': /^nosniff$/i,
  'X-XSS-Protection': undefined,
  'Strict-Transport-Security': undefined,
};

type Obj = Record<string, unknown>;

function mapping(v: unknown, where: string): Obj {
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) throw new WebConfigError(`${where} must be a mapping`);
  return v as Obj;
}

function onlyKeys(o: Obj, allowed: string[], where: string): void {
  for (const k of Object.keys(o)) {
    if (!allowed.includes(k)) throw new WebConfigError(`unknown key "${k}" in ${where} (allowed: ${allowed.join(', ')})`);
  }
}

function str(v: unknown, where: string): string | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string') throw new WebConfigError(`${where} must be a string`);
  return v;
}

function readPem(file: string, base: string, where: string): Buffer {
  const p = isAbsolute(file) ? file : resolve(base, file);
  try {
    return readFileSync(p);
  } catch (err) {
    throw new WebConfigError(`${where}: cannot read "${p}" (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
}

/** Parses the file's text; relative paths are resolved against the file's folder, as the toolkit does. */
export function parseWebConfig(text: string, path: string): WebConfig {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new WebConfigError(`not valid YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  const root = mapping(doc, 'the file');
  onlyKeys(root, ['tls_server_config', 'http_server_config', 'basic_auth_users', 'rate_limit'], 'the file');
  const base = dirname(path);
  const files: string[] = [];

  let tls: TlsServerConfig | undefined;
  const t = mapping(root['tls_server_config'], 'tls_server_config');
  if (Object.keys(t).length > 0) {
    onlyKeys(
      t,
      ['cert_file', 'key_file', 'cert', 'key', 'client_auth_type', 'client_ca_file', 'client_ca', 'client_allowed_sans', 'min_version', 'max_version', 'cipher_suites', 'prefer_server_cipher_suites', 'curve_preferences'],
      'tls_server_config',
    );
    const certFile = str(t['cert_file'], 'tls_server_config.cert_file');
    const keyFile = str(t['key_file'], 'tls_server_config.key_file');
    const certInline = str(t['cert'], 'tls_server_config.cert');
    const keyInline = str(t['key'], 'tls_server_config.key');
    if ((certFile === undefined) === (certInline === undefined)) throw new WebConfigError('tls_server_config needs exactly one of cert_file and cert');
    if ((keyFile === undefined) === (keyInline === undefined)) throw new WebConfigError('tls_server_config needs exactly one of key_file and key');
    const cert = certFile !== undefined ? readPem(certFile, base, 'tls_server_config.cert_file') : Buffer.from(certInline!);
    const key = keyFile !== undefined ? readPem(keyFile, base, 'tls_server_config.key_file') : Buffer.from(keyInline!);
    if (certFile !== undefined) files.push(resolve(base, certFile));
    if (keyFile !== undefined) files.push(resolve(base, keyFile));
    const clientAuth = (str(t['client_auth_type'], 'tls_server_config.client_auth_type') ?? 'NoClientCert') as ClientAuthType;
    if (!CLIENT_AUTH.includes(clientAuth)) throw new WebConfigError(`tls_server_config.client_auth_type: "${clientAuth}" is not one of ${CLIENT_AUTH.join(', ')}`);
    const caFile = str(t['client_ca_file'], 'tls_server_config.client_ca_file');
    const caInline = str(t['client_ca'], 'tls_server_config.client_ca');
    const clientCa = caFile !== undefined ? readPem(caFile, base, 'tls_server_config.client_ca_file') : caInline !== undefined ? Buffer.from(caInline) : undefined;
    if (caFile !== undefined) files.push(resolve(base, caFile));
    if ((clientAuth === 'VerifyClientCertIfGiven' || clientAuth === 'RequireAndVerifyClientCert') && clientCa === undefined) {
      throw new WebConfigError(`tls_server_config.client_auth_type ${clientAuth} needs client_ca_file`);
    }
    const version = (k: 'min_version' | 'max_version') => {
      const v = str(t[k], `tls_server_config.${k}`);
      if (v === undefined) return undefined;
      const m = TLS_VERSIONS[v];
      if (m === undefined) throw new WebConfigError(`tls_server_config.${k}: "${v}" is not one of ${Object.keys(TLS_VERSIONS).join(', ')}`);
      return m;
    };
    const list = (k: string, table: Record<string, string>) => {
      const v = t[k];
      if (v === undefined || v === null) return undefined;
      if (!Array.isArray(v)) throw new WebConfigError(`tls_server_config.${k} must be a list`);
      return v.map((x) => {
        const m = table[String(x)];
        if (m === undefined) throw new WebConfigError(`tls_server_config.${k}: "${String(x)}" is not supported (supported: ${Object.keys(table).join(', ')})`);
        return m;
      });
    };
    const sans = t['client_allowed_sans'];
    if (sans !== undefined && sans !== null && !Array.isArray(sans)) throw new WebConfigError('tls_server_config.client_allowed_sans must be a list');
    tls = {
      cert,
      key,
      clientAuth,
      clientCa,
      clientAllowedSans: Array.isArray(sans) ? sans.map(String) : [],
      minVersion: version('min_version') ?? 'TLSv1.2',
      maxVersion: version('max_version'),
      ciphers: list('cipher_suites', CIPHERS)?.join(':'),
      honorCipherOrder: t['prefer_server_cipher_suites'] === true,
      ecdhCurve: list('curve_preferences', CURVES)?.join(':'),
      files,
    };
  }

  const h = mapping(root['http_server_config'], 'http_server_config');
  onlyKeys(h, ['http2', 'headers'], 'http_server_config');
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(mapping(h['headers'], 'http_server_config.headers'))) {
    if (!(name in HEADERS)) throw new WebConfigError(`http_server_config.headers: "${name}" may not be set (allowed: ${Object.keys(HEADERS).join(', ')})`);
    if (typeof value !== 'string') throw new WebConfigError(`http_server_config.headers.${name} must be a string`);
    const check = HEADERS[name];
    if (check !== undefined && !check.test(value)) throw new WebConfigError(`http_server_config.headers.${name}: invalid value "${value}"`);
    headers[name] = value;
  }

  const users = new Map<string, string>();
  for (const [user, hash] of Object.entries(mapping(root['basic_auth_users'], 'basic_auth_users'))) {
    if (typeof hash !== 'string' || !/^\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}$/.test(hash)) {
      throw new WebConfigError(`basic_auth_users.${user}: not a bcrypt hash (expected $2a$/$2b$/$2y$…)`);
    }
    users.set(user, hash);
  }

  let rateLimit: WebConfig['rateLimit'];
  const rl = mapping(root['rate_limit'], 'rate_limit');
  if (Object.keys(rl).length > 0) {
    onlyKeys(rl, ['interval', 'burst'], 'rate_limit');
    const intervalMs = parseDuration(rl['interval'], 'rate_limit.interval');
    const burst = Number(rl['burst']);
    if (!Number.isInteger(burst) || burst < 1) throw new WebConfigError('rate_limit.burst must be a positive integer');
    rateLimit = { intervalMs, burst };
  }
  return { tls, headers, users, rateLimit };
}

/** Prometheus durations: 500ms, 1s, 2m, 1h … */
function parseDuration(v: unknown, where: string): number {
  const m = typeof v === 'string' ? /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(v) : null;
  if (!m) throw new WebConfigError(`${where}: "${String(v)}" is not a duration like 1s or 500ms`);
  const n = Number(m[1]);
  return n * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as 'ms' | 's' | 'm' | 'h'];
}

/**
 * The file, re-read when it (or a certificate it names) changes — checked at most once a second,
 * so a scrape never pays for a read. A file that becomes invalid keeps the last good settings
 * and is reported once per change.
 */
export class WebConfigFile {
  private current: WebConfig;
  private stamp: string;
  private checkedAt = 0;
  version = 0;

  constructor(
    readonly path: string,
    private readonly onInvalid: (err: Error) => void,
  ) {
    this.current = parseWebConfig(readFileSync(path, 'utf8'), path);
    this.stamp = this.stampOf(this.current);
  }

  get(now = Date.now()): WebConfig {
    if (now - this.checkedAt < 1000) return this.current;
    this.checkedAt = now;
    let stamp: string;
    try {
      stamp = this.stampOf(this.current);
    } catch {
      stamp = 'unreadable';
    }
    if (stamp === this.stamp) return this.current;
    this.stamp = stamp;
    try {
      this.current = parseWebConfig(readFileSync(this.path, 'utf8'), this.path);
      this.stamp = this.stampOf(this.current);
      this.version++;
    } catch (err) {
      this.onInvalid(err as Error);
    }
    return this.current;
  }

  private stampOf(cfg: WebConfig): string {
    return [this.path, ...(cfg.tls?.files ?? [])]
      .map((f) => {
        const s = statSync(f);
        return `${s.mtimeMs}:${s.size}`;
      })
      .join('|');
  }
}
