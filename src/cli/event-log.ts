import type { EventSink } from '../broker/transport.js';
import { parseBody } from '../decoder/body.js';
import { Invalid } from '../decoder/invalid.js';
import type { RawEvent } from '../events/vocabulary.js';
import { isFiniteNumber } from '../util/numbers.js';

export interface EventFilters {
  /** Globs over the event type (`task-failed`, `task-*`). Empty = all. */
  types: readonly string[];
  /** Globs over the task name, resolved through task-sent/received for later events. */
  tasks: readonly string[];
  /** Globs over the event's hostname (the worker; the producer for task-sent). */
  workers: readonly string[];
}

/** Task names remembered for later events of the same task; the oldest are forgotten beyond it. */
const MAX_REMEMBERED = 50_000;

/**
 * The `events` command's sink: decodes each broker message with the daemon's decoder and
 * writes one line (or one JSON object) per event that passes the filters.
 */
export class EventLog implements EventSink {
  private readonly tasks = new Map<string, { name?: string; queue?: string }>();
  private readonly typeRe: RegExp[];
  private readonly taskRe: RegExp[];
  private readonly workerRe: RegExp[];
  readonly invalid = new Map<string, number>();

  constructor(
    filters: EventFilters,
    private readonly write: (line: string) => void,
    private readonly json: boolean,
  ) {
    this.typeRe = filters.types.map(globToRegExp);
    this.taskRe = filters.tasks.map(globToRegExp);
    this.workerRe = filters.workers.map(globToRegExp);
  }

  onBody(body: string | Invalid): void {
    if (body instanceof Invalid) return this.skip(body.reason);
    this.onText(body);
  }

  private onText(text: string): void {
    const parsed = parseBody(text);
    if (parsed instanceof Invalid) return this.skip(parsed.reason);
    for (const e of Array.isArray(parsed) ? parsed : [parsed]) {
      if (typeof e !== 'object' || e === null || typeof e['type'] !== 'string') this.skip('shape');
      else this.onEvent(e);
    }
  }

  private onEvent(e: RawEvent): void {
    const type = e['type'] as string;
    const uuid = typeof e['uuid'] === 'string' ? e['uuid'] : undefined;
    let known = uuid !== undefined ? this.tasks.get(uuid) : undefined;
    if (uuid !== undefined && (typeof e['name'] === 'string' || typeof e['queue'] === 'string')) {
      if (known === undefined) {
        known = {};
        this.tasks.set(uuid, known);
        if (this.tasks.size > MAX_REMEMBERED) this.tasks.delete(this.tasks.keys().next().value as string);
      }
      if (typeof e['name'] === 'string') known.name = e['name'];
      if (typeof e['queue'] === 'string') known.queue = e['queue'];
    }
    const name = known?.name;
    const hostname = typeof e['hostname'] === 'string' ? e['hostname'] : '';
    if (!matches(this.typeRe, type) || !matches(this.workerRe, hostname)) return;
    if (this.taskRe.length > 0 && (name === undefined || !matches(this.taskRe, name))) return;
    if (this.json) {
      const out: RawEvent = { ...e };
      if (out['name'] === undefined && name !== undefined) out['name'] = name;
      if (out['queue'] === undefined && known?.queue !== undefined) out['queue'] = known.queue;
      this.write(JSON.stringify(out));
    } else {
      this.write(formatEvent(e, name));
    }
  }

  private skip(reason: string): void {
    this.invalid.set(reason, (this.invalid.get(reason) ?? 0) + 1);
  }
}

/** `time  type  task  uuid  worker  outcome`, fixed-width where it helps reading. */
export function formatEvent(e: RawEvent, name: string | undefined): string {
  const ts = e['timestamp'];
  const time = isFiniteNumber(ts) ? new Date(ts * 1000).toISOString() : new Date().toISOString();
  const type = String(e['type']);
  const isTask = type.startsWith('task-');
  const uuid = typeof e['uuid'] === 'string' ? e['uuid'] : '-';
  const task = isTask ? (name ?? '?') : '-';
  const host = typeof e['hostname'] === 'string' ? e['hostname'] : '-';
  return `${time}  ${type.padEnd(16)}  ${task.padEnd(24)}  ${uuid.padEnd(36)}  ${host}  ${outcome(e)}`.trimEnd();
}

/** What happened, in a few words (Python reprs are printed as they came). */
export function outcome(e: RawEvent): string {
  const s = (k: string) => (e[k] === undefined || e[k] === null ? undefined : String(e[k]));
  switch (e['type']) {
    case 'task-sent':
      return `sent to ${s('queue') ?? s('routing_key') ?? '?'}${s('eta') !== undefined ? ` eta=${s('eta')}` : ''}`;
    case 'task-received':
      return `received${s('eta') !== undefined ? ` eta=${s('eta')}` : ''}`;
    case 'task-started':
      return 'started';
    case 'task-succeeded': {
      const rt = typeof e['runtime'] === 'number' ? ` in ${(e['runtime'] as number).toFixed(4)}s` : '';
      return `succeeded${rt}: ${truncate(s('result') ?? '')}`;
    }
    case 'task-failed':
      return `failed: ${truncate(s('exception') ?? '?')}`;
    case 'task-retried':
      return `retry: ${truncate(s('exception') ?? '?')}`;
    case 'task-rejected':
      return `rejected requeue=${e['requeue'] === true}`;
    case 'task-revoked':
      return `revoked${e['expired'] === true ? ' (expired)' : ''}${e['terminated'] === true ? ` (terminated, signal ${s('signum') ?? '?'})` : ''}`;
    case 'task-cancelled':
      return 'cancelled';
    case 'worker-online':
      return 'online';
    case 'worker-offline':
      return 'offline';
    case 'worker-heartbeat':
      return `heartbeat active=${s('active') ?? '?'} processed=${s('processed') ?? '?'}`;
    default:
      return '';
  }
}

function truncate(v: string, max = 120): string {
  const one = v.replace(/\s+/g, ' ');
  return one.length > max ? `${one.slice(0, max - 1)}…` : one;
}

function matches(res: RegExp[], v: string): boolean {
  return res.length === 0 || res.some((r) => r.test(v));
}

/** Shell-style glob (`*`, `?`) over the whole value. */
export function globToRegExp(glob: string): RegExp {
  const body = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${body}$`);
}
