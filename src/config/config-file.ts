import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { ConfigError } from './errors.js';

/** The key under which --print-config shows the resolved configuration (skipped when loaded). */
export const EFFECTIVE_KEY = 'effective';

/** The config file last loaded and its keys, so an unknown key can be blamed on the file. */
export let loadedConfigFile: { path: string; keys: Set<string> } | undefined;

/** Reads a YAML or JSON config file for yargs' .config(); keys are the flag names. */
export function loadConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError('config', `cannot read "${path}": ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  let data: unknown;
  try {
    data = parseYaml(text); // YAML is a superset of JSON
  } catch (err) {
    throw new ConfigError('config', `"${path}" is not valid YAML/JSON: ${(err as Error).message.split('\n')[0]}`);
  }
  if (data === null || data === undefined) return {};
  if (typeof data !== 'object' || Array.isArray(data)) throw new ConfigError('config', `"${path}" must hold a mapping of flag names to values`);
  // --print-config's resolved settings: for reading, not options.
  delete (data as Record<string, unknown>)[EFFECTIVE_KEY];
  loadedConfigFile = { path, keys: new Set(Object.keys(data)) };
  return data as Record<string, unknown>;
}
