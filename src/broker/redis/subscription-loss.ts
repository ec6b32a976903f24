/**
 * Telling why Redis dropped the event subscription, and whether events were lost with it.
 *
 * Redis pub/sub keeps nothing for a subscriber: what it had queued for a connection it closes is
 * gone. It closes a subscriber by itself when the subscriber's output buffer passes
 * `client-output-buffer-limit pubsub` (32 MB at once, or 8 MB for 60 s by default) or when client
 * eviction (`maxmemory-clients`) picks it; both happen only to a subscriber that fell behind.
 * Redis 7.0 counts neither in INFO, so the evidence is ours:
 *
 * - the server closed the connection (FIN or reset, not our own health check or shutdown);
 * - the same server answered the reconnect (same `run_id`): it did not restart or fail over;
 * - the exporter was behind when it happened: its last reads before the close were full socket
 *   reads back to back (the kernel never ran dry: a backlog was waiting), or the event lag had
 *   grown by seconds over the lowest lag of the connection.
 *
 * Newer Redis versions count `client_output_buffer_limit_disconnections` and `evicted_clients`
 * in INFO stats; when the server has them, an increase across the reconnect confirms the cause.
 *
 * A single message larger than the hard limit (32 MB by default) leaves no trace on our side:
 * Redis closes the subscriber before writing a byte of it, so the exporter looks caught up.
 * Redis 7 counts `CLIENT KILL` (and the ACL commands that disconnect clients) per subcommand in
 * INFO commandstats: when none ran between the two connections, a kill is ruled out, and a
 * server-side close of a subscriber that was keeping up is the output-buffer limit.
 */

/** What INFO says about the server, read once per connection. */
export interface ServerFacts {
  runId?: string;
  role?: string;
  /** INFO stats of newer Redis versions; undefined where the server does not count it. */
  outputBufferDisconnections?: number;
  evictedClients?: number;
  /** INFO commandstats (Redis 7): CLIENT KILL calls, and ACL calls that can disconnect clients. */
  clientKills?: number;
  aclChanges?: number;
}

/** ACL subcommands that can disconnect clients (a user deleted, or its channel permissions changed). */
const ACL_DISCONNECTING = new Set(['acl|setuser', 'acl|deluser', 'acl|load']);

export function parseServerFacts(info: string): ServerFacts {
  const facts: ServerFacts = {};
  for (const line of info.split('\n')) {
    const colon = line.indexOf(':');
    if (colon <= 0 || line.startsWith('#')) continue;
    const key = line.slice(0, colon);
    const value = line.slice(colon + 1).trim();
    switch (key) {
      case 'run_id':
        facts.runId = value;
        break;
      case 'role':
        facts.role = value;
        break;
      case 'client_output_buffer_limit_disconnections':
        facts.outputBufferDisconnections = toNumber(value);
        break;
      case 'evicted_clients':
        facts.evictedClients = toNumber(value);
        break;
      default:
        if (key.startsWith('cmdstat_')) commandStat(facts, key.slice(8), value);
    }
  }
  return facts;
}

/** `cmdstat_client|kill:calls=3,usec=…`: only Redis 7 splits subcommands; older servers say nothing here. */
function commandStat(facts: ServerFacts, command: string, value: string): void {
  const calls = toNumber(/^calls=(\d+)/.exec(value)?.[1] ?? '');
  if (calls === undefined) return;
  if (command === 'client|kill') facts.clientKills = calls;
  else if (ACL_DISCONNECTING.has(command)) facts.aclChanges = (facts.aclChanges ?? 0) + calls;
  else if (command.startsWith('client|')) facts.clientKills ??= 0; // split stats, no kill yet
}

function toNumber(v: string): number | undefined {
  const n = Number(v);
  return v !== '' && Number.isFinite(n) ? n : undefined;
}

/**
 * The size of a read that filled Node's read buffer: libuv reads TCP and unix sockets 64 KiB at
 * a time; a TLS socket hands over one decrypted piece of at most 16 KiB.
 */
export const FULL_READ_TCP = 64 * 1024;
export const FULL_READ_TLS = 16 * 1024;
/** Full reads in a row that mean "behind": the kernel held at least this many buffers for us. */
export const BEHIND_FULL_READS = 4;
/** Growth of the event lag over the connection's lowest that means "behind". */
export const BEHIND_LAG_GROWTH_S = 2;

/**
 * Watches the sizes of socket reads (one comparison per read, not per event). A read that fills
 * the read buffer (64 KiB for TCP, 16 KiB for TLS) means more data was waiting;
 * several in a row mean the exporter was reading a backlog. The streak that ended just before
 * the close is kept, since the last read before the FIN is usually a partial one.
 */
export class ReadBacklog {
  private streakReads = 0;
  private streakBytes = 0;
  private lastStreakReads = 0;
  private lastStreakBytes = 0;
  /** Non-full reads since the last streak ended. */
  private since = 0;

  constructor(private readonly fullSize = FULL_READ_TCP) {}

  onRead(n: number): void {
    if (n >= this.fullSize) {
      this.streakReads++;
      this.streakBytes += n;
      this.since = 0;
      return;
    }
    if (this.streakReads > 0) {
      this.lastStreakReads = this.streakReads;
      this.lastStreakBytes = this.streakBytes + n;
      this.streakReads = 0;
      this.streakBytes = 0;
    }
    this.since++;
  }

  /** The backlog being read when the connection ended: [full reads, bytes], or [0, 0]. */
  atClose(): [number, number] {
    if (this.streakReads > 0) return [this.streakReads, this.streakBytes];
    if (this.since <= 2) return [this.lastStreakReads, this.lastStreakBytes];
    return [0, 0];
  }
}

/** One subscribed connection that Redis closed, as it stood when it ended. */
export interface LostSubscription {
  /** What INFO said when this connection was opened. */
  facts: ServerFacts;
  address: string;
  fullReads: number;
  backlogBytes: number;
  /** Event lag at the close minus the lowest event lag seen on the connection (seconds). */
  lagGrowth: number;
  /** How long the subscription had been up. */
  upMs: number;
}

export type LossVerdict =
  /** Another server answered (restart, failover): events published while it was down or switching were not seen. */
  | { kind: 'other-server'; detail: string }
  /** The same server closed a subscriber that was behind: events Redis had queued for it are lost. */
  | { kind: 'dropped'; cause: string; evidence: string }
  /** The same server closed a subscriber that was keeping up (CLIENT KILL, a proxy, Sentinel). */
  | { kind: 'closed'; detail: string };

/** Compares the lost connection with what the server says on the new one. */
export function judgeLoss(lost: LostSubscription, now: ServerFacts, address: string): LossVerdict {
  const before = lost.facts;
  if (before.runId !== undefined && now.runId !== undefined && before.runId !== now.runId) {
    return {
      kind: 'other-server',
      detail: address === lost.address ? 'Redis restarted meanwhile (new run_id)' : `now connected to ${address} (was ${lost.address}): another server`,
    };
  }
  const evidence: string[] = [];
  if (lost.fullReads >= BEHIND_FULL_READS) {
    evidence.push(`it was reading a backlog: ${lost.fullReads} full socket reads (${formatBytes(lost.backlogBytes)}) back to back just before the close`);
  }
  if (lost.lagGrowth >= BEHIND_LAG_GROWTH_S) evidence.push(`the event lag had grown by ${lost.lagGrowth.toFixed(1)} s`);
  const grew = (a: number | undefined, b: number | undefined) => a !== undefined && b !== undefined && b > a;
  if (grew(before.outputBufferDisconnections, now.outputBufferDisconnections)) {
    evidence.push('Redis counted it in client_output_buffer_limit_disconnections');
    return { kind: 'dropped', cause: 'its pub/sub output buffer passed client-output-buffer-limit pubsub', evidence: evidence.join('; ') };
  }
  if (grew(before.evictedClients, now.evictedClients)) {
    evidence.push('Redis counted it in evicted_clients');
    return { kind: 'dropped', cause: 'client eviction (maxmemory-clients) picked it for its memory', evidence: evidence.join('; ') };
  }
  // Commandstats rule a kill out: no CLIENT KILL (and no ACL change) ran between the two connections.
  const killed = grew(before.clientKills ?? 0, now.clientKills) || grew(before.aclChanges ?? 0, now.aclChanges);
  const noKill = before.clientKills !== undefined && now.clientKills !== undefined && !killed;
  if (evidence.length === 0 && noKill && now.runId !== undefined) {
    return {
      kind: 'dropped',
      cause: 'a message larger than client-output-buffer-limit pubsub (32mb by default): Redis closes the subscriber before sending any of it',
      evidence: 'Redis stayed up (same run_id) and ran no CLIENT KILL or ACL change meanwhile (INFO commandstats), yet closed a subscriber that was keeping up',
    };
  }
  if (evidence.length > 0) {
    const sameServer = now.runId !== undefined ? 'Redis stayed up (same run_id)' : 'Redis answered again at once';
    // Where the server counts output-buffer disconnections and this was not one, it was killed.
    const cause =
      now.outputBufferDisconnections !== undefined || killed
        ? 'the connection was closed by the server (CLIENT KILL, a proxy) while the exporter was behind'
        : 'most likely its pub/sub output buffer passed client-output-buffer-limit pubsub (default 32mb, or 8mb for 60 s)';
    return { kind: 'dropped', cause, evidence: `${evidence.join('; ')}; ${sameServer}` };
  }
  return {
    kind: 'closed',
    detail:
      now.runId !== undefined
        ? `Redis stayed up (same run_id) and the exporter was not behind: closed by ${killed ? 'CLIENT KILL (counted in INFO commandstats)' : 'CLIENT KILL, a proxy or a Sentinel reconfiguration'}`
        : 'the exporter was not behind: closed by CLIENT KILL, a proxy or a restart',
  };
}

export function formatBytes(n: number): string {
  if (n >= 1024 * 1024) return `${(n / (1024 * 1024)).toFixed(1)} MiB`;
  if (n >= 1024) return `${(n / 1024).toFixed(0)} KiB`;
  return `${n} B`;
}
