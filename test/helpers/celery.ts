import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { spawnTracked, type Spawned } from './processes.js';

const run = promisify(execFile);
export const CELERY_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'celery');
/** Debian's interpreter, which has python3-celery; the first python3 on PATH may not. */
export const PYTHON = process.env['CELERY_PYTHON'] ?? '/usr/bin/python3';

export interface WorkerOptions {
  brokerUrl: string;
  queues: string[];
  /** Node name, e.g. w1-abc@vm. */
  name: string;
  concurrency?: number;
  events?: boolean;
  heartbeatInterval?: number;
  pool?: 'prefork' | 'solo' | 'threads';
  transportOptions?: Record<string, unknown>;
  env?: Record<string, string>;
}

export interface Worker extends Spawned {
  name: string;
}

/** Starts a real Celery worker of test/celery/tasks.py and waits until it says it is ready. */
export async function startWorker(o: WorkerOptions): Promise<Worker> {
  const args = [
    '-m',
    'celery',
    '-A',
    'tasks',
    'worker',
    '-Q',
    o.queues.join(','),
    '-n',
    o.name,
    '-c',
    String(o.concurrency ?? 2),
    '-P',
    o.pool ?? 'prefork',
    '--without-gossip',
    '--without-mingle',
    '--heartbeat-interval',
    String(o.heartbeatInterval ?? 1),
    '-l',
    'INFO',
  ];
  if (o.events !== false) args.push('-E');
  const w = spawnTracked(PYTHON, args, {
    cwd: CELERY_DIR,
    env: {
      ...process.env,
      BROKER_URL: o.brokerUrl,
      BROKER_TRANSPORT_OPTIONS: JSON.stringify(o.transportOptions ?? {}),
      WORKER_TASK_EVENTS: o.events === false ? '0' : '1',
      PYTHONUNBUFFERED: '1',
      ...o.env,
    },
  });
  await w.waitForOutput(/ ready\./, 60_000);
  return Object.assign(w, { name: o.name });
}

/** Runs test/celery/send.py with a workload; returns its JSON summary. */
export async function sendWorkload(
  brokerUrl: string,
  args: string[],
  transportOptions: Record<string, unknown> = {},
  env: Record<string, string> = {},
): Promise<Record<string, unknown>> {
  const { stdout } = await run(PYTHON, ['send.py', ...args], {
    cwd: CELERY_DIR,
    env: { ...process.env, BROKER_URL: brokerUrl, BROKER_TRANSPORT_OPTIONS: JSON.stringify(transportOptions), ...env },
    timeout: 60_000,
  });
  const last = stdout.trim().split('\n').pop() ?? '{}';
  return JSON.parse(last) as Record<string, unknown>;
}

/** Runs `celery <args…>` against the test app (inspect, control, purge…). */
export async function celeryCli(brokerUrl: string, args: string[], transportOptions: Record<string, unknown> = {}) {
  return run(PYTHON, ['-m', 'celery', '-A', 'tasks', ...args], {
    cwd: CELERY_DIR,
    env: { ...process.env, BROKER_URL: brokerUrl, BROKER_TRANSPORT_OPTIONS: JSON.stringify(transportOptions) },
    timeout: 60_000,
  });
}
