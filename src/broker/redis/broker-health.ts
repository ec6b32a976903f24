import type { BrokerConfig } from '../../config/config.js';
import type { BrokerMetrics } from '../../metrics/broker-metrics.js';
import { MonotonicMirrors } from '../../metrics/monotonic-mirror.js';
import type { RedisHealth } from './info.js';

/**
 * The Redis broker health gauges (clients, memory, uptime, evicted keys) from the INFO reply of
 * each queue round, labelled by the server actually read. Part of the queue collector's round
 * (INFO rides in its one pipeline), so it has no schedule of its own.
 */
export class RedisBrokerHealth {
  /** The `broker` label written last (removed when the server changes or a round fails). */
  private label: string | undefined;
  /** evicted_keys of each server, kept monotonic across Redis restarts. */
  private readonly evictions = new MonotonicMirrors();
  private readonly runIds = new Map<string, string>();

  constructor(
    private readonly cfg: BrokerConfig,
    private readonly metrics: BrokerMetrics,
  ) {}

  /** `stream`: the socket of the queue connection (behind Sentinel, which master it reached). */
  write(info: RedisHealth, stream: unknown): void {
    const label = this.serverLabel(stream);
    if (this.label !== undefined && this.label !== label) this.metrics.removeBroker(this.label);
    this.label = label;
    const b = this.metrics;
    const put = (g: { labels(v: string): { set(n: number): void } }, remove: (v: string) => boolean, v: number | undefined) => {
      if (v === undefined) remove(label);
      else g.labels(label).set(v);
    };
    put(b.connectedClients, (l) => b.connectedClients.remove(l), info.connectedClients);
    put(b.memoryUsed, (l) => b.memoryUsed.remove(l), info.usedMemoryBytes);
    put(b.uptime, (l) => b.uptime.remove(l), info.uptimeSeconds);
    // Redis's own counter, mirrored; it restarts at 0 with Redis, ours keeps what it had counted.
    const restarted = info.runId !== undefined && this.runIds.has(label) && this.runIds.get(label) !== info.runId;
    if (info.runId !== undefined) this.runIds.set(label, info.runId);
    put(b.evictedKeys, (l) => b.evictedKeys.remove(l), info.evictedKeys === undefined ? undefined : this.evictions.update(label, info.evictedKeys, restarted));
  }

  /** A failed round: its health series go rather than show stale values. */
  remove(): void {
    if (this.label !== undefined) this.metrics.removeBroker(this.label);
    this.label = undefined;
  }

  /** host:port of the Redis server; behind Sentinel, the master actually connected to. */
  private serverLabel(stream: unknown): string {
    const u = this.cfg.url;
    if (u.socketPath !== undefined) return `unix:${u.socketPath}`;
    if (u.sentinels.length > 0) {
      const s = stream as { remoteAddress?: string; remotePort?: number } | undefined;
      if (s?.remoteAddress !== undefined && s.remotePort !== undefined) return `${s.remoteAddress}:${s.remotePort}`;
    }
    return `${u.host}:${u.port}`;
  }
}
