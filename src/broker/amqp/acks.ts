/**
 * Acknowledgements of a named event queue (--event-queue-name), so that each event is counted
 * exactly once although RabbitMQ redelivers whatever was not acknowledged.
 *
 * Deliveries are processed in delivery-tag order, synchronously, so "everything up to the last
 * processed tag" is exactly what the exporter's state holds. What is acknowledged (ack multiple up
 * to a tag) must be what survives the process:
 * - with --state-file, what the last save included: `settle()` runs right after each successful
 *   save. A crash then loses nothing (the unsaved events are unacknowledged, redelivered and counted
 *   on top of the saved counters) and counts nothing twice (what the file has is acknowledged);
 * - without a state file, what was processed (the counters die with the process anyway).
 *
 * Within one process a lost connection makes RabbitMQ requeue everything unacknowledged, in its
 * original order, at the head of the queue: the first deliveries of the next channel, marked
 * redelivered, are the ones already counted. They are skipped (and acknowledged with the rest).
 */
export class AckWindow {
  /** Highest delivery tag processed (or skipped) on the current channel. */
  private last = 0;
  /** Highest delivery tag acknowledged on the current channel. */
  private acked = 0;
  /** Redelivered messages still to skip: processed on a lost channel, never acknowledged. */
  private skipNext = 0;
  private send: ((tag: number) => void) | undefined;
  /** Redeliveries skipped in total (for the log and tests). */
  skipped = 0;

  /** A new channel consumes: tags restart at 1; `send` acknowledges up to a tag (multiple). */
  attach(send: (tag: number) => void): void {
    this.send = send;
    this.last = 0;
    this.acked = 0;
  }

  /**
   * The channel is gone: what it processed but did not acknowledge comes back first on the next
   * one. Returns that number.
   */
  detach(): number {
    const unacked = this.last - this.acked;
    this.skipNext += unacked;
    this.send = undefined;
    this.last = 0;
    this.acked = 0;
    return unacked;
  }

  /** One delivery; false when it is a redelivery of an event already counted (do not process it). */
  delivered(tag: number, redelivered: boolean): boolean {
    this.last = tag;
    if (this.skipNext === 0) return true;
    if (!redelivered) {
      // Not the requeued head we expected (another consumer took it, or it expired): stop skipping.
      this.skipNext = 0;
      return true;
    }
    this.skipNext--;
    this.skipped++;
    return false;
  }

  /** Deliveries processed and not acknowledged yet. */
  get pending(): number {
    return this.last - this.acked;
  }

  /** Acknowledges everything processed so far (one frame); false when there was nothing to do. */
  settle(): boolean {
    if (this.send === undefined || this.last <= this.acked) return false;
    this.acked = this.last;
    this.send(this.last);
    return true;
  }
}
