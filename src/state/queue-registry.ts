/** Where the exporter learned of a queue. */
export type QueueSource = 'config' | 'event' | 'broker' | 'worker';

interface QueueEntry {
  sources: Set<QueueSource>;
  /** Local time (ms) the queue was last seen by any source. */
  lastSeen: number;
}

/** Most queues tracked; beyond it new names are ignored (a flood of queue names cannot grow memory). */
const DEFAULT_MAX_QUEUES = 1000;

/**
 * The queues the pollers report on: configured with --queues, seen in task-sent events,
 * discovered in the broker, or reported by workers (active_queues). Pollers call list() each
 * round; forget() drops a queue that disappeared.
 */
export class QueueRegistry {
  private readonly queues = new Map<string, QueueEntry>();

  constructor(
    configured: readonly string[] = [],
    private readonly maxQueues = DEFAULT_MAX_QUEUES,
    private readonly now: () => number = Date.now,
    private readonly onRejected: () => void = () => undefined,
  ) {
    for (const q of configured) this.seen(q, 'config');
  }

  /** Cheap enough for the event path: one Map lookup when the queue is already known. */
  seen(queue: string, source: QueueSource): void {
    const e = this.queues.get(queue);
    if (e !== undefined) {
      e.lastSeen = this.now();
      if (!e.sources.has(source)) e.sources.add(source);
      return;
    }
    if (this.queues.size >= this.maxQueues) return this.onRejected();
    this.queues.set(queue, { sources: new Set([source]), lastSeen: this.now() });
  }

  has(queue: string): boolean {
    return this.queues.has(queue);
  }

  list(): string[] {
    return [...this.queues.keys()];
  }

  sources(queue: string): ReadonlySet<QueueSource> | undefined {
    return this.queues.get(queue)?.sources;
  }

  lastSeen(queue: string): number | undefined {
    return this.queues.get(queue)?.lastSeen;
  }

  /** Configured queues are never forgotten. */
  forget(queue: string): boolean {
    const e = this.queues.get(queue);
    if (e === undefined || e.sources.has('config')) return false;
    return this.queues.delete(queue);
  }

  get size(): number {
    return this.queues.size;
  }
}
