/** exchange → routing key → queue, from the kombu binding sets read at discovery. */
export type BindingTable = ReadonlyMap<string, ReadonlyMap<string, string>>;

/**
 * The queue a reserved message was taken from, read from its `unacked` hash value, which kombu
 * writes as the JSON `[message, exchange, routing_key]` (QoS.append). Celery publishes to direct
 * queues through the anonymous exchange, so the routing key is the queue; for a named exchange
 * the routing key is looked up in that exchange's bindings, falling back to the key itself.
 */
export function unackedQueue(value: string, bindings: BindingTable): string | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    return undefined;
  }
  if (!Array.isArray(parsed) || parsed.length < 3) return undefined;
  const exchange: unknown = parsed[1];
  const routingKey: unknown = parsed[2];
  if (typeof exchange !== 'string' || typeof routingKey !== 'string') return undefined;
  if (exchange !== '') {
    const bound = bindings.get(exchange)?.get(routingKey);
    if (bound !== undefined) return bound;
  }
  return routingKey !== '' ? routingKey : undefined;
}

export interface UnackedStats {
  count: number;
  /** Smallest unacked_index score (Unix seconds the message was fetched); NaN when no entry has one. */
  oldest: number;
}

/**
 * Per-queue reserved counts. `index` is `ZRANGE unacked_index 0 -1 WITHSCORES` (tag, score, …);
 * `queueOf` maps a delivery tag to its queue (null: no usable hash value); `unindexed` are the
 * queues of hash entries that have no index entry (counted, without an age).
 */
export function aggregateUnacked(
  index: readonly string[],
  queueOf: ReadonlyMap<string, string | null>,
  unindexed: Iterable<string> = [],
): Map<string, UnackedStats> {
  const out = new Map<string, UnackedStats>();
  for (let i = 0; i + 1 < index.length; i += 2) {
    const queue = queueOf.get(index[i]!);
    if (queue === undefined || queue === null) continue;
    const score = Number(index[i + 1]);
    const s = out.get(queue);
    if (s === undefined) out.set(queue, { count: 1, oldest: Number.isFinite(score) ? score : NaN });
    else {
      s.count++;
      if (Number.isFinite(score) && (Number.isNaN(s.oldest) || score < s.oldest)) s.oldest = score;
    }
  }
  for (const queue of unindexed) {
    const s = out.get(queue);
    if (s === undefined) out.set(queue, { count: 1, oldest: NaN });
    else s.count++;
  }
  return out;
}
