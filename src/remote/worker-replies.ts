/**
 * Reading the values workers return to inspect calls (docs/protocol.md §5.7, §5.8). Workers differ
 * by pool and version, so every field is optional: a reader returns what is there and
 * undefined for the rest, and never throws.
 */

import { isFiniteNumber } from '../util/numbers.js';

export interface WorkerStats {
  maxConcurrency?: number;
  /** Number of pool child processes; undefined for pools without a `processes` list. */
  processes?: number;
  prefetchCount?: number;
  uptime?: number;
  cpuUser?: number;
  cpuSystem?: number;
  /** `ru_maxrss` as the worker reported it (KiB on Linux, bytes on macOS). */
  maxRss?: number;
}

export function isErrorReply(v: unknown): v is { error: unknown } {
  return isObject(v) && 'error' in v && Object.keys(v).length === 1;
}

export function readStats(v: unknown): WorkerStats | undefined {
  if (!isObject(v) || isErrorReply(v)) return undefined;
  const out: WorkerStats = {};
  const pool = v['pool'];
  if (isObject(pool)) {
    out.maxConcurrency = num(pool['max-concurrency']);
    const procs = pool['processes'];
    if (Array.isArray(procs)) out.processes = procs.length;
  }
  out.prefetchCount = num(v['prefetch_count']);
  out.uptime = num(v['uptime']);
  const ru = v['rusage'];
  if (isObject(ru)) {
    out.cpuUser = num(ru['utime']);
    out.cpuSystem = num(ru['stime']);
    out.maxRss = num(ru['maxrss']);
  }
  return out;
}

/** `ru_maxrss` in bytes: Linux (and the BSDs) report KiB, macOS bytes. */
export function maxRssBytes(maxRss: number, swSys: string | undefined): number {
  return swSys === 'Darwin' ? maxRss : maxRss * 1024;
}

/** Names of the queues in an `active_queues` reply. */
export function queueNames(v: unknown): string[] | undefined {
  if (!Array.isArray(v)) return undefined;
  const names: string[] = [];
  for (const q of v) {
    if (isObject(q) && typeof q['name'] === 'string' && q['name'] !== '') names.push(q['name']);
  }
  return names;
}

/** Length of a list reply (`reserved`, `scheduled`, `active`). */
export function listLength(v: unknown): number | undefined {
  return Array.isArray(v) ? v.length : undefined;
}

export function isPong(v: unknown): boolean {
  return isObject(v) && v['ok'] === 'pong';
}

function num(v: unknown): number | undefined {
  return isFiniteNumber(v) ? v : undefined;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
