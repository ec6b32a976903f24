import { sanitiseLabelValue } from '../metrics/format.js';
import { ownCopy } from '../util/own-copy.js';
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
    const capped = this.text(v);
    if (capped === undefined) return undefined;
    return this.opts.taskNames === undefined ? capped : this.opts.taskNames.resolve(capped);
  }

  /** A non-empty string field as it would be kept: capped and sanitised; otherwise undefined. */
  text(v: unknown): string | undefined {
    return typeof v === 'string' && v !== '' ? this.cap(v) : undefined;
  }

  queue(v: unknown): string | undefined {
    return typeof v === 'string' && v !== '' ? this.cap(v) : undefined;
  }

  /**
   * Bounded and sanitised as the exposition will show it, so values that look alike there are
   * one value here (one series, one worker). A cut value is copied (ownCopy): the slice would
   * keep the whole event string alive. An uncut one is at most maxLength long, and so is
   * whatever it pins.
   */
  cap(v: string): string {
    return sanitiseLabelValue(v.length > this.opts.maxLength ? ownCopy(v.slice(0, this.opts.maxLength)) : v);
  }
}
