import type { BrokerConfig } from '../../config/config.js';
import { keyPrefix } from './connect.js';

/** kombu's defaults (kombu/transport/redis.py, unchanged from 4.6 to 5.6). */
export const DEFAULT_SEP = '\x06\x16';
export const DEFAULT_PRIORITY_STEPS: readonly number[] = [0, 3, 6, 9];
const BINDING_PREFIX = '_kombu.binding.';

/** One Redis list holding a queue's messages of one priority step. */
export interface PriorityKey {
  /** The kombu priority step as a label value ("0", "3", …); "0" is the base list. */
  step: string;
  key: string;
}

/**
 * Where kombu's Redis transport keeps a queue's messages, bindings and reserved messages, with
 * the transport options that move them (`sep`, `priority_steps`, `global_keyprefix`,
 * `unacked_key`, `unacked_index_key`). Pure: no I/O.
 */
export class RedisQueueLayout {
  readonly prefix: string;
  readonly sep: string;
  readonly steps: readonly number[];
  readonly unackedKey: string;
  readonly unackedIndexKey: string;

  constructor(opts: { prefix?: string; sep?: string; steps?: readonly number[]; unackedKey?: string; unackedIndexKey?: string } = {}) {
    this.prefix = opts.prefix ?? '';
    this.sep = opts.sep !== undefined && opts.sep !== '' ? opts.sep : DEFAULT_SEP;
    this.steps = opts.steps !== undefined && opts.steps.length > 0 ? opts.steps : DEFAULT_PRIORITY_STEPS;
    this.unackedKey = this.prefix + (opts.unackedKey ?? 'unacked');
    this.unackedIndexKey = this.prefix + (opts.unackedIndexKey ?? 'unacked_index');
  }

  static fromBroker(cfg: BrokerConfig): RedisQueueLayout {
    const o = cfg.transportOptions;
    const steps = o['priority_steps'];
    return new RedisQueueLayout({
      prefix: keyPrefix(cfg),
      sep: typeof o['sep'] === 'string' ? o['sep'] : undefined,
      steps: Array.isArray(steps) ? (steps as number[]) : undefined,
      unackedKey: typeof o['unacked_key'] === 'string' ? o['unacked_key'] : undefined,
      unackedIndexKey: typeof o['unacked_index_key'] === 'string' ? o['unacked_index_key'] : undefined,
    });
  }

  /**
   * Every list of a queue, as kombu's `_q_for_pri` names them: the base list for step 0, else
   * `<queue><sep><step>`. The base list is always included, even when 0 is not a step.
   */
  priorityKeys(queue: string): PriorityKey[] {
    const base = this.prefix + queue;
    const out: PriorityKey[] = [{ step: '0', key: base }];
    for (const s of this.steps) if (s !== 0) out.push({ step: String(s), key: `${base}${this.sep}${s}` });
    return out;
  }

  /** SCAN MATCH pattern of the binding sets (`{gp}_kombu.binding.*`), with the prefix's glob characters escaped. */
  get bindingPattern(): string {
    return `${escapeGlob(this.prefix + BINDING_PREFIX)}*`;
  }

  /** The exchange a binding-set key belongs to, or undefined for a key that is not one. */
  exchangeOfBindingKey(key: string): string | undefined {
    const head = this.prefix + BINDING_PREFIX;
    return key.startsWith(head) ? key.slice(head.length) : undefined;
  }

  /** A binding member `routing_key<sep>pattern<sep>queue` (kombu `_queue_bind`). */
  parseBinding(member: string): { routingKey: string; queue: string } | undefined {
    const parts = member.split(this.sep);
    if (parts.length !== 3 || parts[2] === '') return undefined;
    return { routingKey: parts[0]!, queue: parts[2]! };
  }
}

/**
 * Exchanges whose binding sets hold only Celery's own plumbing: the event stream, remote
 * control and its replies. Their sets also grow without bound (kombu never removes members),
 * so they are skipped without being read.
 */
export function isInternalExchange(exchange: string): boolean {
  return exchange === 'celeryev' || exchange.endsWith('.pidbox');
}

/** Queues that are plumbing whatever exchange they are bound to: event receivers, pidbox and reply queues. */
export function isInternalQueue(queue: string): boolean {
  return queue.startsWith('celeryev.') || queue.endsWith('.pidbox');
}

function escapeGlob(s: string): string {
  return s.replace(/[*?[\]\\]/g, '\\$&');
}

export interface QueueDepth {
  total: number;
  /** [step, LLEN] for every list of the queue, base list first. */
  byStep: Array<[string, number]>;
  /** True when a priority sub-list (step > 0) holds messages. */
  prioritised: boolean;
}

/** Sums the LLEN replies of one queue's lists (in priorityKeys order). */
export function queueDepth(keys: readonly PriorityKey[], lengths: readonly number[]): QueueDepth {
  let total = 0;
  let prioritised = false;
  const byStep: Array<[string, number]> = [];
  for (let i = 0; i < keys.length; i++) {
    const n = lengths[i] ?? 0;
    total += n;
    if (i > 0 && n > 0) prioritised = true;
    byStep.push([keys[i]!.step, n]);
  }
  return { total, byStep, prioritised };
}
