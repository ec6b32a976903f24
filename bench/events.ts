/**
 * Realistic Celery 5.2.6 event messages, as a prefork worker and its producers publish them
 * (docs/protocol.md §2.5, §3, §4): task-sent alone from the producer, then task.multi batches from the
 * worker — [received, started] and [succeeded] (or [failed]) — and worker heartbeats.
 */
import { randomUUID } from 'node:crypto';

export interface Workload {
  taskNames: number;
  queues: number;
  workers: number;
  producers: number;
  /** Fraction of tasks that fail / are retried once. */
  failRatio: number;
  retryRatio: number;
  /** Fraction of tasks whose worker is lost: sent, received and started, never finished. */
  lostRatio?: number;
}

export const DEFAULT_WORKLOAD: Workload = { taskNames: 200, queues: 10, workers: 50, producers: 8, failRatio: 0.02, retryRatio: 0.02 };

export interface Message {
  /** Redis channel suffix / AMQP routing key, e.g. task.multi. */
  routingKey: string;
  /** The JSON body (one event object or an array). */
  body: string;
  events: number;
}

export interface TaskPlan {
  messages: Message[];
  events: number;
  /** Tasks that reach a final state (succeeded or failed). */
  tasks: number;
}

const TRACEBACK =
  'Traceback (most recent call last):\n  File "/usr/lib/python3/dist-packages/celery/app/trace.py", line 451, in trace_task\n' +
  '    R = retval = fun(*args, **kwargs)\n  File "/usr/lib/python3/dist-packages/celery/app/trace.py", line 734, in __protected_call__\n' +
  '    return self.run(*args, **kwargs)\n  File "/srv/app/tasks.py", line 42, in charge\n    raise ValueError("card declined")\nValueError: card declined\n';

function pyjson(v: unknown): string {
  // Python's json.dumps separators: ", " and ": ".
  return JSON.stringify(v).replace(/","/g, '", "').replace(/":/g, '": ').replace(/,"/g, ', "');
}

/** Builds every message of `n` tasks (plus heartbeats) in publish order; timestamps start at t0. */
export function planTasks(n: number, w: Workload, t0: number, ratePerSec: number, indexOffset = 0): TaskPlan {
  const messages: Message[] = [];
  let events = 0;
  const dt = ratePerSec > 0 ? 4 / ratePerSec : 0.00005;
  let hbNext = t0;
  for (let j = 0; j < n; j++) {
    const ts = t0 + j * dt;
    const i = j + indexOffset;
    const uuid = randomUUID();
    const name = `app.tasks.job_${i % w.taskNames}`;
    const queue = `queue-${i % w.queues}`;
    const producer = `gen${1000 + (i % w.producers)}@api-${i % w.producers}`;
    const worker = `celery@worker-${i % w.workers}`;
    const base = { utcoffset: 0, pid: 4242, clock: i };
    const sent = {
      hostname: producer, ...base, uuid, root_id: uuid, parent_id: null, name, args: `(${i}, 'order-${i}')`, kwargs: "{'priority': 'normal'}",
      retries: 0, eta: null, expires: null, queue, exchange: '', routing_key: queue, timestamp: ts, type: 'task-sent',
    };
    messages.push({ routingKey: 'task.sent', body: pyjson(sent), events: 1 });
    const received = {
      hostname: worker, ...base, uuid, name, args: `(${i}, 'order-${i}')`, kwargs: "{'priority': 'normal'}", root_id: uuid, parent_id: null,
      retries: 0, eta: null, expires: null, timestamp: ts + 0.002, type: 'task-received',
    };
    const started = { hostname: worker, ...base, uuid, timestamp: ts + 0.0021, type: 'task-started' };
    messages.push({ routingKey: 'task.multi', body: pyjson([received, started]), events: 2 });
    events += 3;
    const roll = (i * 7919) % 1000;
    if (roll < w.retryRatio * 1000) {
      const retried = { hostname: worker, ...base, uuid, exception: 'None', traceback: 'celery.exceptions.Retry: Retry in 1s\n', timestamp: ts + 0.01, type: 'task-retried' };
      const resent = { ...sent, hostname: `gen4242@worker-${i % w.workers}`, retries: 1, timestamp: ts + 0.009 };
      messages.push({ routingKey: 'task.sent', body: pyjson(resent), events: 1 });
      messages.push({ routingKey: 'task.multi', body: pyjson([retried, { ...received, timestamp: ts + 0.02 }, { ...started, timestamp: ts + 0.021 }]), events: 3 });
      events += 4;
    }
    const lost = (i * 104729) % 1000 < (w.lostRatio ?? 0) * 1000;
    if (lost) {
      // Lost with its worker: no terminal event ever comes.
    } else if (roll >= 990 - w.failRatio * 1000 && roll < 990) {
      const failed = { hostname: worker, ...base, uuid, exception: "ValueError('card declined')", traceback: TRACEBACK, timestamp: ts + 0.05, type: 'task-failed' };
      messages.push({ routingKey: 'task.multi', body: pyjson([failed]), events: 1 });
    } else {
      const ok = { hostname: worker, ...base, uuid, result: `{'order': ${i}, 'status': 'ok'}`, runtime: 0.0123 + (i % 100) / 1000, timestamp: ts + 0.05, type: 'task-succeeded' };
      messages.push({ routingKey: 'task.multi', body: pyjson([ok]), events: 1 });
    }
    if (!lost) events += 1;
    // Heartbeats: each worker every 2 s of planned time.
    while (hbNext <= ts) {
      for (let k = 0; k < w.workers; k++) {
        const hb = {
          hostname: `celery@worker-${k}`, ...base, freq: 2.0, active: k % 4, processed: i, loadavg: [0.5, 0.4, 0.3],
          sw_ident: 'py-celery', sw_ver: '5.2.6', sw_sys: 'Linux', timestamp: hbNext, type: 'worker-heartbeat',
        };
        messages.push({ routingKey: 'worker.heartbeat', body: pyjson(hb), events: 1 });
        events += 1;
      }
      hbNext += 2;
    }
  }
  return { messages, events, tasks: n };
}

/** The kombu Redis envelope around a body (base64 body first, as kombu writes it). */
export function redisEnvelope(m: Message, hostname = 'celery@worker-0'): string {
  return (
    `{"body": "${Buffer.from(m.body).toString('base64')}", "content-encoding": "utf-8", "content-type": "application/json", ` +
    `"headers": {"hostname": "${hostname}"}, "properties": {"delivery_mode": 1, "delivery_info": {"exchange": "celeryev", ` +
    `"routing_key": "${m.routingKey}"}, "priority": 0, "body_encoding": "base64", "delivery_tag": "${randomUUID()}"}}`
  );
}
