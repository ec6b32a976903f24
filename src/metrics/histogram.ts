import { Family, type Child, type FamilyOptions } from './family.js';
import { formatValue } from './format.js';

export class HistogramChild implements Child {
  /** Non-cumulative counts per bucket; the last slot is +Inf. Cumulated at render time. */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;
  live = true;
  constructor(
    readonly labelStr: string,
    readonly labelValues: readonly string[],
    private readonly bounds: Float64Array,
  ) {
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(v: number): void {
    if (Number.isNaN(v)) return; // NaN never reaches a bucket
    const b = this.bounds;
    let i = 0;
    while (i < b.length && v > b[i]!) i++;
    this.counts[i]!++;
    this.sum += v;
    this.count++;
  }
}

export interface HistogramOptions extends FamilyOptions {
  buckets: readonly number[];
}

export class Histogram extends Family<HistogramChild> {
  readonly type = 'histogram' as const;
  readonly bounds: Float64Array;
  private readonly leStrings: string[];

  constructor(opts: HistogramOptions) {
    super(opts);
    this.bounds = Float64Array.from(opts.buckets);
    this.leStrings = [...opts.buckets.map((b) => formatValue(b)), '+Inf'];
  }

  protected create(labelStr: string, labelValues: readonly string[]): HistogramChild {
    return new HistogramChild(labelStr, labelValues, this.bounds);
  }

  renderChild(child: HistogramChild, out: string[]): number {
    const prefix = child.labelStr === '' ? `${this.name}_bucket{le="` : `${this.name}_bucket{${child.labelStr},le="`;
    let cum = 0;
    let s = '';
    for (let i = 0; i < this.leStrings.length; i++) {
      cum += child.counts[i]!;
      s += `${prefix}${this.leStrings[i]}"} ${formatValue(cum)}\n`;
    }
    out.push(s, this.sample('_sum', child.labelStr, child.sum), this.sample('_count', child.labelStr, child.count));
    return this.leStrings.length + 2;
  }
}
