import type { Options } from 'yargs';
import { ENV_PREFIX } from '../../src/config/defaults.js';
import { daemonOptions } from '../../src/config/options.js';
import { cell } from './generated.js';

/**
 * The flag reference of docs/configuration.md, generated from the option table the CLI parses
 * (src/config/options.ts), so it cannot drift from it (test/unit/docs-reference.test.ts).
 */

/** Defined by the CLI itself (src/cli/main.ts), not in the option table. */
const CLI_OPTIONS: Record<string, Options> = {
  config: { type: 'string', describe: 'YAML or JSON file holding any of the options below (flag names as keys)', group: 'Options:' },
  'print-config': { type: 'boolean', describe: 'Print the effective configuration as JSON (passwords masked) and exit', group: 'Options:' },
};

export function envName(flag: string): string {
  return `${ENV_PREFIX}_${flag.replace(/-/g, '_').toUpperCase()}`;
}

function flagCell(name: string, o: Options): string {
  const aliases = o.alias === undefined ? [] : Array.isArray(o.alias) ? o.alias : [o.alias];
  const names = [name, ...aliases].map((n) => `\`--${n}\``);
  if (o.type === 'boolean' && o.default === true) names.push(`\`--no-${name}\``);
  return names.join(', ');
}

function typeCell(o: Options): string {
  const t = o.type ?? 'string';
  return o.array ? `${t}, repeatable` : t;
}

function defaultCell(o: Options): string {
  const d: unknown = o.default;
  if (d === undefined || d === '') return '–';
  return `\`${Array.isArray(d) ? d.join(',') : String(d)}\``;
}

export function configurationReference(): string {
  const all: Array<[string, Options]> = [...Object.entries(daemonOptions as Record<string, Options>), ...Object.entries(CLI_OPTIONS)];
  const groups = new Map<string, Array<[string, Options]>>();
  for (const entry of all) {
    const g = String(entry[1].group ?? 'Options:').replace(/:$/, '');
    groups.set(g, [...(groups.get(g) ?? []), entry]);
  }
  const out: string[] = [`${all.length} flags, by the group \`--help\` shows them in.`, ''];
  for (const [group, entries] of groups) {
    out.push(`### ${group}`, '', '| Flag | Environment | Type | Default | Meaning |', '|---|---|---|---|---|');
    for (const [name, o] of entries) {
      const env = name === 'config' || name === 'print-config' ? '–' : `\`${envName(name)}\``;
      out.push(`| ${flagCell(name, o)} | ${env} | ${typeCell(o)} | ${defaultCell(o)} | ${cell(String(o.describe ?? ''))} |`);
    }
    out.push('');
  }
  return out.join('\n');
}
