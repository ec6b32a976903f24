import { createHash } from 'node:crypto';
import bcrypt from 'bcryptjs';

/**
 * HTTP basic auth against bcrypt hashes (the exporter-toolkit's basic_auth_users).
 *
 * An unknown user is checked against a dummy hash of the same cost, so the answer takes as long
 * as for a known user with a wrong password: timing does not reveal which names exist.
 * Verified (user, hash, password) triples are cached — bcrypt is slow on purpose, and
 * Prometheus sends the same credentials every scrape — keyed by a SHA-256, never the password.
 * bcryptjs's async compare yields between rounds, so a check never stalls event ingestion.
 */
/** Made on first use: a cost-10 hash takes ~100 ms, which an exporter without auth should not pay at start. */
let dummyHash: string | undefined;
const dummy = () => (dummyHash ??= bcrypt.hashSync('dummy password that matches nothing', 10));
const CACHE_MAX = 1000;

export class BasicAuth {
  private readonly cache = new Map<string, boolean>();

  /** True when the header carries a known user's password; users = name → bcrypt hash. */
  async check(header: string | undefined, users: ReadonlyMap<string, string>): Promise<boolean> {
    const creds = parseBasic(header);
    const user = creds?.user ?? '';
    const hash = users.get(user);
    const effective = hash ?? dummy();
    const key = createHash('sha256').update(`${user}\u0000${effective}\u0000${creds?.password ?? ''}`).digest('hex');
    let ok = this.cache.get(key);
    if (ok === undefined) {
      ok = creds !== undefined && (await bcrypt.compare(creds.password, effective)) && hash !== undefined;
      this.cache.set(key, ok);
      if (this.cache.size > CACHE_MAX) this.cache.delete(this.cache.keys().next().value as string);
    }
    return ok;
  }
}

function parseBasic(header: string | undefined): { user: string; password: string } | undefined {
  if (header === undefined) return undefined;
  const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
  if (!m) return undefined;
  const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  return { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/** Token bucket for the toolkit's rate_limit: `burst` requests, refilled one per `intervalMs`. */
export class RateLimiter {
  private tokens: number;
  private last: number;

  constructor(
    private readonly intervalMs: number,
    private readonly burst: number,
    now = Date.now(),
  ) {
    this.tokens = burst;
    this.last = now;
  }

  take(now = Date.now()): boolean {
    this.tokens = Math.min(this.burst, this.tokens + (now - this.last) / this.intervalMs);
    this.last = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}
