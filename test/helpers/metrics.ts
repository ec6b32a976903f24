export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses the Prometheus text format (enough for our own output: no timestamps, escaped labels). */
export function parseMetrics(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`unparsable metrics line: ${line}`);
    const labels: Record<string, string> = {};
    const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;
    let lm: RegExpExecArray | null;
    while ((lm = re.exec(m[2] ?? '')) !== null) {
      labels[lm[1]!] = lm[2]!.replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
    }
    const v = m[3]!;
    out.push({ name: m[1]!, labels, value: v === '+Inf' ? Infinity : v === '-Inf' ? -Infinity : Number(v) });
  }
  return out;
}

/** Samples of `name` whose labels include all of `match`. */
export function select(samples: Sample[], name: string, match: Record<string, string> = {}): Sample[] {
  return samples.filter((s) => s.name === name && Object.entries(match).every(([k, v]) => s.labels[k] === v));
}

/** Sum of the matching samples (0 when none). */
export function sum(samples: Sample[], name: string, match: Record<string, string> = {}): number {
  return select(samples, name, match).reduce((a, s) => a + s.value, 0);
}

/** The single matching sample's value; throws when there is not exactly one. */
export function value(samples: Sample[], name: string, match: Record<string, string> = {}): number {
  const s = select(samples, name, match);
  if (s.length !== 1) throw new Error(`expected one ${name}${JSON.stringify(match)}, found ${s.length}`);
  return s[0]!.value;
}

export async function waitFor<T>(
  probe: () => Promise<T>,
  ok: (v: T) => boolean,
  { timeoutMs = 30_000, intervalMs = 200, what = 'condition' } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  let lastErr: unknown;
  while (Date.now() < deadline) {
    try {
      last = await probe();
      if (ok(last)) return last;
    } catch (err) {
      lastErr = err;
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(`timed out waiting for ${what}; last value: ${JSON.stringify(last)?.slice(0, 2000)} ${lastErr ?? ''}`);
}
