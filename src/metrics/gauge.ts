import { Family, type Child } from './family.js';

export class GaugeChild implements Child {
  value = 0;
  live = true;
  constructor(
    readonly labelStr: string,
    readonly labelValues: readonly string[],
  ) {}

  set(v: number): void {
    this.value = v;
  }

  inc(by = 1): void {
    this.value += by;
  }

  dec(by = 1): void {
    this.value -= by;
  }
}

export class Gauge extends Family<GaugeChild> {
  readonly type = 'gauge' as const;

  protected create(labelStr: string, labelValues: readonly string[]): GaugeChild {
    return new GaugeChild(labelStr, labelValues);
  }

  renderChild(child: GaugeChild, out: string[]): number {
    out.push(this.sample('', child.labelStr, child.value));
    return 1;
  }
}
