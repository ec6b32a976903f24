import type { Redis } from 'ioredis';
import type { RawReply, ReplyInbox } from '../../remote/mailbox.js';

/** What one call's reply destination leaves behind: its binding member and its reply lists. */
export interface Cleanup {
  member: string;
  keys: string[];
}

/** The mailbox's side of an inbox (pidbox.ts): its blocking connections and its cleanups. */
export interface InboxOwner {
  acquireBlocking(): Redis;
  /** BRPOP of `keys`; undefined after `idleMs` without a reply. */
  pop(conn: Redis, keys: string[], idleMs: number, signal: AbortSignal | undefined): Promise<RawReply | undefined>;
  releaseBlocking(conn: Redis, reusable: boolean): void;
  cleanup(c: Cleanup): Promise<void>;
}

/** The replies of one call: BRPOP on a blocking connection of the mailbox's, then the cleanup. */
export class RedisInbox implements ReplyInbox {
  private conn: Redis | undefined;
  private broken = false;
  private closed = false;

  constructor(
    private readonly box: InboxOwner,
    private readonly leftovers: Cleanup,
  ) {}

  async next(idleMs: number, signal?: AbortSignal): Promise<RawReply | undefined> {
    this.conn ??= this.box.acquireBlocking();
    try {
      return await this.box.pop(this.conn, this.leftovers.keys, idleMs, signal);
    } catch (err) {
      this.broken = true;
      throw err;
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.conn !== undefined) this.box.releaseBlocking(this.conn, !this.broken);
    await this.box.cleanup(this.leftovers);
  }
}
