import { parseMetrics } from './metrics.js';

/**
 * Scrapes an exporter in the background and checks that no counter series ever goes down
 * (across reconnects, broker restarts and withdrawn-then-restored series). Counter families are
 * read from the `# TYPE` lines: their samples, and histograms' _bucket/_count/_sum.
 */
export class CounterWatch {
  private readonly last = new Map<string, number>();
  readonly violations: string[] = [];
  scrapes = 0;
  private timer: NodeJS.Timeout | undefined;
  private busy = false;

  constructor(private readonly scrape: () => Promise<string>) {}

  start(intervalMs = 250): this {
    this.timer = setInterval(() => {
      if (this.busy) return;
      this.busy = true;
      this.scrape()
        .then((t) => this.observe(t))
        .catch(() => undefined)
        .finally(() => (this.busy = false));
    }, intervalMs);
    return this;
  }

  observe(text: string): void {
    const monotonic = new Set<string>();
    for (const m of text.matchAll(/^# TYPE (\S+) (counter|histogram)$/gm)) {
      if (m[2] === 'counter') monotonic.add(m[1]!);
      else for (const s of ['_bucket', '_count', '_sum']) monotonic.add(m[1]! + s);
    }
    for (const s of parseMetrics(text)) {
      if (!monotonic.has(s.name)) continue;
      // Sums of runtimes are monotonic too (runtimes are never negative).
      const key = `${s.name}${JSON.stringify(s.labels)}`;
      const prev = this.last.get(key);
      if (prev !== undefined && s.value < prev) this.violations.push(`${key}: ${prev} -> ${s.value}`);
      this.last.set(key, Math.max(prev ?? s.value, s.value));
    }
    this.scrapes++;
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
  }
}

/** Lines of an exporter's JSON log output that contain any of the secrets. */
export function linesWithSecrets(output: string, secrets: string[]): string[] {
  return output.split('\n').filter((l) => secrets.some((s) => s !== '' && (l.includes(s) || l.includes(encodeURIComponent(s)))));
}

/** The exporter's JSON log lines (pino), parsed. */
export function logLines(output: string): Array<Record<string, unknown>> {
  const out: Array<Record<string, unknown>> = [];
  for (const l of output.split('\n')) {
    if (!l.startsWith('{')) continue;
    try {
      out.push(JSON.parse(l) as Record<string, unknown>);
    } catch {
      // a partial line at the end of the buffer
    }
  }
  return out;
}

/** Output lines that are not the exporter's JSON log lines (a library printing to stderr). */
export function strayLines(output: string): string[] {
  return output.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('{'));
}
