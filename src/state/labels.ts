/** How event strings become label values: bounded length, optional node-name prefix stripping. */
export interface LabelPolicyOptions {
  stripHostnamePrefix: boolean;
  maxLength: number;
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

  name(v: unknown): string | undefined {
    return typeof v === 'string' && v !== '' ? this.cap(v) : undefined;
  }

  queue(v: unknown): string | undefined {
    return typeof v === 'string' && v !== '' ? this.cap(v) : undefined;
  }

  cap(v: string): string {
    return v.length > this.opts.maxLength ? v.slice(0, this.opts.maxLength) : v;
  }
}
