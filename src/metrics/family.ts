import { formatValue, escapeLabelValue, escapeHelp, sanitiseLabelValue } from './format.js';

export type MetricType = 'counter' | 'gauge' | 'histogram';

/** Decides whether a new series may be created (global series cap); see registry.ts. */
export interface SeriesBudget {
  admit(family: Family<Child>): boolean;
  released(count: number): void;
}

export interface Child {
  /** Pre-rendered `k="v",…` (including static labels); empty when the series has no labels. */
  readonly labelStr: string;
  readonly labelValues: readonly string[];
  /** False once the series was removed; writes to it are then ignored by the exposition. */
  live: boolean;
}

export interface FamilyOptions {
  name: string;
  help: string;
  labelNames?: readonly string[];
}

const SEP = '\u0000';
/** The label series are indexed by (see byHost). */
const INDEXED_LABEL = 'hostname';

/**
 * Series are keyed by the sanitised values, the text the exposition shows: keyed by the raw
 * ones, `a\x01` and `a\x02` would be two series with one label text, of which Prometheus keeps
 * one sample and drops the other. Sanitising also keeps SEP (a control character) out of keys.
 */
function sanitiseAll(values: string[]): void {
  for (let i = 0; i < values.length; i++) values[i] = sanitiseLabelValue(values[i]!);
}

/**
 * A metric family with its series kept in a Map keyed by the joined label values.
 * Callers on the hot path keep the returned child and write to it directly, so an event
 * costs a property increment instead of a label hash.
 */
export abstract class Family<C extends Child> {
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly string[];
  abstract readonly type: MetricType;
  protected readonly children = new Map<string, C>();
  /** Set by the registry: static labels suffix and the series budget. */
  staticLabels = '';
  budget: SeriesBudget | undefined;
  /**
   * Keys of the series by hostname, the label the purge removes by: removing a host's series
   * costs its own series, not a scan of the family (100k hosts purged by scanning took 899 s).
   */
  private readonly byHost: Map<string, Set<string>> | undefined;
  private readonly hostIdx: number;

  constructor(opts: FamilyOptions) {
    this.name = opts.name;
    this.help = opts.help;
    this.labelNames = opts.labelNames ?? [];
    this.hostIdx = this.labelNames.indexOf(INDEXED_LABEL);
    this.byHost = this.hostIdx >= 0 ? new Map() : undefined;
  }

  protected abstract create(labelStr: string, labelValues: readonly string[]): C;
  /** Appends one series' samples to `out`; returns how many lines that was. */
  abstract renderChild(child: C, out: string[]): number;

  /** Returns the series for these label values, creating it (if the budget allows). */
  labels(...values: string[]): C {
    sanitiseAll(values);
    const key = values.length === 1 ? values[0]! : values.join(SEP);
    let child = this.children.get(key);
    if (child === undefined) {
      if (values.length !== this.labelNames.length) {
        throw new Error(`${this.name}: expected ${this.labelNames.length} label values, got ${values.length}`);
      }
      child = this.create(this.buildLabelStr(values), values);
      if (this.budget !== undefined && !this.budget.admit(this)) {
        // Over the series cap: hand back a detached child so callers never branch.
        child.live = false;
        return child;
      }
      this.children.set(key, child);
      if (this.byHost !== undefined) {
        const h = values[this.hostIdx]!;
        let keys = this.byHost.get(h);
        if (keys === undefined) this.byHost.set(h, (keys = new Set()));
        keys.add(key);
      }
    }
    return child;
  }

  /** The series for these label values, without creating it. */
  peek(...values: string[]): C | undefined {
    sanitiseAll(values);
    return this.children.get(values.join(SEP));
  }

  remove(...values: string[]): boolean {
    sanitiseAll(values);
    const key = values.join(SEP);
    const child = this.children.get(key);
    if (child === undefined) return false;
    child.live = false;
    this.children.delete(key);
    this.unindex(child, key);
    this.budget?.released(1);
    return true;
  }

  /** Removes every series whose label `labelName` equals `value` exactly. */
  removeWhere(labelName: string, value: string): number {
    const idx = this.labelNames.indexOf(labelName);
    if (idx < 0) return 0;
    value = sanitiseLabelValue(value);
    let n = 0;
    if (idx === this.hostIdx && this.byHost !== undefined) {
      const keys = this.byHost.get(value);
      if (keys === undefined) return 0;
      this.byHost.delete(value);
      for (const key of keys) {
        const child = this.children.get(key);
        if (child === undefined) continue;
        child.live = false;
        this.children.delete(key);
        n++;
      }
      if (n > 0) this.budget?.released(n);
      return n;
    }
    for (const [key, child] of this.children) {
      if (child.labelValues[idx] === value) {
        child.live = false;
        this.children.delete(key);
        this.unindex(child, key);
        n++;
      }
    }
    if (n > 0) this.budget?.released(n);
    return n;
  }

  clear(): void {
    const n = this.children.size;
    for (const child of this.children.values()) child.live = false;
    this.children.clear();
    this.byHost?.clear();
    if (n > 0) this.budget?.released(n);
  }

  get size(): number {
    return this.children.size;
  }

  series(): IterableIterator<C> {
    return this.children.values();
  }

  /** Appends the text exposition of this family to `out`; returns the number of lines. */
  render(out: string[]): number {
    this.renderHeader(out);
    let lines = 0;
    for (const child of this.children.values()) lines += this.renderChild(child, out);
    return lines;
  }

  /** Writes HELP/TYPE (gauges computed at scrape time are set first by the registry's beforeRender steps). */
  renderHeader(out: string[]): void {
    out.push(`# HELP ${this.name} ${escapeHelp(this.help)}\n# TYPE ${this.name} ${this.type}\n`);
  }

  private unindex(child: C, key: string): void {
    if (this.byHost === undefined) return;
    const h = child.labelValues[this.hostIdx]!;
    const keys = this.byHost.get(h);
    if (keys !== undefined && keys.delete(key) && keys.size === 0) this.byHost.delete(h);
  }

  private buildLabelStr(values: readonly string[]): string {
    let s = '';
    for (let i = 0; i < values.length; i++) {
      if (i > 0) s += ',';
      s += `${this.labelNames[i]}="${escapeLabelValue(values[i]!)}"`;
    }
    if (this.staticLabels !== '') s = s === '' ? this.staticLabels : `${s},${this.staticLabels}`;
    return s;
  }

  protected sample(suffix: string, labelStr: string, value: number): string {
    return labelStr === ''
      ? `${this.name}${suffix} ${formatValue(value)}\n`
      : `${this.name}${suffix}{${labelStr}} ${formatValue(value)}\n`;
  }
}
