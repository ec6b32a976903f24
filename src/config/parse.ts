import { ConfigError } from './errors.js';

/** "0.1,1,10" → sorted unique finite numbers; the flag name goes into the error. */
export function parseBuckets(flag: string, value: unknown): number[] {
  const text = Array.isArray(value) ? value.join(',') : String(value);
  const parts = text.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (parts.length === 0) throw new ConfigError(flag, 'empty bucket list');
  const out: number[] = [];
  for (const p of parts) {
    const n = Number(p);
    if (!Number.isFinite(n) || n < 0) throw new ConfigError(flag, `"${p}" is not a non-negative number`);
    out.push(n);
  }
  for (let i = 1; i < out.length; i++) {
    if (out[i]! <= out[i - 1]!) throw new ConfigError(flag, `buckets must be strictly increasing ("${text}")`);
  }
  return out;
}

/** Repeatable k=v options; values may contain "=" (split at the first one). */
export function parseKeyValues(flag: string, values: unknown, keyPattern = /^[A-Za-z_][A-Za-z0-9_.-]*$/): Record<string, string> {
  const out: Record<string, string> = {};
  const list = values === undefined ? [] : Array.isArray(values) ? values : [values];
  for (const item of list) {
    const s = String(item);
    const eq = s.indexOf('=');
    if (eq <= 0) throw new ConfigError(flag, `expected key=value, got "${s}"`);
    const k = s.slice(0, eq).trim();
    if (!keyPattern.test(k)) throw new ConfigError(flag, `bad key "${k}"`);
    out[k] = s.slice(eq + 1);
  }
  return out;
}

export function parseSeconds(flag: string, value: unknown, { allowZero = true } = {}): number {
  const n = typeof value === 'number' ? value : Number(String(value).trim());
  if (!Number.isFinite(n) || n < 0 || (!allowZero && n === 0)) {
    throw new ConfigError(flag, `"${String(value)}" is not a ${allowZero ? 'non-negative' : 'positive'} number of seconds`);
  }
  return n;
}

export function parseInteger(flag: string, value: unknown, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const n = typeof value === 'number' ? value : Number(String(value).trim());
  // yargs turns a non-numeric value of a number option into NaN: the text given is gone.
  const got = typeof value === 'number' && Number.isNaN(value) ? '' : `, got "${String(value)}"`;
  if (!Number.isInteger(n)) throw new ConfigError(flag, `--${flag} must be an integer${got}`, true);
  if (n < min || n > max) throw new ConfigError(flag, `--${flag} must be between ${min} and ${max}${got}`, true);
  return n;
}

export function parseChoice<const T extends string>(flag: string, value: unknown, choices: readonly T[]): T {
  const s = String(value);
  if (!(choices as readonly string[]).includes(s)) {
    throw new ConfigError(flag, `"${s}" is not one of ${choices.join(', ')}`);
  }
  return s as T;
}

export function parseList(value: unknown): string[] {
  const list = value === undefined ? [] : Array.isArray(value) ? value : [value];
  return list
    .flatMap((v) => String(v).split(','))
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

/**
 * kombu transport option values: integers, JSON (lists, objects, booleans), else the raw string —
 * the same rule the Python exporter applies, so the same flags work.
 */
export function transportOptionValue(v: string): unknown {
  if (/^-?\d+$/.test(v)) return Number(v);
  try {
    return JSON.parse(v);
  } catch {
    if (/^(true|false)$/i.test(v)) return v.toLowerCase() === 'true';
    return v;
  }
}

/**
 * kombu's `priority_steps` transport option: a JSON list (`[0,3,6,9]`) or a comma-separated
 * string (`0,3,6,9`) of distinct non-negative integers, returned sorted as kombu keeps them.
 */
export function parsePrioritySteps(flag: string, value: unknown): number[] {
  const list = Array.isArray(value) ? value : typeof value === 'number' ? [value] : String(value).split(',');
  const out: number[] = [];
  for (const v of list) {
    const n = typeof v === 'number' ? v : Number(String(v).trim());
    if (!Number.isInteger(n) || n < 0 || String(v).trim() === '') {
      throw new ConfigError(flag, `priority_steps must be a list of non-negative integers, got ${JSON.stringify(value)}`);
    }
    if (!out.includes(n)) out.push(n);
  }
  if (out.length === 0) throw new ConfigError(flag, 'priority_steps must not be empty');
  return out.sort((a, b) => a - b);
}

/** A whole-name regular expression (anchored, like Prometheus relabel regexes); undefined when unset. */
export function parseRegex(flag: string, value: unknown): RegExp | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  try {
    return new RegExp(`^(?:${String(value)})$`);
  } catch (err) {
    throw new ConfigError(flag, `not a valid regular expression: ${(err as Error).message}`);
  }
}
