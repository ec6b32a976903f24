import { Registry as PromRegistry, collectDefaultMetrics } from 'prom-client';
import type { Child, Family, SeriesBudget } from './family.js';
import { escapeLabelValue } from './format.js';

export const TEXT_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/**
 * Lines rendered between yields to the event loop, so a scrape never stalls ingestion for long
 * (about a millisecond per chunk here), however large a single family is.
 */
const YIELD_EVERY_LINES = 2000;
/**
 * Characters handed to the writer at once, whatever the line count: a client that does not read
 * holds about one such chunk in the exporter (long label values made 2,000 lines ~2 MB).
 */
const FLUSH_CHARS = 64 * 1024;

/** The largest share of --max-series one family may hold (see admit). */
const MAX_FAMILY_SHARE = 0.5;

export interface RegistryOptions {
  staticLabels?: Record<string, string>;
  /** 0 = unlimited. */
  maxSeries?: number;
  /** Include prom-client's process_* and nodejs_* metrics. */
  defaultMetrics?: boolean;
}

/** Where the owners of gauges computed from state at scrape time register how to compute them. */
export interface ScrapeSteps {
  /**
   * Adds a step run once at the start of every render, after the steps added before it (so a
   * step that counts series, like celery_exporter_state_entries, is added before the steps that
   * add or remove series when it must not see their changes).
   */
  beforeRender(step: () => void): void;
}

/**
 * Holds every metric family of the exporter and renders the exposition.
 * Hot-path families are our own (see family.ts); prom-client supplies the process/runtime metrics.
 */
export class MetricRegistry implements SeriesBudget, ScrapeSteps {
  private readonly families: Family<Child>[] = [];
  private readonly scrapeSteps: Array<() => void> = [];
  private readonly staticLabels: string;
  private readonly maxSeries: number;
  private seriesCount = 0;
  readonly prom: PromRegistry;
  /** Called when the series cap refuses a series: (family name). */
  onSeriesDropped: ((family: string) => void) | undefined;

  constructor(opts: RegistryOptions = {}) {
    this.staticLabels = Object.entries(opts.staticLabels ?? {})
      .map(([k, v]) => `${k}="${escapeLabelValue(v)}"`)
      .join(',');
    this.maxSeries = opts.maxSeries ?? 0;
    this.prom = new PromRegistry();
    if (opts.staticLabels && Object.keys(opts.staticLabels).length > 0) {
      this.prom.setDefaultLabels(opts.staticLabels);
    }
    if (opts.defaultMetrics !== false) {
      collectDefaultMetrics({ register: this.prom });
      // prom-client names these gauges *_total, which Prometheus reserves for counters
      // (promtool check metrics fails on them); their unsuffixed twins carry the same values.
      for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) {
        this.prom.removeSingleMetric(name);
      }
    }
  }

  register<F extends Family<Child>>(family: F): F {
    if (this.families.some((f) => f.name === family.name)) {
      throw new Error(`metric ${family.name} registered twice`);
    }
    family.staticLabels = this.staticLabels;
    family.budget = this;
    this.families.push(family);
    return family;
  }

  beforeRender(step: () => void): void {
    this.scrapeSteps.push(step);
  }

  private runScrapeSteps(): void {
    for (const step of this.scrapeSteps) step();
  }

  get(name: string): Family<Child> | undefined {
    return this.families.find((f) => f.name === name);
  }

  /** Removes every series, in every family, whose label `labelName` is exactly `value`. */
  removeWhere(labelName: string, value: string): number {
    let n = 0;
    for (const f of this.families) n += f.removeWhere(labelName, value);
    return n;
  }

  admit(family: Family<Child>): boolean {
    // The exporter's own metrics are bounded by design and must keep reporting at the cap.
    // Headroom: one family may hold at most half the budget, so a flood of one label (forged
    // exception classes, hostnames of task-failed events) cannot starve the series of a new
    // legitimate task, queue or worker in the other families.
    if (
      this.maxSeries > 0 &&
      (this.seriesCount >= this.maxSeries || family.size >= this.maxSeries * MAX_FAMILY_SHARE) &&
      !family.name.startsWith('celery_exporter_')
    ) {
      this.onSeriesDropped?.(family.name);
      return false;
    }
    this.seriesCount++;
    return true;
  }

  released(count: number): void {
    this.seriesCount -= count;
  }

  get totalSeries(): number {
    return this.seriesCount;
  }

  get seriesLimit(): number {
    return this.maxSeries;
  }

  /** True at the series cap: callers stop creating new label sets (and their caches). */
  get full(): boolean {
    return this.maxSeries > 0 && this.seriesCount >= this.maxSeries;
  }

  /** Renders every family; yields to the event loop between chunks. */
  async render(): Promise<string> {
    const parts: string[] = [];
    await this.renderTo((chunk) => void parts.push(chunk));
    return parts.join('');
  }

  /**
   * Renders in chunks of about YIELD_EVERY_LINES lines, handing each to `write` and yielding to
   * the event loop in between: ingestion never waits long, and the exposition is never held as
   * one large string (a 100k-series scrape would otherwise allocate ~10 MB at once).
   */
  async renderTo(write: (chunk: string) => void | Promise<void>): Promise<void> {
    let out: string[] = [];
    let budget = YIELD_EVERY_LINES;
    let chars = 0;
    this.runScrapeSteps();
    for (const f of this.families) {
      f.renderHeader(out);
      // A Map iterator survives entries added or removed while we yield.
      for (const child of f.series()) {
        const from = out.length;
        budget -= f.renderChild(child, out);
        for (let i = from; i < out.length; i++) chars += out[i]!.length;
        if (budget <= 0 || chars >= FLUSH_CHARS) {
          budget = YIELD_EVERY_LINES;
          chars = 0;
          // A writer that returns a promise paces the render (the HTTP server: backpressure and
          // its turn among concurrent scrapes); it then also yields to the event loop.
          const paced = write(out.join(''));
          out = [];
          await (paced ?? new Promise<void>((resolve) => setImmediate(resolve)));
        }
      }
    }
    out.push(await this.prom.metrics());
    await write(out.join(''));
  }

  /** Synchronous render of our own families only (tests, benchmarks). */
  renderOwnSync(): string {
    const out: string[] = [];
    this.runScrapeSteps();
    for (const f of this.families) f.render(out);
    return out.join('');
  }
}
