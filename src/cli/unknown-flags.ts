import { loadedConfigFile } from '../config/config.js';

/**
 * yargs' strict mode says "Unknown arguments: prot, brokr-url, brokrUrl" (each name also in its
 * camel-case form). This names each unknown flag once, says where it came from (the command line
 * or the config file) and suggests the closest known flag.
 */
export function explainUnknown(message: string, known: readonly string[], argv: readonly string[]): string | undefined {
  const m = /^Unknown arguments?: (.*)$/.exec(message);
  if (m === null) return undefined;
  const names = m[1]!.split(', ').map((s) => s.trim());
  const kebab = new Set(names.filter((n) => /[-_]/.test(n) || n === n.toLowerCase()));
  const unique = names.filter((n) => kebab.has(n) || !kebab.has(camelToKebab(n)));
  const parts = unique.map((name) => {
    const inFile = loadedConfigFile !== undefined && loadedConfigFile.keys.has(name) && !argv.some((a) => a === `--${name}` || a.startsWith(`--${name}=`));
    // yargs reads --no-x as x=false and reports "x".
    const flag = argv.some((a) => a === `--no-${name}` || a.startsWith(`--no-${name}=`)) ? `no-${name}` : name;
    const what = inFile ? `unknown key "${name}" in the config file ${loadedConfigFile!.path}` : `unknown flag --${flag}`;
    const near = closest(name, known);
    return near === undefined ? what : `${what}; did you mean ${inFile ? `"${near}"` : `--${near}`}?`;
  });
  return parts.join('; ');
}

function camelToKebab(s: string): string {
  return s.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

/** The known flag at the smallest edit distance, when it is close enough to be a likely typo. */
function closest(name: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const k of known) {
    const d = distance(name.replace(/^no-/, ''), k);
    if (d < bestD) {
      bestD = d;
      best = k;
    }
  }
  return best !== undefined && bestD <= Math.max(2, Math.floor(name.length / 3)) ? best : undefined;
}

/** Levenshtein distance. */
function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length]!;
}
