/**
 * A broker's own counter (Redis evicted_keys, RabbitMQ message_stats) exported as one of ours:
 * the broker's counter starts again at 0 when the broker restarts, ours must not. When the
 * broker's value goes down, or the broker says it restarted, what was counted before is kept as
 * an offset and the new value adds to it. Increments between the last read before a restart
 * and the restart itself are not seen.
 */
export class MonotonicMirror {
  private offset = 0;
  private last: number | undefined;

  /** The exported value for the broker's current `raw`; `restarted` when the broker says so (new run_id). */
  update(raw: number, restarted = false): number {
    if (this.last !== undefined && (restarted || raw < this.last)) this.offset += this.last;
    this.last = raw;
    return this.offset + raw;
  }
}

/** Mirrors keyed by series (e.g. the broker label), so each keeps its own offset. */
export class MonotonicMirrors {
  private readonly mirrors = new Map<string, MonotonicMirror>();

  update(key: string, raw: number, restarted = false): number {
    let m = this.mirrors.get(key);
    if (m === undefined) {
      if (this.mirrors.size >= 100) this.mirrors.delete(this.mirrors.keys().next().value as string);
      this.mirrors.set(key, (m = new MonotonicMirror()));
    }
    return m.update(raw, restarted);
  }
}
