import { Family, type Child } from './family.js';

export class CounterChild implements Child {
  value = 0;
  live = true;
  constructor(
    readonly labelStr: string,
    readonly labelValues: readonly string[],
  ) {}

  inc(by = 1): void {
    this.value += by;
  }

  /** Mirrors a counter kept elsewhere (a broker's own statistics); only for that use. */
  set(v: number): void {
    this.value = v;
  }
}

export class Counter extends Family<CounterChild> {
  readonly type = 'counter' as const;

  protected create(labelStr: string, labelValues: readonly string[]): CounterChild {
    return new CounterChild(labelStr, labelValues);
  }

  renderChild(child: CounterChild, out: string[]): number {
    out.push(this.sample('', child.labelStr, child.value));
    return 1;
  }
}
