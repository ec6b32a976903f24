import type { PeerCertificate, SecureContextOptions, TLSSocket, TlsOptions } from 'node:tls';
import type { TlsServerConfig } from './web-config.js';

/** Node TLS server options for the toolkit's tls_server_config. */
export function tlsServerOptions(t: TlsServerConfig): TlsOptions {
  const requestCert = t.clientAuth !== 'NoClientCert';
  const opts: TlsOptions & SecureContextOptions = {
    cert: t.cert,
    key: t.key,
    ca: t.clientCa,
    requestCert,
    // Only RequireAndVerifyClientCert fails the handshake itself; the softer modes are checked per request.
    rejectUnauthorized: t.clientAuth === 'RequireAndVerifyClientCert',
    minVersion: t.minVersion,
    honorCipherOrder: t.honorCipherOrder,
  };
  if (t.maxVersion !== undefined) opts.maxVersion = t.maxVersion;
  if (t.ciphers !== undefined) opts.ciphers = t.ciphers;
  if (t.ecdhCurve !== undefined) opts.ecdhCurve = t.ecdhCurve;
  return opts;
}

/** Why a TLS client may not proceed under the client_auth_type/client_allowed_sans rules, or undefined. */
export function clientCertProblem(socket: TLSSocket, t: TlsServerConfig): string | undefined {
  const cert = socket.getPeerCertificate();
  const presented = cert !== null && typeof cert === 'object' && Object.keys(cert).length > 0;
  switch (t.clientAuth) {
    case 'NoClientCert':
    case 'RequestClientCert':
      break;
    case 'RequireAnyClientCert':
      if (!presented) return 'client certificate required';
      break;
    case 'VerifyClientCertIfGiven':
      if (presented && !socket.authorized) return `client certificate not trusted (${String(socket.authorizationError)})`;
      break;
    case 'RequireAndVerifyClientCert':
      if (!presented || !socket.authorized) return 'trusted client certificate required';
      break;
  }
  if (t.clientAllowedSans.length > 0) {
    if (!presented) return 'client certificate required';
    const sans = subjectAltNames(cert);
    if (!sans.some((s) => t.clientAllowedSans.includes(s))) return 'client certificate SAN not allowed';
  }
  return undefined;
}

function subjectAltNames(cert: PeerCertificate): string[] {
  return (cert.subjectaltname ?? '')
    .split(',')
    .map((s) => s.trim().replace(/^(DNS|IP Address|email|URI):/, ''))
    .filter((s) => s !== '');
}
