/**
 * Tasks that finished lately, kept for their late events: a retried task's earlier attempt can
 * report after its last one finished (the pool child that ran attempt 0 sends its task-retried on
 * another connection), and such an event is counted under the finished task's labels instead of
 * recreating a record.
 *
 * Two generations of maps, swapped every `keepMs` (or when the newer one reaches half the cap), so
 * remembering and forgetting are O(1). A single insertion-ordered Map trimmed from its front by
 * `keys().next()` cost 14.8 µs per finished task at the 10,000 cap (V8 skips the deleted slots
 * at the front on every call), a quarter of the exporter's CPU per event at 5,000 tasks/s; two
 * generations cost 0.17 µs. A task is remembered at least `keepMs` (or cap/2 newer finishes),
 * at most twice that.
 */
export class FinishedTasks<R> {
  private current = new Map<string, R>();
  private previous = new Map<string, R>();
  /** When the newer generation started (ms, the clock callers pass in). */
  private currentSince = 0;

  constructor(
    private readonly keepMs: number,
    private readonly cap: number,
  ) {}

  get size(): number {
    return this.current.size + this.previous.size;
  }

  remember(uuid: string, record: R, nowMs: number): void {
    this.rotate(nowMs);
    this.previous.delete(uuid);
    this.current.set(uuid, record);
    if (this.current.size >= this.cap / 2) this.swap(nowMs);
  }

  get(uuid: string): R | undefined {
    if (this.size === 0) return undefined;
    return this.current.get(uuid) ?? this.previous.get(uuid);
  }

  /** Forgets the generation older than keepMs; call once a tick. */
  rotate(nowMs: number): void {
    if (nowMs - this.currentSince < this.keepMs) return;
    // Both generations are past keepMs when the newer one is: nothing is left to keep.
    if (nowMs - this.currentSince >= 2 * this.keepMs) this.current = new Map();
    this.swap(nowMs);
  }

  private swap(nowMs: number): void {
    this.previous = this.current;
    this.current = new Map();
    this.currentSince = nowMs;
  }
}
