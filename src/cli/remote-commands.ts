import { createMailbox } from '../broker/mailbox.js';
import type { BrokerConfig } from '../config/config.js';
import { scrub } from '../config/secrets.js';
import { createLogger } from '../log.js';
import { byNode, RemoteControl, type CallResult } from '../remote/client.js';
import { cliArguments } from '../remote/methods.js';
import { inspectTable } from './inspect-output.js';
import { NAME } from './config-failure.js';
import { renderTable } from './table.js';

/** Celery's exit status when no worker replied (EX_UNAVAILABLE). */
export const EXIT_NO_REPLY = 69;

export interface RemoteArgs {
  broker: BrokerConfig;
  logLevel: string;
  method: string;
  destination: string[];
  timeoutSeconds: number;
  json: boolean;
}

/** `inspect <method>`: what `celery -A app inspect <method>` prints, without Python. */
export async function runInspect(a: RemoteArgs): Promise<number> {
  const result = await call(a, cliArguments(a.method));
  const { nodes, duplicates } = byNode(result.replies);
  if (duplicates.length > 0) process.stderr.write(`warning: several workers answered as ${duplicates.join(', ')} (duplicate node names)\n`);
  if (result.replies.length === 0) return noReply();
  if (a.json) {
    process.stdout.write(`${JSON.stringify(nodes)}\n`);
  } else {
    const n = Object.keys(nodes).length;
    process.stdout.write(`${inspectTable(a.method, nodes)}\n\n${n} ${n === 1 ? 'node' : 'nodes'} online.\n`);
  }
  reportSkipped(result);
  return 0;
}

/** `control <command>`: like `celery control`; its --json is the list of replies, unmerged. */
export async function runControl(a: RemoteArgs): Promise<number> {
  const result = await call(a, {});
  if (result.replies.length === 0) return noReply();
  if (a.json) {
    process.stdout.write(`${JSON.stringify(result.replies.map((r) => ({ [r.hostname]: r.value })))}\n`);
  } else {
    const rows = result.replies.map((r) => {
      const v = r.value as Record<string, unknown> | null;
      const text = v !== null && typeof v === 'object' ? (v['ok'] ?? (v['error'] !== undefined ? `error: ${String(v['error'])}` : JSON.stringify(v))) : JSON.stringify(v);
      return [r.hostname, String(text)];
    });
    process.stdout.write(`${renderTable(['NODE', 'REPLY'], rows)}\n`);
  }
  reportSkipped(result);
  return 0;
}

async function call(a: RemoteArgs, args: Record<string, unknown>): Promise<CallResult> {
  const broker = a.broker;
  const log = createLogger(a.logLevel, 'pretty');
  const rc = new RemoteControl(createMailbox(broker, log));
  try {
    return await rc.call(a.method, {
      arguments: args,
      destination: a.destination.length > 0 ? a.destination : undefined,
      timeoutMs: a.timeoutSeconds * 1000,
    });
  } catch (err) {
    process.stderr.write(`${NAME}: remote control over ${broker.url.masked} failed: ${scrub(err instanceof Error ? err.message : String(err))}\n`);
    process.exitCode = 1;
    throw new Reported();
  } finally {
    await rc.close();
  }
}

/** An error already written to stderr; the caller only sets the exit status. */
export class Reported extends Error {}

function noReply(): number {
  process.stderr.write('Error: No nodes replied within time constraint\n');
  return EXIT_NO_REPLY;
}

function reportSkipped(r: CallResult): void {
  if (r.invalid > 0) process.stderr.write(`warning: skipped ${r.invalid} unreadable ${r.invalid === 1 ? 'reply' : 'replies'}\n`);
}
