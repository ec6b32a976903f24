import type { Logger, RateLimitedLog } from '../log.js';
import type { CounterChild } from '../metrics/counter.js';
import type { Collector } from '../pollers/collector.js';
import type { RemoteControl } from './client.js';
import { NEWLY_ENABLED, type EnableEventsOnSight } from './enable-events-on-sight.js';
import { isErrorReply } from './worker-replies.js';


/**
 * Broadcasts `enable_events` on start and then periodically, so workers started without -E
 * (including ones that restart later) send task events. Celery answers "task events enabled"
 * only when it switched them on, which is logged per worker; "already enabled" is silent.
 */
export class EnableEventsPoller implements Collector {
  readonly name = 'enable_events';

  constructor(
    private readonly rc: RemoteControl,
    private readonly broadcasts: CounterChild,
    private readonly replyTimeoutMs: number,
    private readonly log: Logger,
    private readonly rateLimited: RateLimitedLog,
    private readonly onSight?: EnableEventsOnSight,
  ) {}

  async collect(signal: AbortSignal): Promise<void> {
    const r = await this.rc.call('enable_events', { timeoutMs: this.replyTimeoutMs, signal });
    this.broadcasts.inc();
    for (const { hostname, value } of r.replies) {
      if (typeof value === 'object' && value !== null && (value as Record<string, unknown>)['ok'] === NEWLY_ENABLED) {
        this.log.info({ hostname }, 'task events were off on this worker; enable_events switched them on');
      } else if (isErrorReply(value)) {
        this.rateLimited.warn(`enable_events:${hostname}`, { hostname, error: String(value.error).slice(0, 200) }, 'worker could not enable task events');
      }
    }
  }

  /** The mailbox may be shared with the inspect poller; closing it twice is harmless. */
  async close(): Promise<void> {
    this.onSight?.close();
    await this.rc.close();
  }
}
