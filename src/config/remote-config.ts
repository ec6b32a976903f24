import type { Options } from 'yargs';
import type { ArgvOf } from './argv.js';
import { ConfigError } from './errors.js';
import { parseSeconds } from './parse.js';

export const remoteControlOptions = {
  'inspect-metrics': {
    type: 'boolean',
    default: true,
    describe: 'Poll the workers by remote control (ping, stats, active_queues, reserved, scheduled) for pool metrics; --no-inspect-metrics turns it off',
    group: 'Remote control:',
  },
  'inspect-poll-interval': { type: 'number', default: 15, describe: 'Seconds between inspect rounds', group: 'Remote control:' },
  'inspect-poll-timeout': {
    type: 'number',
    default: 10,
    describe: 'Seconds an inspect round (or enable_events broadcast) may take before it is abandoned and counted as failed',
    group: 'Remote control:',
  },
  'inspect-reply-timeout': {
    type: 'number',
    default: 1,
    describe: 'Reply window of each remote-control call: collection ends after this many seconds without a new reply (Celery’s inspect --timeout)',
    group: 'Remote control:',
  },
  'enable-events': {
    type: 'boolean',
    default: true,
    describe: 'Broadcast enable_events at start and periodically, so workers started without -E send task events; --no-enable-events turns it off',
    group: 'Remote control:',
  },
  'enable-events-interval': { type: 'number', default: 60, describe: 'Seconds between enable_events broadcasts', group: 'Remote control:' },
} as const satisfies Record<string, Options>;

/** Remote-control pollers (inspect metrics, enable_events); durations in seconds. */
export interface RemoteControlConfig {
  inspect: boolean;
  pollInterval: number;
  pollTimeout: number;
  replyTimeout: number;
  enableEvents: boolean;
  enableEventsInterval: number;
}

export function buildRemoteControlConfig(argv: ArgvOf<typeof remoteControlOptions>): RemoteControlConfig {
  const replyTimeout = parseSeconds('inspect-reply-timeout', argv['inspect-reply-timeout'], { allowZero: false });
  const pollTimeout = parseSeconds('inspect-poll-timeout', argv['inspect-poll-timeout'], { allowZero: false });
  // A round is a ping and then four calls side by side, each ending with one idle reply window.
  if (pollTimeout <= 2 * replyTimeout) {
    throw new ConfigError('inspect-poll-timeout', `must be more than twice --inspect-reply-timeout (${replyTimeout} s), got ${pollTimeout} s`);
  }
  return {
    inspect: argv['inspect-metrics'] !== false,
    pollInterval: parseSeconds('inspect-poll-interval', argv['inspect-poll-interval'], { allowZero: false }),
    pollTimeout,
    replyTimeout,
    enableEvents: argv['enable-events'] !== false,
    enableEventsInterval: parseSeconds('enable-events-interval', argv['enable-events-interval'], { allowZero: false }),
  };
}
