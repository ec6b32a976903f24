import { exceptionClass } from '../decoder/exception.js';
import type { RawEvent, TaskEventType } from '../events/vocabulary.js';
import type { LabelPolicy } from './labels.js';

export interface HeldEvent {
  type: TaskEventType;
  ev: RawEvent;
  ts: number;
  nowMs: number;
  /** The event's hostname label value, resolved when it was held. */
  hostname: string;
}

/**
 * A task event to hold, keeping only what task-events.ts's rules and hooks read, every string
 * already bounded (hostname and name as label values, the exception as its class): a held event
 * must not keep the message's 10 MB fields alive for the reorder window, 10,000 tasks at a time.
 */
export function heldEvent(type: TaskEventType, ev: RawEvent, ts: number, nowMs: number, labels: LabelPolicy): HeldEvent {
  const slim: RawEvent = { name: labels.text(ev['name']) };
  const eta = ev['eta'];
  if (typeof eta === 'string' && eta.length <= 64) slim['eta'] = eta;
  if (typeof ev['requeue'] === 'boolean') slim['requeue'] = ev['requeue'];
  if (typeof ev['runtime'] === 'number') slim['runtime'] = ev['runtime'];
  // The attempt number (retries) and the revoke reason fields are numbers and booleans.
  for (const k of ['retries', 'signum'] as const) if (typeof ev[k] === 'number') slim[k] = ev[k];
  for (const k of ['terminated', 'expired'] as const) if (typeof ev[k] === 'boolean') slim[k] = ev[k];
  if (type === 'task-failed') slim['exception'] = exceptionClass(ev['exception'], ev['traceback']);
  return { type, ev: slim, ts, nowMs, hostname: labels.hostname(ev['hostname']) };
}

/** Most task names remembered as "comes with task-sent"; beyond it, new names are not held. */
const MAX_NAMES = 10_000;
/** Most tasks held at once; beyond it the oldest is released early. */
export const MAX_HELD = 10_000;

/** A task-revoked (which names no task) waits only while task-sent events were seen this recently. */
const SENT_RECENT_MS = 5 * 60_000;

/**
 * Holds a task's worker-side events for up to a window when its task-sent is expected but has
 * not arrived yet. Only tasks that arrive out of order pay for it.
 */

export class ReorderBuffer {
  private readonly sentNames = new Set<string>();
  private lastSentAt = -Infinity;
  /** Names whose held events timed out without a task-sent; not held again. */
  private readonly noSentNames = new Set<string>();
  private readonly held = new Map<string, { since: number; events: HeldEvent[] }>();

  constructor(private readonly windowMs: number) {}

  get size(): number {
    return this.held.size;
  }

  /** `name` as a label value (capped): a raw name could be megabytes, and is remembered. */
  sawSent(name: string | undefined, nowMs: number): void {
    this.lastSentAt = nowMs;
    if (name !== undefined && this.sentNames.size < MAX_NAMES) this.sentNames.add(name);
  }

  /**
   * Whether a task's first worker-side event should wait for its task-sent: for a name seen in
   * task-sent, and for a name not seen at all yet (the very first task often overtakes the first
   * task-sent, which costs the producer an extra round trip). A name whose held events timed out
   * without task-sent is not held again: its producers do not send it, and it paid one window
   * once. A task-revoked names nothing: it waits while producers send task-sent (seen lately).
   */
  expectsSent(name: unknown, nowMs: number): boolean {
    if (this.windowMs <= 0) return false;
    if (typeof name !== 'string') return nowMs - this.lastSentAt < SENT_RECENT_MS;
    return this.sentNames.has(name) || !this.noSentNames.has(name);
  }

  /** Whether any task-sent arrived lately (producers send them): a missing one may still come. */
  sentSeenLately(nowMs: number): boolean {
    return nowMs - this.lastSentAt < SENT_RECENT_MS;
  }

  holds(uuid: string): boolean {
    return this.held.size > 0 && this.held.has(uuid);
  }

  hold(uuid: string, e: HeldEvent): void {
    const h = this.held.get(uuid);
    if (h !== undefined) {
      if (h.events.length < 64) h.events.push(e);
      return;
    }
    this.held.set(uuid, { since: e.nowMs, events: [e] });
  }

  release(uuid: string): HeldEvent[] | undefined {
    if (this.held.size === 0) return undefined;
    const h = this.held.get(uuid);
    if (h === undefined) return undefined;
    this.held.delete(uuid);
    return h.events;
  }

  /**
   * Removes and yields what waited longer than the window (or overflows the cap), oldest first.
   * `stop` (asked every 64 tasks) ends it early for the tasks that only waited out their window:
   * they wait for the next call. Those over the cap are always released, so the cap holds.
   */
  *expired(nowMs: number, stop?: () => boolean): IterableIterator<[string, HeldEvent[]]> {
    let n = 0;
    for (const [uuid, h] of this.held) {
      if (this.held.size <= MAX_HELD && (nowMs - h.since < this.windowMs || (stop !== undefined && ++n % 64 === 0 && stop()))) break;
      this.held.delete(uuid);
      const name = h.events[0]?.ev['name'];
      if (typeof name === 'string' && !this.sentNames.has(name) && this.noSentNames.size < MAX_NAMES) this.noSentNames.add(name);
      yield [uuid, h.events];
    }
  }
}
