import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { Counter } from '../../src/metrics/counter.js';
import type { CallOptions, CallResult, RemoteControl } from '../../src/remote/client.js';
import { EnableEventsOnSight } from '../../src/remote/enable-events-on-sight.js';

/** A remote control whose workers answer from `answers` (node → reply value; absent: no reply). */
function fakeRc(answers: (node: string, call: number) => unknown) {
  const calls: string[][] = [];
  const rc = {
    async call(method: string, opts: CallOptions): Promise<CallResult> {
      const nodes = [...(opts.destination ?? [])];
      calls.push(nodes);
      const replies = [];
      for (const n of nodes) {
        const v = answers(n, calls.length);
        if (v !== undefined) replies.push({ hostname: n, value: v, elapsedMs: 1 });
      }
      return { method, replies, receivers: undefined, invalid: 0, skipped: 0 };
    },
  } as unknown as RemoteControl;
  return { rc, calls };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const opts = { replyTimeoutMs: 10, minGapMs: 20, retryMs: 20, attempts: 3, cooldownMs: 10_000 };

function setup(answers: (node: string, call: number) => unknown) {
  const { rc, calls } = fakeRc(answers);
  const outcomes = new Counter({ name: 'x_total', help: 'x', labelNames: ['outcome'] });
  const lines: string[] = [];
  const log = pino({ level: 'info' }, { write: (s: string) => lines.push(s) });
  const s = new EnableEventsOnSight(rc, outcomes, log, opts);
  const count = (o: string) => outcomes.labels(o).value;
  return { s, calls, lines, count };
}

describe('enable_events to a newly seen worker', () => {
  it('asks at once, once per worker within the cooldown, and logs one line', async () => {
    const t = setup(() => ({ ok: 'task events enabled' }));
    t.s.workerSeen('celery@a');
    t.s.workerSeen('celery@a');
    await sleep(60);
    expect(t.calls).toEqual([['celery@a']]);
    expect(t.count('enabled')).toBe(1);
    expect(t.lines.filter((l) => l.includes('newly seen worker'))).toHaveLength(1);
    t.s.close();
  });

  it('batches workers seen together into one request', async () => {
    const t = setup(() => ({ ok: 'already enabled' }));
    t.s.workerSeen('celery@a');
    t.s.workerSeen('celery@b');
    await sleep(60);
    expect(t.calls).toEqual([['celery@a', 'celery@b']]);
    expect(t.count('already_enabled')).toBe(2);
    t.s.close();
  });

  it('asks again a worker whose pidbox was not listening yet, then gives up and counts no_reply', async () => {
    const t = setup((node, call) => (node === 'celery@late' && call === 2 ? { ok: 'task events enabled' } : undefined));
    t.s.workerSeen('celery@late');
    t.s.workerSeen('celery@never');
    await sleep(200);
    expect(t.count('enabled')).toBe(1);
    expect(t.count('no_reply')).toBe(1);
    expect(t.calls.filter((c) => c.includes('celery@never'))).toHaveLength(3);
    t.s.close();
  });
});
