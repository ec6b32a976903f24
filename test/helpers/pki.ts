import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A throwaway CA with server and client certificates made by the openssl CLI. */
export interface Pki {
  dir: string;
  caCert: string;
  /** Issues a certificate signed by the CA; days < 0 gives one that has already expired. */
  issue(name: string, cn: string, opts?: { days?: number; san?: string }): { cert: string; key: string };
}

export function makePki(): Pki {
  const dir = mkdtempSync(join(tmpdir(), 'cpe-pki-'));
  const ossl = (args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  ossl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=test-ca']);
  return {
    dir,
    caCert: join(dir, 'ca.crt'),
    issue(name, cn, opts = {}) {
      const san = opts.san ?? `DNS:${cn},IP:127.0.0.1`;
      ossl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`, '-addext', `subjectAltName=${san}`]);
      ossl(['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.crt`, '-days', String(opts.days ?? 1), '-copy_extensions', 'copy']);
      return { cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) };
    },
  };
}
