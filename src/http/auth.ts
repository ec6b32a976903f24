import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import bcrypt from 'bcryptjs';
import { KeyedLimiter, Slots } from './limits.js';

export type AuthOutcome = { ok: true; user: string } | { ok: false; limited: boolean };

/** A verified password is taken without bcrypt until it goes unused this long (Prometheus sends it every scrape). */
const VERIFIED_TTL_MS = 5 * 60_000;
/**
 * Password checks per client address: a burst of 10, then one per 5 s. A check that
 * succeeds gives its token back, so only failed attempts count. 200 parallel wrong passwords
 * used to cost 14 CPU-seconds of bcrypt (cost 10) and stall /healthz for 14.5 s.
 */
const CHECK_BURST = 10;
const CHECK_INTERVAL_MS = 5000;
/**
 * bcrypt checks running at once, and waiting, across all clients. bcryptjs computes in
 * ~100 ms slices between yields, so two at a time keep the event loop answering; beyond the
 * line, requests are told to come back (429) instead of queueing CPU work.
 */
const CHECK_CONCURRENCY = 2;
const CHECK_QUEUE = 16;

/**
 * HTTP basic auth against bcrypt hashes (the exporter-toolkit's basic_auth_users).
 *
 * - An unknown user is checked against a dummy hash of the highest cost among the configured
 *   hashes, so the answer takes as long as for a known user with a wrong password: timing does
 *   not reveal which names exist (a fixed cost-10 dummy answered in 80 ms where a cost-12 user
 *   took 300 ms).
 * - A password that verified is remembered per user as an HMAC under a per-process random key
 *   (never the password), compared in constant time, until unused for VERIFIED_TTL_MS: the
 *   scraper pays bcrypt once, not per scrape, and an attack that fills the bcrypt line cannot
 *   lock it out. A changed hash in the web config invalidates the entry. Failures are never cached: they are limited per client
 *   address instead, and bcrypt runs at most CHECK_CONCURRENCY at a time.
 */
export class BasicAuth {
  private readonly key = randomBytes(32);
  private readonly verified = new Map<string, { hash: string; mac: Buffer; expires: number }>();
  private readonly attempts = new KeyedLimiter(CHECK_INTERVAL_MS, CHECK_BURST);
  private readonly slots = new Slots(CHECK_CONCURRENCY, CHECK_QUEUE);
  private readonly dummies = new Map<number, Promise<string>>();
  private readonly costs = new WeakMap<ReadonlyMap<string, string>, number>();

  /** users = name → bcrypt hash; client = the peer address the attempt limit applies to. */
  async check(header: string | undefined, users: ReadonlyMap<string, string>, client: string): Promise<AuthOutcome> {
    // Started before any unknown user needs it, so its making does not show in that answer.
    const dummy = this.dummy(this.maxCost(users));
    const creds = parseBasic(header);
    if (creds === undefined) return { ok: false, limited: false };
    const hash = users.get(creds.user);
    const mac = createHmac('sha256', this.key).update(`${creds.user}\u0000${creds.password}`).digest();
    const known = this.verified.get(creds.user);
    if (hash !== undefined && known !== undefined && known.hash === hash && known.expires > Date.now() && timingSafeEqual(known.mac, mac)) {
      known.expires = Date.now() + VERIFIED_TTL_MS;
      return { ok: true, user: creds.user };
    }
    if (!this.attempts.take(client)) return { ok: false, limited: true };
    if (!(await this.slots.acquire())) {
      this.attempts.give(client);
      return { ok: false, limited: true };
    }
    let ok: boolean;
    try {
      ok = await bcrypt.compare(creds.password, hash ?? (await dummy));
    } finally {
      this.slots.release();
    }
    if (!ok || hash === undefined) return { ok: false, limited: false };
    this.attempts.give(client);
    this.verified.set(creds.user, { hash, mac, expires: Date.now() + VERIFIED_TTL_MS });
    return { ok: true, user: creds.user };
  }

  private maxCost(users: ReadonlyMap<string, string>): number {
    let cost = this.costs.get(users);
    if (cost === undefined) {
      cost = 4;
      for (const h of users.values()) cost = Math.max(cost, bcryptCost(h));
      this.costs.set(users, cost);
    }
    return cost;
  }

  private dummy(cost: number): Promise<string> {
    let d = this.dummies.get(cost);
    if (d === undefined) {
      // Async: a cost-12 hash is ~300 ms of CPU, which must not block the event loop.
      d = bcrypt.hash('dummy password that matches nothing', cost);
      this.dummies.set(cost, d);
    }
    return d;
  }
}

/** The cost factor of a bcrypt hash ($2a$/$2b$/$2y$NN$…); 10 when unreadable. */
export function bcryptCost(hash: string): number {
  const m = /^\$2[abxy]?\$(\d\d)\$/.exec(hash);
  const cost = m ? Number(m[1]) : 10;
  return Math.min(31, Math.max(4, cost));
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
