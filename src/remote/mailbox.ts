import type { PidboxRequest, RequestHeaders } from './protocol.js';

/** One reply as the broker delivered it, unframed but not yet parsed. */
export interface ReplyMessage {
  headers: Record<string, unknown>;
  /** The JSON text of the body. */
  text: string;
}

/** A reply the adapter could not unframe (bad envelope, encoding, content type…). */
export interface UnreadableReply {
  invalid: string;
}

export type RawReply = ReplyMessage | UnreadableReply;

export function isUnreadable(r: RawReply): r is UnreadableReply {
  return (r as UnreadableReply).invalid !== undefined;
}

/** What a mailbox reports to its owner (counters), given when the broker's adapter is built. */
export interface MailboxHooks {
  /** The mailbox's connection came back after a loss. */
  onReconnect?(): void;
}

/** Where the replies of one call arrive. */
export interface ReplyInbox {
  /**
   * The next reply, or undefined when none arrived within `idleMs`. Rejects when `signal`
   * aborts or the connection fails.
   */
  next(idleMs: number, signal?: AbortSignal): Promise<RawReply | undefined>;
  /**
   * Removes the reply binding and queue or lists. Called exactly once per inbox, also after
   * errors; never rejects (a failed cleanup is retried by the adapter later where it can be).
   */
  close(): Promise<void>;
}

/**
 * One broker's side of the pidbox protocol. The broker-neutral client (client.ts) opens an
 * inbox, publishes, collects and closes; adapters only move bytes.
 */
export interface Mailbox {
  readonly kind: 'redis' | 'amqp';
  /** Creates the reply destination for `oid`; resolves only once replies can be routed to it. */
  openInbox(oid: string, signal?: AbortSignal): Promise<ReplyInbox>;
  /**
   * Publishes a request to every worker's mailbox. Resolves to how many mailboxes received it
   * when the broker says so (Redis PUBLISH), else undefined.
   */
  publish(request: PidboxRequest, headers: RequestHeaders, signal?: AbortSignal): Promise<number | undefined>;
  /** Closes the connections; idempotent. */
  close(): Promise<void>;
}

export function abortReason(signal: AbortSignal): Error {
  const r: unknown = signal.reason;
  return r instanceof Error ? r : new Error(String(r ?? 'aborted'));
}

/**
 * Settles like `p`, but rejects as soon as `signal` aborts (the operation itself may go on in
 * the background; callers clean up after it). The abort listener is removed when `p` settles.
 */
export function raceAbort<T>(p: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return p;
  if (signal.aborted) {
    p.catch(() => undefined);
    return Promise.reject(abortReason(signal));
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(abortReason(signal));
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}
