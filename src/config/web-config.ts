import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { CIPHERS, CLIENT_AUTH, CURVES, TLS_VERSIONS, webConfigShapeError } from './web-config-schema.js';

/**
 * The Prometheus exporter-toolkit web configuration file (--web.config.file of node_exporter,
 * Prometheus, Alertmanager): TLS, basic auth, response headers, rate limit. Parsed strictly —
 * an unknown key is an error, as in the toolkit — so a typo never silently disables TLS or auth.
 * The shape is checked by the schema in web-config-schema.ts; src/http/web-config.ts re-reads
 * the file when it changes.
 */
export interface WebConfig {
  tls: TlsServerConfig | undefined;
  headers: Record<string, string>;
  users: Map<string, string>;
  rateLimit: { intervalMs: number; burst: number } | undefined;
}

export type ClientAuthType = (typeof CLIENT_AUTH)[number];
type TlsVersion = (typeof TLS_VERSIONS)[keyof typeof TLS_VERSIONS];

export interface TlsServerConfig {
  cert: Buffer;
  key: Buffer;
  clientAuth: ClientAuthType;
  clientCa: Buffer | undefined;
  clientAllowedSans: string[];
  minVersion: TlsVersion;
  maxVersion: TlsVersion | undefined;
  ciphers: string | undefined;
  honorCipherOrder: boolean;
  ecdhCurve: string | undefined;
  /** Files the TLS settings came from, watched so certificates rotate without a restart. */
  files: string[];
}

export class WebConfigError extends Error {}

/** The document after the schema check: each section a mapping or absent. */
type Section = Record<string, unknown>;
interface Document {
  tls_server_config?: Section | null;
  http_server_config?: { headers?: Record<string, string> | null } | null;
  basic_auth_users?: Record<string, string> | null;
  rate_limit?: { interval?: string; burst?: number | string } | null;
}

/** Parses the file's text; relative paths are resolved against the file's folder, as the toolkit does. */
export function parseWebConfig(text: string, path: string): WebConfig {
  let doc: unknown;
  try {
    doc = parseYaml(text) ?? {};
  } catch (err) {
    throw new WebConfigError(`not valid YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  const shapeError = webConfigShapeError(doc);
  if (shapeError !== undefined) throw new WebConfigError(shapeError);
  const root = doc as Document;
  const rl = root.rate_limit ?? {};
  return {
    tls: tlsConfig(root.tls_server_config ?? {}, dirname(path)),
    headers: { ...(root.http_server_config?.headers ?? {}) },
    users: new Map(Object.entries(root.basic_auth_users ?? {})),
    rateLimit: rl.interval !== undefined ? { intervalMs: durationMs(rl.interval), burst: Number(rl.burst) } : undefined,
  };
}

/** The TLS section once its shape is right: undefined when empty (plain HTTP). */
function tlsConfig(t: Section, base: string): TlsServerConfig | undefined {
  if (Object.keys(t).length === 0) return undefined;
  // null and '' mean "not set", as a missing key does.
  const str = (k: string) => (typeof t[k] === 'string' && t[k] !== '' ? t[k] : undefined);
  const files: string[] = [];
  const pem = (fileKey: string, inlineKey: string): Buffer | undefined => {
    const file = str(fileKey);
    if (file === undefined) return str(inlineKey) === undefined ? undefined : Buffer.from(str(inlineKey)!);
    const p = isAbsolute(file) ? file : resolve(base, file);
    files.push(p);
    try {
      return readFileSync(p);
    } catch (err) {
      throw new WebConfigError(`tls_server_config.${fileKey}: cannot read "${p}" (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
    }
  };
  for (const [file, inline] of [['cert_file', 'cert'], ['key_file', 'key']]) {
    if ((str(file!) === undefined) === (str(inline!) === undefined)) throw new WebConfigError(`tls_server_config needs exactly one of ${file} and ${inline}`);
  }
  const cert = pem('cert_file', 'cert')!;
  const key = pem('key_file', 'key')!;
  const clientAuth = (str('client_auth_type') ?? 'NoClientCert') as ClientAuthType;
  const clientCa = pem('client_ca_file', 'client_ca');
  if ((clientAuth === 'VerifyClientCertIfGiven' || clientAuth === 'RequireAndVerifyClientCert') && clientCa === undefined) {
    throw new WebConfigError(`tls_server_config.client_auth_type ${clientAuth} needs client_ca_file`);
  }
  const version = (k: string) => TLS_VERSIONS[str(k) as keyof typeof TLS_VERSIONS] as TlsVersion | undefined;
  const names = (k: string, table: Record<string, string>) => (Array.isArray(t[k]) ? t[k].map((x) => table[String(x)]!).join(':') : undefined);
  return {
    cert,
    key,
    clientAuth,
    clientCa,
    clientAllowedSans: Array.isArray(t['client_allowed_sans']) ? t['client_allowed_sans'].map(String) : [],
    minVersion: version('min_version') ?? 'TLSv1.2',
    maxVersion: version('max_version'),
    ciphers: names('cipher_suites', CIPHERS),
    honorCipherOrder: t['prefer_server_cipher_suites'] === true,
    ecdhCurve: names('curve_preferences', CURVES),
    files,
  };
}

/** Prometheus durations (500ms, 1s, 2m, 1h), already matched by the schema's pattern. */
function durationMs(v: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(v)!;
  return Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as 'ms' | 's' | 'm' | 'h'];
}
