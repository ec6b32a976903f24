/** Label value for task names folded together by --task-name-allow/-deny or --max-task-names. */
export const OTHER = '__other__';

export interface TaskNamePolicyOptions {
  /** Only names matching this get their own series (undefined = all). */
  allow: RegExp | undefined;
  /** Names matching this never get their own series. */
  deny: RegExp | undefined;
  /** Most distinct task names with their own series; later ones are folded into __other__ (0 = no limit). */
  max: number;
}

/**
 * Decides which task names become label values. A name is judged once (regexes run per new
 * name, never per event) and the decision is remembered; the first `max` admitted names keep
 * their own series, every later one is counted under `name="__other__"`, so a flood of distinct
 * names (generated names, a bug) cannot grow the series count, while sums over `name` stay right.
 */
export class TaskNamePolicy {
  private readonly admitted = new Set<string>();
  /** Folded names remembered, bounded: beyond it a folded name is judged again (cheap: it folds). */
  private readonly folded = new Set<string>();
  private static readonly MAX_FOLDED_REMEMBERED = 10_000;

  constructor(private readonly opts: TaskNamePolicyOptions) {}

  resolve(name: string): string {
    if (this.admitted.has(name)) return name;
    if (this.folded.has(name)) return OTHER;
    const o = this.opts;
    const ok = (o.allow === undefined || o.allow.test(name)) && (o.deny === undefined || !o.deny.test(name)) && name !== OTHER;
    if (ok && (o.max === 0 || this.admitted.size < o.max)) {
      this.admitted.add(name);
      return name;
    }
    if (this.folded.size < TaskNamePolicy.MAX_FOLDED_REMEMBERED) this.folded.add(name);
    return OTHER;
  }

  get size(): number {
    return this.admitted.size;
  }

  get limit(): number {
    return this.opts.max;
  }
}
