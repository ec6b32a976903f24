import type { Options } from 'yargs';
import { listOption, type ArgvOf } from './argv.js';
import { parseList, parseSeconds } from './parse.js';

export const queueOptions = {
  queues: {
    type: 'string',
    array: true,
    describe: 'Queues to report on even before they are seen (comma-separated or repeated); more are discovered from events and the broker',
    group: 'Queues:',
  },
  'queue-poll-interval': {
    type: 'number',
    default: 15,
    describe: 'Seconds between background polls of the broker (queue depths, broker health)',
    group: 'Queues:',
  },
  'queue-poll-timeout': {
    type: 'number',
    default: 10,
    describe: 'Seconds a poll may take before it is abandoned and counted as failed',
    group: 'Queues:',
  },
  'queue-min-poll-interval': {
    type: 'number',
    default: 2,
    describe:
      'Queue depth freshness: a scrape finding the last poll older than this, or a task-sent event, triggers a poll, but never sooner than this after the previous one (0 = only --queue-poll-interval)',
    group: 'Queues:',
  },
  'queue-scrape-wait': {
    type: 'number',
    default: 1,
    describe: 'Seconds a scrape waits at most for that fresh poll before it serves the previous values (counted in celery_exporter_scrape_refresh_timeouts_total)',
    group: 'Queues:',
  },
  'queue-discovery-interval': {
    type: 'number',
    default: 60,
    describe: 'Seconds between scans for the queues the broker knows (Redis: SCAN of kombu bindings); 0 = only configured queues and queues seen in events',
    group: 'Queues:',
  },
  'queue-forget-after': {
    type: 'number',
    default: 3600,
    describe: 'Seconds a queue that disappeared from the broker and from events must stay empty before it stops being reported (0 = never)',
    group: 'Queues:',
  },
} as const satisfies Record<string, Options>;

/** Queue depth polling and discovery; durations in seconds. */
export interface QueuesConfig {
  names: string[];
  pollInterval: number;
  pollTimeout: number;
  /** 0 = no on-demand polls. */
  minPollInterval: number;
  scrapeWait: number;
  discoveryInterval: number;
  forgetAfter: number;
}

export function buildQueuesConfig(argv: ArgvOf<typeof queueOptions>): QueuesConfig {
  return {
    names: parseList(listOption(argv, 'queues')),
    pollInterval: parseSeconds('queue-poll-interval', argv['queue-poll-interval'], { allowZero: false }),
    pollTimeout: parseSeconds('queue-poll-timeout', argv['queue-poll-timeout'], { allowZero: false }),
    minPollInterval: parseSeconds('queue-min-poll-interval', argv['queue-min-poll-interval']),
    scrapeWait: parseSeconds('queue-scrape-wait', argv['queue-scrape-wait']),
    discoveryInterval: parseSeconds('queue-discovery-interval', argv['queue-discovery-interval']),
    forgetAfter: parseSeconds('queue-forget-after', argv['queue-forget-after']),
  };
}
