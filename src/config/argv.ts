import type { Options } from 'yargs';
import { ENV_PREFIX } from './defaults.js';

/**
 * The raw values one option table hands to its builder, derived from the table itself so a
 * default is declared once (in the table) and the builders need no fallbacks of their own:
 * type 'number' → number, 'boolean' → boolean, 'string' → string, `array: true` → string[].
 * An option with a default is always present (yargs fills it in); one without is `| undefined`.
 *
 * This is what yargs promises for flags and environment twins. A config-file value may still
 * be of another shape (YAML gives mappings, null); the parse functions in parse.ts take
 * `unknown` and check every value.
 */
export type ArgvOf<T extends Record<string, Options>> = Flat<
  {
    -readonly [K in keyof T as T[K] extends { default: unknown } ? K : never]: ValueOf<T[K]>;
  } & {
    -readonly [K in keyof T as T[K] extends { default: unknown } ? never : K]?: ValueOf<T[K]> | undefined;
  }
>;

/** One object type instead of an intersection (readable in editors and type errors). */
type Flat<T> = { [K in keyof T]: T[K] };

type ValueOf<O> = O extends { array: true } ? string[] : O extends { type: 'number' } ? number : O extends { type: 'boolean' } ? boolean : string;

/** The defaults of a table as an argv, for callers that build a section without the CLI. */
export function defaultsOf<T extends Record<string, Options>>(table: T): ArgvOf<T> {
  const out: Record<string, unknown> = {};
  for (const [key, option] of Object.entries(table)) {
    if (option.default !== undefined) out[key] = option.default;
  }
  return out as ArgvOf<T>;
}

export function envName(flag: string): string {
  return `${ENV_PREFIX}_${flag.replace(/-/g, '_').toUpperCase()}`;
}

/**
 * Repeatable options given through the environment arrive as one string: split it on
 * whitespace (values in env twins therefore cannot contain spaces; use the flag or file).
 */
export function listOption(argv: object, key: string): string[] {
  const v: unknown = (argv as Record<string, unknown>)[key];
  const list = v === undefined || v === null ? [] : Array.isArray(v) ? v.map(String) : [String(v)];
  const envValue = process.env[envName(key)];
  if (list.length === 1 && envValue !== undefined && list[0] === envValue) {
    return envValue.split(/\s+/).filter((s) => s !== '');
  }
  return list;
}

/** A config-file mapping (NAME: VALUE, which yargs wraps in a list) as it is, else the repeatable option's list. */
export function mappingOrList(argv: object, key: string): unknown {
  const v: unknown = (argv as Record<string, unknown>)[key];
  const isMapping = (x: unknown) => typeof x === 'object' && x !== null && !Array.isArray(x);
  return isMapping(v) || (Array.isArray(v) && v.some(isMapping)) ? v : listOption(argv, key);
}
