import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseWebConfig, WebConfigError } from '../../src/config/web-config.js';

/**
 * The exporter-toolkit web config (--web-config-file): what it accepts and the one line it
 * gives for each mistake. The files are only read, never used for TLS here, so any bytes do.
 */
const dir = mkdtempSync(join(tmpdir(), 'cpe-webcfg-'));
const SECRET_KEY = '-----BEGIN PRIVATE KEY-----\nsecret-key-material-4711\n-----END PRIVATE KEY-----\n';
writeFileSync(join(dir, 'server.crt'), 'CERT');
writeFileSync(join(dir, 'server.key'), SECRET_KEY);
writeFileSync(join(dir, 'ca.crt'), 'CA');
const path = join(dir, 'web.yml');
const parse = (text: string) => parseWebConfig(text, path);
const HASH = '$2b$10$' + 'a'.repeat(53);
const tlsFiles = 'tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n';

/** The message of the error parsing `text` throws (fails the test when it does not throw). */
function errorOf(text: string): string {
  try {
    parse(text);
  } catch (err) {
    expect(err).toBeInstanceOf(WebConfigError);
    const message = (err as Error).message;
    expect(message.split('\n')).toHaveLength(1);
    return message;
  }
  throw new Error(`accepted: ${text}`);
}

describe('web config: what it accepts', () => {
  it('reads an empty file as no TLS, no users, no headers, no rate limit', () => {
    expect(parse('')).toEqual({ tls: undefined, headers: {}, users: new Map(), rateLimit: undefined });
    expect(parse('tls_server_config:\nrate_limit: {}\n')).toEqual({ tls: undefined, headers: {}, users: new Map(), rateLimit: undefined });
  });

  it('reads TLS files relative to the web config, with the toolkit defaults', () => {
    const tls = parse(tlsFiles).tls!;
    expect(tls.cert.toString()).toBe('CERT');
    expect(tls.key.toString()).toBe(SECRET_KEY);
    expect(tls).toMatchObject({ clientAuth: 'NoClientCert', clientCa: undefined, minVersion: 'TLSv1.2', maxVersion: undefined, ciphers: undefined, honorCipherOrder: false });
    expect(tls.files).toEqual([join(dir, 'server.crt'), join(dir, 'server.key')]);
  });

  it('maps Go names of versions, cipher suites and curves to OpenSSL ones', () => {
    const tls = parse(
      `${tlsFiles}  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.crt\n  client_allowed_sans: [a.example]\n  min_version: TLS13\n  max_version: TLS13\n` +
        '  cipher_suites: [TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, TLS_RSA_WITH_AES_256_GCM_SHA384]\n  prefer_server_cipher_suites: true\n  curve_preferences: [X25519, CurveP256]\n',
    ).tls!;
    expect(tls).toMatchObject({
      clientAuth: 'RequireAndVerifyClientCert',
      clientAllowedSans: ['a.example'],
      minVersion: 'TLSv1.3',
      maxVersion: 'TLSv1.3',
      ciphers: 'ECDHE-RSA-AES128-GCM-SHA256:AES256-GCM-SHA384',
      honorCipherOrder: true,
      ecdhCurve: 'X25519:P-256',
    });
    expect(tls.clientCa!.toString()).toBe('CA');
    expect(tls.files).toContain(join(dir, 'ca.crt'));
  });

  it('takes inline PEM instead of files', () => {
    const tls = parse(`tls_server_config:\n  cert: CERT-INLINE\n  key: KEY-INLINE\n  key_file: ''\n`).tls!;
    expect([tls.cert.toString(), tls.key.toString(), tls.files]).toEqual(['CERT-INLINE', 'KEY-INLINE', []]);
  });

  it('reads users, headers and the rate limit', () => {
    const cfg = parse(`basic_auth_users:\n  alice: '${HASH}'\nhttp_server_config:\n  http2: true\n  headers:\n    X-Frame-Options: DENY\n    Content-Security-Policy: ''\nrate_limit:\n  interval: 1.5s\n  burst: '3'\n`);
    expect(cfg.users).toEqual(new Map([['alice', HASH]]));
    expect(cfg.headers).toEqual({ 'X-Frame-Options': 'DENY', 'Content-Security-Policy': '' });
    expect(cfg.rateLimit).toEqual({ intervalMs: 1500, burst: 3 });
    expect(parse('rate_limit:\n  interval: 250ms\n  burst: 10\n').rateLimit).toEqual({ intervalMs: 250, burst: 10 });
  });
});

describe('web config: one line per mistake, naming the field', () => {
  it.each([
    ['YAML that does not parse', 'a: [1\n', /^not valid YAML: /],
    ['a file that is not a mapping', '- a\n', /^the file must be a mapping$/],
    ['an unknown top-level key', 'basic_auth_user:\n  a: b\n', /^unknown key "basic_auth_user" in the file \(allowed: tls_server_config, http_server_config, basic_auth_users, rate_limit\)$/],
    ['an unknown TLS key', `${tlsFiles}  min_versoin: TLS12\n`, /^unknown key "min_versoin" in tls_server_config \(allowed: cert_file, key_file, cert, key, client_auth_type/],
    ['an unknown http_server_config key', 'http_server_config:\n  http3: true\n', /^unknown key "http3" in http_server_config \(allowed: http2, headers\)$/],
    ['an unknown rate_limit key', 'rate_limit:\n  interval: 1s\n  burst: 1\n  rate: 2\n', /^unknown key "rate" in rate_limit \(allowed: interval, burst\)$/],
    ['a section that is not a mapping', 'tls_server_config: yes\n', /^tls_server_config must be a mapping$/],
    ['users that are not a mapping', 'basic_auth_users: [a]\n', /^basic_auth_users must be a mapping$/],
    ['a certificate path that is not a string', 'tls_server_config:\n  cert_file: [a]\n  key_file: server.key\n', /^tls_server_config\.cert_file must be a string$/],
    ['a key with no certificate', 'tls_server_config:\n  key_file: server.key\n', /^tls_server_config needs exactly one of cert_file and cert$/],
    ['a certificate with no key', 'tls_server_config:\n  cert_file: server.crt\n', /^tls_server_config needs exactly one of key_file and key$/],
    ['both a certificate file and inline', 'tls_server_config:\n  cert_file: server.crt\n  cert: X\n  key_file: server.key\n', /^tls_server_config needs exactly one of cert_file and cert$/],
    ['a missing certificate file', 'tls_server_config:\n  cert_file: /nope.crt\n  key_file: server.key\n', /^tls_server_config\.cert_file: cannot read "\/nope\.crt" \(ENOENT\)$/],
    ['an unknown client auth type', `${tlsFiles}  client_auth_type: Always\n`, /^tls_server_config\.client_auth_type: "Always" is not one of NoClientCert, RequestClientCert, RequireAnyClientCert, VerifyClientCertIfGiven, RequireAndVerifyClientCert$/],
    ['client verification without a CA', `${tlsFiles}  client_auth_type: VerifyClientCertIfGiven\n`, /^tls_server_config\.client_auth_type VerifyClientCertIfGiven needs client_ca_file$/],
    ['a bad TLS version', `${tlsFiles}  min_version: SSL3\n`, /^tls_server_config\.min_version: "SSL3" is not one of TLS10, TLS11, TLS12, TLS13$/],
    ['a bad maximum TLS version', `${tlsFiles}  max_version: TLS14\n`, /^tls_server_config\.max_version: "TLS14" is not one of TLS10, TLS11, TLS12, TLS13$/],
    ['a TLS version that is not a string', `${tlsFiles}  max_version: 1.3\n`, /^tls_server_config\.max_version must be a string$/],
    ['an unsupported cipher', `${tlsFiles}  cipher_suites: [TLS_RSA_WITH_RC4_128_SHA]\n`, /^tls_server_config\.cipher_suites: "TLS_RSA_WITH_RC4_128_SHA" is not supported \(supported: TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, /],
    ['cipher suites that are not a list', `${tlsFiles}  cipher_suites: TLS_RSA_WITH_AES_128_GCM_SHA256\n`, /^tls_server_config\.cipher_suites must be a list$/],
    ['an unsupported curve', `${tlsFiles}  curve_preferences: [CurveP224]\n`, /^tls_server_config\.curve_preferences: "CurveP224" is not supported \(supported: CurveP256, CurveP384, CurveP521, X25519\)$/],
    ['allowed SANs that are not a list', `${tlsFiles}  client_allowed_sans: a.example\n`, /^tls_server_config\.client_allowed_sans must be a list$/],
    ['a forbidden header', 'http_server_config:\n  headers:\n    Set-Cookie: x\n', /^http_server_config\.headers: "Set-Cookie" may not be set \(allowed: Content-Security-Policy, X-Frame-Options, X-Content-Type-Options, X-XSS-Protection, Strict-Transport-Security\)$/],
    ['a header value that is not a string', 'http_server_config:\n  headers:\n    X-XSS-Protection: 1\n', /^http_server_config\.headers\.X-XSS-Protection must be a string$/],
    ['a bad X-Frame-Options', 'http_server_config:\n  headers:\n    X-Frame-Options: allow-from x\n', /^http_server_config\.headers\.X-Frame-Options: invalid value "allow-from x"$/],
    ['a bad X-Content-Type-Options', 'http_server_config:\n  headers:\n    X-Content-Type-Options: sniff\n', /^http_server_config\.headers\.X-Content-Type-Options: invalid value "sniff"$/],
    ['a plaintext password', 'basic_auth_users:\n  alice: hunter2\n', /^basic_auth_users\.alice: not a bcrypt hash \(expected \$2a\$\/\$2b\$\/\$2y\$…\)$/],
    ['a truncated bcrypt hash', `basic_auth_users:\n  alice: '${HASH.slice(0, -1)}'\n`, /^basic_auth_users\.alice: not a bcrypt hash/],
    ['a user without a hash', 'basic_auth_users:\n  alice:\n', /^basic_auth_users\.alice: not a bcrypt hash/],
    ['a bad duration', 'rate_limit:\n  interval: 1 minute\n  burst: 1\n', /^rate_limit\.interval: "1 minute" is not a duration like 1s or 500ms$/],
    ['a zero burst', 'rate_limit:\n  interval: 1s\n  burst: 0\n', /^rate_limit\.burst must be a positive integer$/],
    ['a fractional burst', 'rate_limit:\n  interval: 1s\n  burst: 1.5\n', /^rate_limit\.burst must be a positive integer$/],
    ['a burst that is not a number', 'rate_limit:\n  interval: 1s\n  burst: many\n', /^rate_limit\.burst must be a positive integer$/],
    ['a rate limit without an interval', 'rate_limit:\n  burst: 1\n', /^rate_limit\.interval is required$/],
    ['a rate limit without a burst', 'rate_limit:\n  interval: 1s\n', /^rate_limit\.burst is required$/],
  ])('rejects %s', (_what, text, message) => {
    expect(errorOf(text)).toMatch(message);
  });

  it('never echoes a password hash or key material', () => {
    const almost = `$2b$10$${'b'.repeat(52)}!`;
    expect(errorOf(`basic_auth_users:\n  alice: '${almost}'\n`)).not.toContain(almost.slice(7));
    expect(errorOf('basic_auth_users:\n  alice: hunter2-plain\n')).not.toContain('hunter2-plain');
    const inlineKey = `tls_server_config:\n  cert: C\n  key:\n    pem: secret-key-material-4711\n`;
    expect(errorOf(inlineKey)).toBe('tls_server_config.key must be a string');
    expect(errorOf(`tls_server_config:\n  cert: C\n  key: secret-key-material-4711\n  min_version: X\n`)).not.toContain('secret-key-material');
  });
});
