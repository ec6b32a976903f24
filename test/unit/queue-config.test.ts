import { describe, expect, it } from 'vitest';
import { cli } from '../helpers/cli.js';


describe('queue and backlog options', () => {
  it('have defaults, environment twins, and normalise priority_steps', async () => {
    const d = JSON.parse((await cli(['--print-config'])).stdout).effective as Record<string, Record<string, unknown>>;
    expect(d['queues']).toEqual({ names: [], pollInterval: 15, pollTimeout: 10, minPollInterval: 2, scrapeWait: 1, discoveryInterval: 60, forgetAfter: 3600 });
    expect(d['metrics']!['longRunningTaskThreshold']).toBe(3600);
    const r = await cli(['--print-config', '--queue-forget-after', '0', '--broker-transport-option', 'priority_steps=9,0,3'], {
      CELERY_EXPORTER_QUEUE_DISCOVERY_INTERVAL: '0',
      CELERY_EXPORTER_QUEUE_MIN_POLL_INTERVAL: '0.5',
      CELERY_EXPORTER_QUEUE_SCRAPE_WAIT: '3',
      CELERY_EXPORTER_LONG_RUNNING_TASK_THRESHOLD: '90',
    });
    const c = JSON.parse(r.stdout).effective as Record<string, Record<string, unknown>>;
    expect(c['queues']).toMatchObject({ discoveryInterval: 0, forgetAfter: 0, minPollInterval: 0.5, scrapeWait: 3 });
    expect(c['metrics']!['longRunningTaskThreshold']).toBe(90);
    expect(c['broker']!['transportOptions']).toEqual({ priority_steps: [0, 3, 9] });
  });

  it('reject bad values with one line naming the flag (exit 2)', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['--queue-forget-after', '-1'], /invalid --queue-forget-after/],
      [['--queue-discovery-interval', 'soon'], /invalid --queue-discovery-interval/],
      [['--queue-min-poll-interval', '-2'], /invalid --queue-min-poll-interval/],
      [['--long-running-task-threshold', '-5'], /invalid --long-running-task-threshold/],
      [['--broker-transport-option', 'priority_steps=[0,"x"]'], /invalid --broker-transport-option: priority_steps/],
    ];
    for (const [args, re] of cases) {
      const r = await cli(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(re);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    }
  });
});
