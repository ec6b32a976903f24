import { backoffDelay } from '../util/backoff.js';

/**
 * For connections opened on demand (pollers, remote control): after a failed attempt, the next
 * one waits out a capped exponential backoff with jitter (0.5 s doubling to 30 s, as the event
 * transports), and calls in between fail at once with the last error instead of dialling again.
 */
export class RetryGate {
  private failures = 0;
  private notBefore = 0;
  private lastError: Error | undefined;

  constructor(private readonly now: () => number = Date.now) {}

  /** Throws the last connection error while the backoff runs. */
  check(): void {
    const wait = this.notBefore - this.now();
    if (wait > 0 && this.lastError !== undefined) {
      throw new Error(`${this.lastError.message} (next connection attempt in ${(wait / 1000).toFixed(1)} s)`);
    }
  }

  failed(err: unknown): void {
    this.lastError = err instanceof Error ? err : new Error(String(err));
    this.notBefore = this.now() + backoffDelay(this.failures++);
  }

  succeeded(): void {
    this.failures = 0;
    this.notBefore = 0;
    this.lastError = undefined;
  }
}
