import type { Options } from 'yargs';
import type { ArgvOf } from './argv.js';
import { parseSeconds } from './parse.js';

export const continuityOptions = {
  'state-file': {
    type: 'string',
    describe:
      'Keep counters, histograms, the worker table and in-flight tasks in this file across restarts (written atomically every --state-save-interval, after each scrape and at shutdown; loaded at start)',
    group: 'Continuity:',
  },
  'state-save-interval': {
    type: 'number',
    default: 30,
    describe: 'Seconds between periodic saves of --state-file (scrapes and shutdown also save)',
    group: 'Continuity:',
  },
  'state-scrape-save-min-interval': {
    type: 'number',
    default: 1,
    describe: 'Least seconds between two saves caused by scrapes; a scrape inside it waits (at most this long) for the next save before its response ends',
    group: 'Continuity:',
  },
  'reconcile-grace': {
    type: 'number',
    default: 30,
    describe: 'Seconds a tracked task that no answering worker reports (inspect active/reserved/scheduled) and that gets no event may stay before it is dropped',
    group: 'Continuity:',
  },
} as const satisfies Record<string, Options>;

/** Continuity across restarts (state file, rebuild from the workers); durations in seconds. */
export interface StateConfig {
  file: string | undefined;
  saveInterval: number;
  scrapeSaveMinInterval: number;
  reconcileGrace: number;
}

export function buildStateConfig(argv: ArgvOf<typeof continuityOptions>): StateConfig {
  const file = argv['state-file'];
  return {
    file: typeof file === 'string' && file !== '' ? file : undefined,
    saveInterval: parseSeconds('state-save-interval', argv['state-save-interval'], { allowZero: false }),
    scrapeSaveMinInterval: parseSeconds('state-scrape-save-min-interval', argv['state-scrape-save-min-interval']),
    reconcileGrace: parseSeconds('reconcile-grace', argv['reconcile-grace']),
  };
}
