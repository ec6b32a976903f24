import type { TransportHooks } from './transport.js';

/**
 * An event transport's readiness as the operator sees it: one line when the stream goes down
 * (the first failure's reason), none for each further failed attempt, and one line when it is
 * back that says how long it was down, how many attempts failed and the last error. Both
 * transports (redis/event-subscriber.ts, amqp/event-consumer.ts) report through it, so a retry
 * loop logs one warning and one recovery line per outage, whatever the broker.
 */
export class OutageReporter {
  private isReady = false;
  /** The readiness last reported (undefined before the first report). */
  private reported: boolean | undefined;
  private everUp = false;
  /** The outage being reported: when it began, failed attempts, last error. */
  private outage: { since: number; attempts: number; lastError: string } | undefined;

  constructor(
    private readonly hooks: Pick<TransportHooks, 'onReadyChange' | 'onReconnect'>,
    private readonly component = 'events',
    private readonly now: () => number = Date.now,
  ) {}

  get ready(): boolean {
    return this.isReady;
  }

  /** A connection failed, or was lost: the first one of an outage is reported, with its reason. */
  down(reason: string): void {
    if (this.outage === undefined) this.outage = { since: this.now(), attempts: 0, lastError: reason };
    else this.outage.attempts++;
    this.outage.lastError = reason;
    this.setReady(false, reason);
  }

  /** Subscribed again (or for the first time): `what` says to what; the outage's summary is appended. */
  up(what: string): void {
    const o = this.outage;
    this.outage = undefined;
    let note = '';
    if (o !== undefined) {
      const secs = ((this.now() - o.since) / 1000).toFixed(1);
      note = `; down ${secs} s, ${o.attempts} failed attempt${o.attempts === 1 ? '' : 's'}${o.attempts > 0 ? `, last: ${o.lastError}` : ''}`;
    }
    if (this.everUp) this.hooks.onReconnect?.(this.component);
    this.everUp = true;
    this.setReady(true, `${what}${note}`);
  }

  /** The transport is shutting down: not ready, and no outage to report. */
  stopping(): void {
    this.setReady(false, 'stopping');
  }

  /** Reports only changes (and the first failure), so a retry loop logs one line, not one per attempt. */
  private setReady(ready: boolean, reason: string): void {
    if (this.reported === ready) return;
    this.reported = ready;
    this.isReady = ready;
    this.hooks.onReadyChange(ready, reason);
  }
}
