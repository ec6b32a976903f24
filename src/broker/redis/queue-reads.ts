import type { Redis } from 'ioredis';
import { isInternalExchange, isInternalQueue, type RedisQueueLayout } from './queue-keys.js';
import { aggregateUnacked, unackedQueue, type BindingTable, type UnackedStats } from './unacked.js';

/** The reads of a Redis queue round beside its one pipeline: binding discovery and reserved messages. */

const SCAN_COUNT = 1000;
const HSCAN_COUNT = 1000;

/** What a discovery found: the bound queues, and exchange → routing key → queue. */
export interface Discovery {
  bound: Set<string>;
  bindings: Map<string, Map<string, string>>;
}

/** SCAN for `{gp}_kombu.binding.*` (never KEYS), then the members of every non-internal set. */
export async function discoverQueues(client: Redis, layout: RedisQueueLayout, signal: AbortSignal): Promise<Discovery> {
  const setKeys = new Set<string>();
  let cursor = '0';
  do {
    const [next, batch] = await client.scan(cursor, 'MATCH', layout.bindingPattern, 'COUNT', SCAN_COUNT);
    abortIfNeeded(signal);
    cursor = next;
    for (const k of batch) setKeys.add(k);
  } while (cursor !== '0');

  const exchanges: Array<[string, string]> = [];
  for (const key of setKeys) {
    const ex = layout.exchangeOfBindingKey(key);
    if (ex !== undefined && !isInternalExchange(ex)) exchanges.push([ex, key]);
  }
  const found: Discovery = { bound: new Set(), bindings: new Map() };
  if (exchanges.length === 0) return found;
  const pipe = client.pipeline();
  for (const [, key] of exchanges) pipe.smembers(key);
  const replies = await execPipeline(pipe);
  abortIfNeeded(signal);
  exchanges.forEach(([ex], j) => {
    for (const member of replies[j] as string[]) {
      const b = layout.parseBinding(member);
      if (b === undefined || isInternalQueue(b.queue)) continue;
      found.bound.add(b.queue);
      let table = found.bindings.get(ex);
      if (table === undefined) found.bindings.set(ex, (table = new Map()));
      if (!table.has(b.routingKey)) table.set(b.routingKey, b.queue);
    }
  });
  return found;
}

/**
 * Reserved messages per queue. The index gives every tag and its fetch time; a tag's queue
 * comes from its hash value, fetched (HMGET) only the first time the tag is seen (`tags.byTag`:
 * tag → queue, null for no usable hash value; replaced by this round's tags once they are read).
 * kombu writes the hash and the index in one MULTI, so they agree; if the hash holds entries
 * the index does not (another writer), an HSCAN finds and counts them.
 */
export async function readUnacked(
  client: Redis,
  layout: RedisQueueLayout,
  read: { index: string[]; hashSize: number; bindings: BindingTable },
  tags: { byTag: Map<string, string | null> },
  signal: AbortSignal,
): Promise<Map<string, UnackedStats>> {
  const { index, hashSize, bindings } = read;
  const known = new Map<string, string | null>();
  const missing: string[] = [];
  for (let j = 0; j < index.length; j += 2) {
    const tag = index[j]!;
    const q = tags.byTag.get(tag);
    if (q === undefined) missing.push(tag);
    else known.set(tag, q);
  }
  if (missing.length > 0) {
    const values = await client.hmget(layout.unackedKey, ...missing);
    abortIfNeeded(signal);
    missing.forEach((tag, j) => {
      const v = values[j];
      known.set(tag, v === null || v === undefined ? null : (unackedQueue(v, bindings) ?? null));
    });
  }
  tags.byTag = known;
  const unindexed: string[] = [];
  if (hashSize > index.length / 2) {
    let cursor = '0';
    do {
      const [next, flat] = await client.hscan(layout.unackedKey, cursor, 'COUNT', HSCAN_COUNT);
      abortIfNeeded(signal);
      cursor = next;
      for (let j = 0; j + 1 < flat.length; j += 2) {
        if (known.has(flat[j]!)) continue;
        const q = unackedQueue(flat[j + 1]!, bindings);
        if (q !== undefined) unindexed.push(q);
      }
    } while (cursor !== '0');
  }
  return aggregateUnacked(index, known, unindexed);
}

export function abortIfNeeded(signal: AbortSignal): void {
  if (signal.aborted) throw signal.reason instanceof Error ? signal.reason : new Error('poll aborted');
}

/**
 * Runs a pipeline; a failed command fails the round (no partial, possibly wrong, values) unless
 * `tolerate` accepts its error, which then stands in the result as undefined.
 */
export async function execPipeline(pipe: ReturnType<Redis['pipeline']>, tolerate: (err: Error) => boolean = () => false): Promise<unknown[]> {
  const res = await pipe.exec();
  if (res === null) throw new Error('pipeline discarded');
  return res.map(([err, v]) => {
    if (err) {
      if (tolerate(err)) return undefined;
      throw err;
    }
    return v;
  });
}
