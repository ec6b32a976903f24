import type { Logger, RateLimitedLog } from '../../log.js';
import type { GaugeChild } from '../../metrics/gauge.js';
import { MonotonicMirror } from '../../metrics/monotonic-mirror.js';
import type { BrokerMetrics } from '../../metrics/broker-metrics.js';
import type { QueueMetrics } from '../../metrics/queue-metrics.js';
import type { Collector } from '../../pollers/collector.js';
import type { QueueRegistry } from '../../state/queue-registry.js';
import { isInternalQueue } from './internal-queues.js';
import { vhostPath, type ManagementClient } from './management-client.js';
import type { AmqpQueuePoller, QueueDepth } from './queue-poller.js';
import { isFiniteNumber } from '../../util/numbers.js';

/**
 * Passive queue.declare beside the API: the exact depth and consumers of the known queues at
 * the moment of the round, and the fallback while the API does not answer.
 */
export interface DeclareSource {
  poller: AmqpQueuePoller;
  log: Logger;
  /** celery_exporter_rabbitmq_management_up */
  apiUp: GaugeChild;
}

interface ApiQueue {
  name?: unknown;
  messages_ready?: unknown;
  messages_unacknowledged?: unknown;
  consumers?: unknown;
}

interface ApiVhost {
  messages_ready?: unknown;
  messages_unacknowledged?: unknown;
  message_stats?: { publish?: unknown; deliver_get?: unknown };
}

interface ApiNode {
  name?: unknown;
  mem_used?: unknown;
  uptime?: unknown;
}

const QUEUE_COLUMNS = 'name,messages_ready,messages_unacknowledged,consumers';

/**
 * Queue depth and broker health from the RabbitMQ management API. One round reads every queue
 * of the vhost (so queues no one told us about are discovered), then the health view. The queue
 * listing is the essential part: when it fails the round fails and every queue series is
 * withdrawn. The health view is best-effort: a user without the "monitoring" tag cannot read
 * /api/nodes, which withdraws the celery_broker_* series (logged) but keeps the queues.
 *
 * The API's figures are the broker's sampled statistics (collect_statistics_interval, 5 s by
 * default), so they trail the queues by a few seconds: a queue that just received 7 tasks read 0
 * for 8–10 s. With a DeclareSource, the depth and consumers of every known queue come from a
 * passive queue.declare in the same round (exact at that moment); the API keeps what only it
 * gives: discovery, unacked counts and broker health. While the API does not answer, the
 * declares alone report the known queues (one log line when that starts, one when it ends).
 */
export class ManagementPoller implements Collector {
  readonly name = 'rabbitmq_management';
  private reported = new Set<string>();
  /** The vhost's message counters, kept monotonic across broker restarts. */
  private readonly published = new MonotonicMirror();
  private readonly delivered = new MonotonicMirror();
  /** The API is not answering (fallback to declares in force): since when (ms). */
  private apiDownSince: number | undefined;

  constructor(
    private readonly api: ManagementClient,
    private readonly vhost: string,
    /** Value of the `broker` label: host:port/vhost of the AMQP broker. */
    private readonly broker: string,
    private readonly queues: QueueRegistry,
    private readonly queueMetrics: QueueMetrics,
    private readonly brokerMetrics: BrokerMetrics,
    private readonly log: RateLimitedLog,
    private readonly declares?: DeclareSource,
  ) {}

  async collect(signal: AbortSignal): Promise<void> {
    if (this.declares === undefined) return this.apiRound(signal, undefined);
    let exact: Map<string, QueueDepth> | undefined;
    try {
      exact = await this.declares.poller.read(signal);
    } catch (err) {
      if (signal.aborted) throw err;
      // The API's (lagging) figures still serve this round.
      this.declares.poller.reset();
      this.log.warn('rabbitmq_management:declares', { err: (err as Error).message }, 'passive queue.declare failed; queue depth from the management API this round');
    }
    try {
      await this.apiRound(signal, exact);
      this.apiAnswered();
    } catch (err) {
      if (signal.aborted || exact === undefined) throw err;
      this.fallback(exact, err as Error);
    }
  }

  private apiAnswered(): void {
    const d = this.declares!;
    d.apiUp.set(1);
    if (this.apiDownSince === undefined) return;
    const seconds = Math.round((Date.now() - this.apiDownSince) / 1000);
    this.apiDownSince = undefined;
    d.log.info({ api: this.api.masked, seconds }, 'RabbitMQ management API answers again; queue discovery, unacked counts and broker health are back');
  }

  /** The API is down: the known queues from the declares alone (no unacked, no discovery, no health). */
  private fallback(exact: Map<string, QueueDepth>, err: Error): void {
    const d = this.declares!;
    d.apiUp.set(0);
    if (this.apiDownSince === undefined) {
      this.apiDownSince = Date.now();
      d.log.warn(
        { err: err.message, queues: exact.size },
        'RabbitMQ management API not answering; queue depth and consumers of the known queues from passive queue.declare until it does (no unacked counts, queue discovery or broker health meanwhile)',
      );
    }
    for (const [q, r] of exact) {
      this.queueMetrics.length.labels(q).set(r.messageCount);
      this.queueMetrics.consumers.labels(q).set(r.consumerCount);
      this.queueMetrics.unacked.remove(q);
    }
    for (const q of this.reported) if (!exact.has(q)) this.queueMetrics.removeQueue(q);
    this.reported = new Set(exact.keys());
    this.dropHealth();
  }

  private async apiRound(signal: AbortSignal, exact: Map<string, QueueDepth> | undefined): Promise<void> {
    const vh = vhostPath(this.vhost);
    const health = this.health(signal); // in parallel with the queue listing
    health.catch(() => undefined);
    const list = await this.api.get(`api/queues/${vh}?columns=${QUEUE_COLUMNS}`, signal);
    if (!Array.isArray(list)) throw new Error(`RabbitMQ management API at ${this.api.masked} did not list queues for vhost "${this.vhost}"`);
    const present = new Set<string>();
    for (const raw of list as ApiQueue[]) {
      const name = raw.name;
      if (typeof name !== 'string') continue;
      if (isInternalQueue(name)) {
        if (!this.queues.has(name)) continue;
      } else {
        this.queues.seen(name, 'broker');
      }
      // A queue the registry refused (over its cap) is not reported either.
      if (!this.queues.has(name)) continue;
      present.add(name);
      const e = exact?.get(name);
      setIfNumber(this.queueMetrics.length, name, e?.messageCount ?? raw.messages_ready);
      setIfNumber(this.queueMetrics.consumers, name, e?.consumerCount ?? raw.consumers);
      setIfNumber(this.queueMetrics.unacked, name, raw.messages_unacknowledged);
    }
    // Known queues the API does not list yet (its listing trails new queues too).
    for (const [q, r] of exact ?? []) {
      if (present.has(q)) continue;
      present.add(q);
      this.queueMetrics.length.labels(q).set(r.messageCount);
      this.queueMetrics.consumers.labels(q).set(r.consumerCount);
    }
    for (const q of this.reported) if (!present.has(q)) this.queueMetrics.removeQueue(q);
    this.reported = present;
    // A queue known only because the broker listed it, and gone now, is forgotten.
    for (const q of this.queues.list()) {
      if (present.has(q)) continue;
      const src = this.queues.sources(q);
      if (src !== undefined && src.size === 1 && src.has('broker')) this.queues.forget(q);
    }

    try {
      await health;
    } catch (err) {
      if (signal.aborted) throw err;
      this.dropHealth();
      this.log.warn('rabbitmq_management:health', { err: (err as Error).message }, 'RabbitMQ broker health unavailable; celery_broker_* withheld, queue metrics unaffected');
    }
  }

  onFailure(): void {
    for (const q of this.reported) this.queueMetrics.removeQueue(q);
    this.reported = new Set();
    this.dropHealth();
    this.declares?.poller.reset();
  }

  async close(): Promise<void> {
    await this.declares?.poller.close();
  }

  /** Also after a round whose health part succeeded but whose queue listing failed: no half-fresh view. */
  private dropHealth(): void {
    this.brokerMetrics.removeBroker(this.broker);
  }

  /** Broker health: connections of the vhost, memory and uptime of the node answering, vhost message totals. */
  private async health(signal: AbortSignal): Promise<void> {
    const vh = vhostPath(this.vhost);
    // The vhost list, not /api/vhosts/<vhost>: RabbitMQ 3.10 answers the latter only to
    // administrators, the list also to users with the monitoring tag.
    const [overview, nodes, vhosts, connections] = await Promise.all([
      this.api.get('api/overview?columns=node', signal),
      this.api.get('api/nodes?columns=name,mem_used,uptime', signal),
      this.api.get('api/vhosts?columns=name,messages_ready,messages_unacknowledged,message_stats', signal),
      this.api.get(`api/vhosts/${vh}/connections?columns=name`, signal),
    ]);
    const vhost = Array.isArray(vhosts) ? (vhosts as Array<ApiVhost & { name?: unknown }>).find((x) => x.name === this.vhost) : undefined;
    const nodeName = (overview as { node?: unknown } | null)?.node;
    const node = Array.isArray(nodes) ? (nodes as ApiNode[]).find((n) => n.name === nodeName) : undefined;
    if (node === undefined) throw new Error(`node ${String(nodeName)} not found in /api/nodes`);
    if (!Array.isArray(connections)) throw new Error('unexpected answer from /api/vhosts/<vhost>/connections');
    const v = (vhost ?? {}) as ApiVhost;
    const m = this.brokerMetrics;
    const b = this.broker;
    m.connectedClients.labels(b).set(connections.length);
    setIfNumber(m.memoryUsed, b, node.mem_used);
    if (typeof node.uptime === 'number') m.uptime.labels(b).set(node.uptime / 1000);
    // The API omits message figures of a vhost that never had a message: that is zero.
    m.messagesReady.labels(b).set(num(v.messages_ready));
    m.messagesUnacked.labels(b).set(num(v.messages_unacknowledged));
    // The broker's own counters, mirrored; they restart at 0 with the broker, ours keep what they had counted.
    m.messagesPublished.labels(b).set(this.published.update(num(v.message_stats?.publish)));
    m.messagesDelivered.labels(b).set(this.delivered.update(num(v.message_stats?.deliver_get)));
  }
}

function num(v: unknown): number {
  return isFiniteNumber(v) ? v : 0;
}

function setIfNumber(family: { labels(...v: string[]): { set(n: number): void } }, label: string, v: unknown): void {
  if (isFiniteNumber(v)) family.labels(label).set(v);
}
