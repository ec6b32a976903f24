/** The benchmark scenarios of issue 3. Events per task ≈ 4 (sent, received+started, outcome). */
export interface Scenario {
  id: string;
  title: string;
  tasks: number;
  /** Events per second; 0 = as fast as possible. */
  rate: number;
  taskNames: number;
  exporterArgs: string[];
  /** Run the minimal subscriber instead of the exporter. */
  floor?: boolean;
  /** Sample RSS over time and report its slope. */
  soak?: boolean;
  /** Scrape every second during the run and report render time and event-loop stalls. */
  render?: boolean;
  /** A flag the exporter must support for this scenario (skipped otherwise). */
  requiresFlag?: string;
  /** Fraction of tasks that never finish (lost workers). */
  lostRatio?: number;
  /** After the run: this many clients request /metrics and never read; RSS is sampled for 30 s. */
  nonReadingScrapers?: number;
  /**
   * No broker, no daemon: bench/purge.ts in its own process makes this many producer hosts stale
   * at once and reports the longest EventState.tick while they are purged (the event-loop stall).
   */
  purgeHosts?: number;
}

export const SCENARIOS: Scenario[] = [
  { id: 'steady-20k', title: 'steady 20k events/s, 30 s', tasks: 150_000, rate: 20_000, taskNames: 200, exporterArgs: [] },
  { id: 'steady-30k', title: 'steady 30k events/s, 30 s', tasks: 225_000, rate: 30_000, taskNames: 200, exporterArgs: [] },
  { id: 'burst-200k', title: 'burst of 200k events, as fast as possible', tasks: 50_000, rate: 0, taskNames: 200, exporterArgs: [] },
  { id: 'floor-20k', title: 'minimal subscriber (decode + count only), steady 20k events/s', tasks: 150_000, rate: 20_000, taskNames: 200, exporterArgs: [], floor: true },
  {
    id: 'scrapers-200',
    title: '200 clients that request /metrics and never read it (20k task names uncapped: ~100k series)',
    tasks: 50_000,
    rate: 10_000,
    taskNames: 20_000,
    exporterArgs: ['--max-task-names', '0'],
    nonReadingScrapers: 200,
  },
  { id: 'render-20k', title: '/metrics of ~20k series, scraped every second at 10k events/s', tasks: 50_000, rate: 10_000, taskNames: 250, exporterArgs: [], render: true },
  {
    id: 'million-tasks',
    title: '1M tasks over 100k task names, cardinality cap on, 25k events/s',
    tasks: 1_000_000,
    rate: 25_000,
    taskNames: 100_000,
    exporterArgs: ['--max-task-names', '1000'],
    requiresFlag: '--max-task-names',
  },
  {
    id: 'purge-100k',
    title: 'purge of 100k producer hosts gone stale at once (no broker): longest tick = event-loop stall',
    tasks: 0,
    rate: 0,
    taskNames: 1,
    exporterArgs: [],
    purgeHosts: 100_000,
  },
  { id: 'soak-10m', title: 'soak: 10 min at 10k events/s', tasks: 1_500_000, rate: 10_000, taskNames: 200, exporterArgs: [], soak: true },
  {
    id: 'soak-lost-workers',
    title: 'soak: 500k tasks at 10k events/s, 20 % never finish (lost workers), --max-tracked-tasks 20000',
    tasks: 500_000,
    rate: 10_000,
    taskNames: 200,
    // A bound the lost tasks reach in ~40 s, so the run shows RSS once the in-flight table is full.
    exporterArgs: ['--max-tracked-tasks', '20000'],
    soak: true,
    lostRatio: 0.2,
  },
];
