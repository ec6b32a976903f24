import { describe, expect, it } from 'vitest';
import { EventLog, formatEvent, globToRegExp } from '../../src/cli/event-log.js';
import { inspectTable } from '../../src/cli/inspect-output.js';
import { byNode } from '../../src/remote/client.js';
import { capturedRedisMessages, envelope } from './fixtures.js';
import { nodeReplies } from './pidbox-fixtures.js';
import { decodeAmqpBody } from '../../src/decoder/body.js';
import { decodeEnvelope } from '../../src/decoder/envelope.js';

function logOf(filters: Partial<{ types: string[]; tasks: string[]; workers: string[] }> = {}, json = false) {
  const lines: string[] = [];
  const log = new EventLog({ types: [], tasks: [], workers: [], ...filters }, (l) => lines.push(l), json);
  for (const m of capturedRedisMessages()) log.onBody(decodeEnvelope(m.data));
  return { lines, log };
}

describe('events: one line per event of the captured stream', () => {
  it('prints every event with time, type, task, uuid, worker and outcome', () => {
    const { lines, log } = logOf();
    expect(lines).toHaveLength(66);
    expect(log.invalid.size).toBe(0);
    const failed = lines.filter((l) => l.includes(' task-failed '));
    expect(failed).toHaveLength(3);
    for (const l of failed) {
      expect(l).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z  task-failed\s+tests\.fail_(value|key)\s+[0-9a-f-]{36}  w1@probe  failed: (ValueError\('kaboom'\)|KeyError\('missing'\))$/);
    }
    // task-succeeded carries no name: it comes from the task's earlier events.
    expect(lines.filter((l) => / task-succeeded\s+tests\.add /.test(l))).toHaveLength(8);
    expect(lines.some((l) => /task-sent\s+tests\.add .* gen\d+@\S+  sent to qa$/.test(l))).toBe(true);
    expect(lines.some((l) => / worker-online\s+-\s+-\s+w1@probe  online$/.test(l))).toBe(true);
    expect(lines.some((l) => / task-revoked /.test(l))).toBe(true);
  });

  it('filters by type, task and worker globs', () => {
    expect(logOf({ types: ['task-failed'] }).lines).toHaveLength(3);
    expect(logOf({ types: ['worker-*'] }).lines.every((l) => / worker-/.test(l))).toBe(true);
    const adds = logOf({ tasks: ['tests.add'], types: ['task-succeeded'] }).lines;
    expect(adds).toHaveLength(8);
    expect(logOf({ tasks: ['tests.fail_*'] }).lines.every((l) => /tests\.fail_/.test(l))).toBe(true);
    expect(logOf({ workers: ['gen*'] }).lines.every((l) => / task-sent /.test(l))).toBe(true);
    expect(logOf({ workers: ['nobody'] }).lines).toEqual([]);
  });

  it('--json writes the event as sent, plus the task name and queue when they are known', () => {
    const { lines } = logOf({ types: ['task-succeeded'], tasks: ['tests.add'] }, true);
    expect(lines).toHaveLength(8);
    for (const l of lines) {
      const e = JSON.parse(l) as Record<string, unknown>;
      expect(e['type']).toBe('task-succeeded');
      expect(e['name']).toBe('tests.add');
      expect(['qa', 'high-priority']).toContain(e['queue']);
      expect(typeof e['runtime']).toBe('number');
    }
  });

  it('--json fills name and queue from the task\'s earlier events, in whichever order they come', () => {
    const lines: string[] = [];
    const log = new EventLog({ types: [], tasks: [], workers: ['w'] }, (l) => lines.push(l), true);
    const feed = (e: Record<string, unknown>) => log.onBody(decodeAmqpBody(Buffer.from(JSON.stringify(e)), 'application/json', 'utf-8'));
    // task-sent first: the later events of the task get its name and queue.
    feed({ type: 'task-sent', uuid: 'a', hostname: 'gen1@h', name: 'tests.add', queue: 'qb' });
    feed({ type: 'task-received', uuid: 'a', hostname: 'w', name: 'tests.add' });
    feed({ type: 'task-succeeded', uuid: 'a', hostname: 'w', result: '2' });
    // Celery publishes task-sent after the task message, so a fast worker can finish first: the
    // name is known from task-received, the queue is not yet, and nothing is made up.
    feed({ type: 'task-received', uuid: 'b', hostname: 'w', name: 'tests.add' });
    feed({ type: 'task-succeeded', uuid: 'b', hostname: 'w', result: '4' });
    feed({ type: 'task-sent', uuid: 'b', hostname: 'gen1@h', name: 'tests.add', queue: 'qb' });
    const out = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(out.map((e) => [e['type'], e['uuid'], e['name'], e['queue']])).toEqual([
      ['task-received', 'a', 'tests.add', 'qb'],
      ['task-succeeded', 'a', 'tests.add', 'qb'],
      ['task-received', 'b', 'tests.add', undefined],
      ['task-succeeded', 'b', 'tests.add', undefined],
    ]);
  });

  it('counts unreadable messages instead of printing them', () => {
    const lines: string[] = [];
    const log = new EventLog({ types: [], tasks: [], workers: [] }, (l) => lines.push(l), false);
    log.onBody(decodeEnvelope('garbage'));
    log.onBody(decodeEnvelope(envelope([{ no_type: 1 }])));
    log.onBody(decodeAmqpBody(Buffer.from('{"type": "task-started", "uuid": "u"}'), 'application/json', 'utf-8'));
    expect([...log.invalid]).toEqual([['envelope', 1], ['shape', 1]]);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/task-started\s+\?\s+u\s+-  started$/);
  });

  it('formats outcomes of each kind', () => {
    expect(formatEvent({ type: 'task-revoked', uuid: 'u', hostname: 'w', timestamp: 0, terminated: true, signum: 15, expired: false }, 'n')).toMatch(
      /revoked \(terminated, signal 15\)$/,
    );
    expect(formatEvent({ type: 'task-rejected', uuid: 'u', hostname: 'w', timestamp: 0, requeue: false }, 'n')).toMatch(/rejected requeue=false$/);
    expect(formatEvent({ type: 'worker-heartbeat', hostname: 'w', timestamp: 0, active: 2, processed: 9 }, undefined)).toMatch(
      /^1970-01-01T00:00:00\.000Z  worker-heartbeat  -\s+-\s+w  heartbeat active=2 processed=9$/,
    );
    expect(globToRegExp('a.b*').test('a.bc')).toBe(true);
    expect(globToRegExp('a.b*').test('aXbc')).toBe(false);
  });
});

describe('inspect: readable tables from real replies', () => {
  const table = (method: string) => inspectTable(method, byNode(nodeReplies('redis', method)).nodes);

  it('stats: a row per worker with pool, processes, prefetch', () => {
    const t = table('stats').split('\n');
    expect(t[0]).toMatch(/^NODE\s+PID\s+CONCURRENCY\s+PROCESSES\s+PREFETCH\s+UPTIME\s+TASKS DONE\s+TRANSPORT$/);
    expect(t.find((l) => l.startsWith('threads@capture'))).toMatch(/^threads@capture\s+\d+\s+3\s+-\s+12\s+8s\s+0\s+redis$/);
    expect(t.find((l) => l.startsWith('prefork@capture'))).toMatch(/^prefork@capture\s+\d+\s+2\s+2\s+9\s+9s\s+2\s+redis$/);
  });

  it('list replies: a row per item, "- empty -" for workers with none', () => {
    const reserved = table('reserved');
    expect(reserved).toMatch(/prefork@capture\s+[0-9a-f-]{36}\s+tests\.sleep\s+\[30\]\s+\{\}/);
    expect(reserved).toMatch(/solo@capture\s+- empty -/);
    expect(table('scheduled')).toMatch(/solo@capture\s+[0-9a-f-]{36}\s+tests\.add\s+\[3,4\]\s+\{\}\s+2026-\S+\s+6/);
    expect(table('active_queues')).toMatch(/threads@capture\s+cap-shared\s+cap-shared\s+direct\s+cap-shared/);
    expect(table('registered').split('\n').filter((l) => l.includes('tests.sleep'))).toHaveLength(3);
    expect(table('ping')).toMatch(/solo@capture\s+pong/);
    expect(table('conf')).toMatch(/prefork@capture\s+task_send_sent_event\s+true/);
  });

  it('error replies and unknown methods still render', () => {
    expect(table('no_such_method')).toMatch(/threads@capture\s+error: KeyError\('no_such_method'\)/);
    expect(inspectTable('clock', { 'a@h': { clock: 5 } })).toBe('NODE  REPLY\na@h   {"clock":5}');
  });
});
