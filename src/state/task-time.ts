import type { RawEvent } from '../events/vocabulary.js';

/**
 * Reading a task event's times and attempt number. Timestamps are Unix seconds where NaN means
 * "unknown"; an attempt is the `retries` number Celery puts in the event (docs/protocol.md §3.2).
 */

/** max of two timestamps where NaN means "unknown" (NaN only if both are unknown). */
export function maxKnown(a: number, b: number): number {
  if (Number.isNaN(a)) return b;
  if (Number.isNaN(b)) return a;
  return a > b ? a : b;
}

/** The attempt number an event carries (`retries`), or `fallback` when it has none. */
export function retriesOf(ev: RawEvent, fallback: number): number {
  const n = ev['retries'];
  return typeof n === 'number' && Number.isInteger(n) && n >= 0 ? n : fallback;
}

/** Celery sends eta as an ISO-8601 string (or null); parsed only when present. */
export function parseEta(v: unknown): number {
  if (typeof v !== 'string' || v === '') return NaN;
  // An unparsable date is NaN, and stays NaN divided.
  return Date.parse(v) / 1000;
}
