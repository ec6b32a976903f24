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
    this.refill(now);
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  give(now = Date.now()): void {
    this.refill(now);
    this.tokens = Math.min(this.burst, this.tokens + 1);
  }

  /** True when the bucket is full again: nothing to remember about this client. */
  full(now = Date.now()): boolean {
    this.refill(now);
    return this.tokens >= this.burst;
  }

  private refill(now: number): void {
    this.tokens = Math.min(this.burst, this.tokens + (now - this.last) / this.intervalMs);
    this.last = now;
  }
}

/**
 * One token bucket per key (a client address), in a bounded map: the oldest entries give way
 * first, and entries whose bucket has refilled are dropped when the map is at its limit.
 */
export class KeyedLimiter {
  private readonly buckets = new Map<string, RateLimiter>();

  constructor(
    private readonly intervalMs: number,
    private readonly burst: number,
    private readonly maxKeys = 10_000,
  ) {}

  take(key: string, now = Date.now()): boolean {
    let b = this.buckets.get(key);
    if (b === undefined) {
      if (this.buckets.size >= this.maxKeys) this.prune(now);
      b = new RateLimiter(this.intervalMs, this.burst, now);
      this.buckets.set(key, b);
    }
    return b.take(now);
  }

  give(key: string, now = Date.now()): void {
    this.buckets.get(key)?.give(now);
  }

  get size(): number {
    return this.buckets.size;
  }

  private prune(now: number): void {
    for (const [k, b] of this.buckets) if (b.full(now)) this.buckets.delete(k);
    // Still full: the oldest entries go (an attacker with that many addresses meets the global bound).
    for (const k of this.buckets.keys()) {
      if (this.buckets.size < this.maxKeys) break;
      this.buckets.delete(k);
    }
  }
}

/** At most `max` holders at once, `maxWaiting` more in line (FIFO); acquire() says false beyond that. */
export class Slots {
  private active = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(
    private readonly max: number,
    private readonly maxWaiting: number,
  ) {}

  async acquire(): Promise<boolean> {
    if (this.active < this.max) {
      this.active++;
      return true;
    }
    if (this.waiting.length >= this.maxWaiting) return false;
    await new Promise<void>((resolve) => this.waiting.push(resolve));
    return true;
  }

  release(): void {
    const next = this.waiting.shift();
    if (next !== undefined) next(); // the slot passes on
    else this.active--;
  }
}
