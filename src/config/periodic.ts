import type { Options } from 'yargs';
import { ConfigError } from './errors.js';

/** Multiple of the expected interval after which a periodic task without a success is overdue. */
export const DEFAULT_PERIODIC_TOLERANCE = 1.5;

export const periodicOptions = {
  'periodic-task': {
    type: 'string',
    array: true,
    describe:
      'Periodic (beat) task that must succeed every INTERVAL: NAME=INTERVAL (30s, 5m, 1h, 1d; NAME may be a glob like reports.*), repeatable; exported as celery_task_expected_interval_seconds',
    group: 'Periodic tasks:',
  },
  'periodic-task-tolerance': {
    type: 'string',
    array: true,
    describe: `Multiple of the interval after which a periodic task without a success is overdue: FACTOR (all tasks, default ${DEFAULT_PERIODIC_TOLERANCE}) or NAME=FACTOR, repeatable`,
    group: 'Periodic tasks:',
  },
} as const satisfies Record<string, Options>;

/** One --periodic-task declaration: a task name (or glob) and how often it must succeed. */
export interface PeriodicTask {
  /** Exact task name, or a glob (`*` any run of characters, `?` one character). */
  pattern: string;
  /** Seconds between two runs (the beat schedule's interval). */
  interval: number;
  /** Overdue after interval × tolerance without a success. */
  tolerance: number;
}

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400, w: 604_800 };

/** "30s", "5m", "1h", "1d", "1h30m", or a bare number of seconds → seconds (> 0). */
export function parseInterval(flag: string, text: string): number {
  const s = text.trim();
  let seconds: number;
  if (/^\d+(\.\d+)?$/.test(s)) seconds = Number(s);
  else if (/^(\d+(\.\d+)?[smhdw])+$/.test(s)) {
    seconds = 0;
    for (const m of s.matchAll(/(\d+(?:\.\d+)?)([smhdw])/g)) seconds += Number(m[1]) * UNIT_SECONDS[m[2]!]!;
  } else throw new ConfigError(flag, `"${text}" is not an interval (like 30s, 5m, 1h, 1d or 1h30m)`);
  if (!(seconds > 0)) throw new ConfigError(flag, `the interval must be more than 0, got "${text}"`);
  return seconds;
}

function parseTolerance(flag: string, text: string): number {
  const n = Number(text.trim());
  if (text.trim() === '' || !Number.isFinite(n) || n < 1) throw new ConfigError(flag, `tolerance "${text}" must be a number ≥ 1 (a multiple of the interval)`);
  return n;
}

/** "NAME=VALUE" items, split at the last "=" (task names may contain "=", values cannot). */
function entries(flag: string, value: unknown): Array<[string, string]> {
  const items: unknown[] = value === undefined || value === null ? [] : Array.isArray(value) ? value : [value];
  if (items.some((v) => typeof v === 'object' && v !== null)) {
    // yargs splits mapping keys at dots ("reports.daily" → reports: {daily: …}), so a mapping
    // cannot carry task names: only the list form is accepted.
    throw new ConfigError(flag, 'in a config file, give a list of "NAME=VALUE" strings, not a mapping');
  }
  return items.map((item) => {
    const s = String(item);
    const eq = s.lastIndexOf('=');
    if (eq <= 0 || eq === s.length - 1) throw new ConfigError(flag, `expected NAME=VALUE, got "${s}"`);
    return [s.slice(0, eq).trim(), s.slice(eq + 1).trim()];
  });
}

/**
 * --periodic-task NAME=INTERVAL (repeatable) and --periodic-task-tolerance [NAME=]FACTOR
 * (repeatable; a bare factor is the default for every task). A task declared twice keeps the
 * last declaration, as a repeated flag would.
 */
export function parsePeriodicTasks(tasksValue: unknown, toleranceValue: unknown): PeriodicTask[] {
  let defaultTolerance = DEFAULT_PERIODIC_TOLERANCE;
  const perTask = new Map<string, number>();
  const tolItems = toleranceValue === undefined || toleranceValue === null ? [] : Array.isArray(toleranceValue) ? toleranceValue : [toleranceValue];
  const named: unknown[] = [];
  for (const t of tolItems) {
    if (typeof t === 'object' || String(t).includes('=')) named.push(t);
    else defaultTolerance = parseTolerance('periodic-task-tolerance', String(t));
  }
  for (const [name, v] of entries('periodic-task-tolerance', named)) perTask.set(name, parseTolerance('periodic-task-tolerance', v));

  const tasks = new Map<string, PeriodicTask>();
  for (const [pattern, v] of entries('periodic-task', tasksValue)) {
    tasks.set(pattern, { pattern, interval: parseInterval('periodic-task', v), tolerance: perTask.get(pattern) ?? defaultTolerance });
  }
  for (const name of perTask.keys()) {
    if (!tasks.has(name)) throw new ConfigError('periodic-task-tolerance', `"${name}" is not declared with --periodic-task`);
  }
  return [...tasks.values()];
}

/** True when the pattern has glob characters (its series appear once a matching name is seen). */
export function isGlob(pattern: string): boolean {
  return /[*?]/.test(pattern);
}

/** Glob → whole-name regular expression (every other character literal). */
export function globRegex(pattern: string): RegExp {
  const body = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${body}$`);
}
