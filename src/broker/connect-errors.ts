/**
 * One clear sentence for the usual ways a broker connection fails, instead of Node's terse
 * "getaddrinfo ENOTFOUND x": the daemon logs it once when the connection goes down.
 */
export function describeConnectError(err: unknown): string {
  const e = err as { code?: unknown; message?: unknown; hostname?: unknown; address?: unknown; port?: unknown } | null;
  const message = err instanceof Error ? err.message : String(err);
  const code = typeof e?.code === 'string' ? e.code : undefined;
  const where = typeof e?.address === 'string' ? `${e.address}${typeof e.port === 'number' ? `:${e.port}` : ''}` : undefined;
  switch (code) {
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EAI_FAIL':
    case 'EAI_NONAME':
      return `cannot resolve host name "${typeof e?.hostname === 'string' ? e.hostname : '?'}" (${code}): DNS lookup failed`;
    case 'ECONNREFUSED':
      return `connection refused by ${where ?? 'the broker'} (ECONNREFUSED): nothing listens there, or the broker is down or restarting`;
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return `${where ?? 'the broker'} is unreachable (${code})`;
    case 'ECONNRESET':
      return `the broker reset the connection (ECONNRESET)`;
    default:
      return message;
  }
}
