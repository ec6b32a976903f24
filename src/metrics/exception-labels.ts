/** The exception label value of classes beyond --max-exception-classes (as task names fold). */
export const OTHER_EXCEPTION = '__other__';
/** Folded classes remembered (so a folded class is not judged again); beyond it, it is judged again (it folds). */
const MAX_FOLDED_EXCEPTIONS = 10_000;

/**
 * The exception label of celery_task_failed_total: the first --max-exception-classes classes
 * keep their own value, later ones fold into __other__. Anyone who can publish a task-failed
 * event picks the class name: 100k forged classes took the whole --max-series budget, and a new
 * legitimate task then got no series at all.
 */
export class ExceptionLabels {
  private readonly kept = new Set<string>();
  private readonly folded = new Set<string>();

  /** `max`: --max-exception-classes (0 = no limit). */
  constructor(private readonly max: number) {}

  label(exception: string): string {
    if (this.max === 0 || this.kept.has(exception)) return exception;
    if (this.folded.has(exception)) return OTHER_EXCEPTION;
    if (this.kept.size < this.max && exception !== OTHER_EXCEPTION) {
      this.kept.add(exception);
      return exception;
    }
    if (this.folded.size < MAX_FOLDED_EXCEPTIONS) this.folded.add(exception);
    return OTHER_EXCEPTION;
  }

  /**
   * A class that already has a celery_task_failed_total series (restored from --state-file)
   * keeps its place among the first --max-exception-classes, as it had before the restart.
   */
  seed(exception: string): void {
    if (this.max === 0 || exception === '' || exception === OTHER_EXCEPTION) return;
    if (this.kept.size < this.max) this.kept.add(exception);
  }
}
