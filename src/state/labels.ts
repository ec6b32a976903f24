import type { TaskNamePolicy } from './task-names.js';

/** How event strings become label values: bounded length, optional node-name prefix stripping. */
export interface LabelPolicyOptions {
  stripHostnamePrefix: boolean;
  maxLength: number;
  /** Folds task names by the cardinality flags; none = every name is its own label value. */
  taskNames?: TaskNamePolicy;
}

export const UNKNOWN = 'unknown';

export class LabelPolicy {
  constructor(private readonly opts: LabelPolicyOptions) {}

  /** `worker@host` stays whole unless --strip-hostname-prefix (then `host`, as the Python exporter). */
  hostname(v: unknown): string {
    if (typeof v !== 'string' || v === '') return UNKNOWN;
    let h = v;
    if (this.opts.stripHostnamePrefix) {
      const at = h.indexOf('@');
      if (at >= 0 && at < h.length - 1) h = h.slice(at + 1);
    }
    return this.cap(h);
  }

  /** Called when a task's name is first learned (task-sent/received), not on every event. */
  name(v: unknown): string | undefined {
    if (typeof v !== 'string' || v === '') return undefined;
    const capped = this.cap(v);
    return this.opts.taskNames === undefined ? capped : this.opts.taskNames.resolve(capped);
  }

  queue(v: unknown): string | undefined {
    return typeof v === 'string' && v !== '' ? this.cap(v) : undefined;
  }

  cap(v: string): string {
    return v.length > this.opts.maxLength ? v.slice(0, this.opts.maxLength) : v;
  }
}
