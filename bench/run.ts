/**
 * npm run bench [-- --scenario steady-20k,burst-200k] [--broker redis,amqp] [--repeat 3]
 *
 * Runs the real daemon as its own process, feeds it from a separate generator process, and
 * reports what the exporter's own /proc counters say: CPU per event, RSS, events counted vs
 * published, scrape render time and event-loop stalls. Results go to bench/results/.
 *
 * Each scenario runs on every selected broker back to back (scenario by scenario, not broker by
 * broker), so the ratios the targets are stated in (targets.ts) compare runs made under the same
 * machine load. --repeat N runs each scenario N times on each broker, interleaved, and reports
 * the run with the median CPU per event (every run's figure is kept, and a run that lost events
 * counts against the whole). BENCH_CPU_PROF=<dir> runs the exporter with node --cpu-prof into that folder;
 * BENCH_NODE_ARGS adds node flags to the exporter (say "--trace-gc"), BENCH_EXPORTER_LOG=<file>
 * appends its standard output there (where --trace-gc writes), BENCH_CLI runs another build of
 * the daemon (to compare two builds on one machine).
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from 'node:net';
import { createInterface } from 'node:readline';
import { Redis } from 'ioredis';
import { metricSum, ROOT, startDaemon, type Proc } from './exporter-process.js';
import { BENCH_PUBSUB_LIMIT, startOwnRedis } from './own-redis.js';
import { cpuSeconds, rssBytes } from './proc.js';
import { SCENARIOS, type Scenario } from './scenarios.js';
import { checksTable, checkTargets } from './targets.js';

const args = process.argv.slice(2);
const opt = (k: string, d: string) => {
  const i = args.indexOf(`--${k}`);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1]! : d;
};
/** A Redis named by --redis or REDIS_URL; otherwise the bench starts its own (own-redis.ts). */
const GIVEN_REDIS = opt('redis', process.env['REDIS_URL'] ?? '').replace(/\/\d*$/, '');
let REDIS = GIVEN_REDIS;
let stopOwnRedis = (): void => undefined;
const AMQP = opt('amqp', process.env['AMQP_URL'] ?? 'amqp://guest:guest@127.0.0.1:5672');
/** URL-encoded vhost (%2F = "/"); give the bench its own on a RabbitMQ others use. */
const VHOST = opt('amqp-vhost', process.env['AMQP_VHOST'] ?? '%2F');
const BROKERS = opt('broker', 'redis,amqp').split(',') as Array<'redis' | 'amqp'>;
const PROF = process.env['BENCH_CPU_PROF'];
const DB = 13;
const REPEAT = Math.max(1, Number(opt('repeat', '1')) || 1);
const CLI = process.env['BENCH_CLI'] ?? join(ROOT, 'dist', 'cli.js');
const FLOOR = join(ROOT, 'bench', 'dist', 'bench', 'floor.js');
const GENERATOR = join(ROOT, 'bench', 'dist', 'bench', 'generator.js');
const PURGE = join(ROOT, 'bench', 'dist', 'bench', 'purge.js');
const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

export interface Result {
  scenario: string;
  title: string;
  broker: string;
  publishedEvents: number;
  countedEvents: number;
  publishedTasks: number;
  countedTasks: number;
  generatorSeconds: number;
  generatorRate: number;
  cpuSeconds: number;
  cpuUsPerEvent: number;
  /** With --repeat: CPU µs/event of every run, in run order (cpuUsPerEvent is their median). */
  cpuUsPerEventRuns?: number[];
  peakRssMB: number;
  finalRssMB: number;
  reconnects: number;
  invalid: number;
  /**
   * p50/max: scrape fetch time while ingesting (renders yield to ingestion, so it includes event
   * work); idle: the same with no events arriving; loopLagMaxMs: the longest event-loop stall
   * prom-client saw across those scrapes (GC pauses included).
   */
  render?: { lines: number; bytes: number; p50Ms: number; maxMs: number; idleP50Ms: number; idleMaxMs: number; loopLagMaxMs: number; scrapes: number };
  rssSeries?: Array<[number, number]>;
  /** RSS before and at its peak while `clients` scrapers that never read were connected. */
  scrapers?: { clients: number; rssBeforeMB: number; rssPeakMB: number };
  /** purgeHosts scenarios (bench/purge.ts): the longest EventState.tick while the stale hosts were purged. */
  purge?: PurgeResult;
  skipped?: string;
}

/** What bench/purge.ts prints. */
export interface PurgeResult {
  hosts: number;
  seriesBefore: number;
  seriesAfter: number;
  ticks: number;
  longestTickMs: number;
  busyMs: number;
}

/** A purgeHosts scenario: bench/purge.ts in its own process (a fresh heap, like the daemon's). */
function runPurge(s: Scenario): Result {
  const out = execFileSync(process.execPath, [PURGE, String(s.purgeHosts)], { encoding: 'utf8' });
  const purge = JSON.parse(out.trim().split('\n').pop()!) as PurgeResult;
  return {
    scenario: s.id, title: s.title, broker: 'none', publishedEvents: 0, countedEvents: 0, publishedTasks: 0, countedTasks: 0,
    generatorSeconds: 0, generatorRate: 0, cpuSeconds: purge.busyMs / 1000, cpuUsPerEvent: 0, peakRssMB: 0, finalRssMB: 0, reconnects: 0, invalid: 0,
    purge,
  };
}

const mb = (b: number) => Math.round((b / 1048576) * 10) / 10;

async function scrape(p: Proc): Promise<{ text: string; ms: number }> {
  const t = performance.now();
  const res = await fetch(`${p.url}/metrics`);
  const text = await res.text();
  return { text, ms: performance.now() - t };
}

function supportsFlag(flag: string): boolean {
  return execFileSync(process.execPath, [CLI, '--help'], { encoding: 'utf8' }).includes(flag);
}

async function runScenario(s: Scenario, BROKER: 'redis' | 'amqp'): Promise<Result> {
  const base: Result = {
    scenario: s.id, title: s.title, broker: BROKER, publishedEvents: 0, countedEvents: 0, publishedTasks: s.tasks, countedTasks: 0,
    generatorSeconds: 0, generatorRate: 0, cpuSeconds: 0, cpuUsPerEvent: 0, peakRssMB: 0, finalRssMB: 0, reconnects: 0, invalid: 0,
  };
  if (s.requiresFlag !== undefined && !supportsFlag(s.requiresFlag)) return { ...base, skipped: `this version has no ${s.requiresFlag}` };
  const brokerUrl = BROKER === 'redis' ? `${REDIS}/${DB}` : `${AMQP}/${VHOST}`;
  if (BROKER === 'redis') {
    const r = new Redis(brokerUrl);
    await r.flushdb();
    r.disconnect();
  }
  const exporter = s.floor
    ? await startDaemon(FLOOR, ['--broker-url', brokerUrl])
    : await startDaemon(CLI, ['--broker-url', brokerUrl, '--log-level', 'warn', ...s.exporterArgs], [...(PROF ? ['--cpu-prof', '--cpu-prof-dir', PROF, '--cpu-prof-name', `${s.id}-${BROKER}-${Date.now()}.cpuprofile`] : []), ...(process.env['BENCH_NODE_ARGS'] ?? '').split(' ').filter(Boolean)]);
  const gen = spawn(
    process.execPath,
    [GENERATOR, '--broker', BROKER, '--url', BROKER === 'redis' ? REDIS : brokerUrl, '--db', String(DB), '--tasks', String(s.tasks), '--rate', String(s.rate), '--task-names', String(s.taskNames), '--lost-ratio', String(s.lostRatio ?? 0)],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  const lines = createInterface({ input: gen.stdout! });
  const next = () => new Promise<string>((resolve, reject) => {
    lines.once('line', resolve);
    gen.once('exit', (c) => reject(new Error(`generator exited ${c}`)));
  });
  const ready = (await next()).split(' ');
  base.publishedEvents = Number(ready[1]);
  process.stdout.write(`  ${s.id}: ${base.publishedEvents} events in ${ready[3]} messages prepared\n`);

  let peak = rssBytes(exporter.pid);
  const rssSeries: Array<[number, number]> = [];
  const t0 = performance.now();
  const sampler = setInterval(() => {
    const rss = rssBytes(exporter.pid);
    peak = Math.max(peak, rss);
    if (s.soak) rssSeries.push([Math.round((performance.now() - t0) / 1000), mb(rss)]);
  }, s.soak ? 10_000 : 250);
  const renders: number[] = [];
  let lagMax = 0;
  let linesCount = 0;
  let bytes = 0;
  const scraper = setInterval(() => {
    void scrape(exporter).then(({ text, ms }) => {
      renders.push(ms);
      lagMax = Math.max(lagMax, metricSum(text, 'nodejs_eventloop_lag_max_seconds'));
      linesCount = text.split('\n').filter((l) => l !== '' && !l.startsWith('#')).length;
      bytes = text.length;
    }, () => undefined);
  }, s.render ? 1000 : 15_000);

  const cpu0 = cpuSeconds(exporter.pid);
  gen.stdin!.write('go\n');
  const result = JSON.parse(await next()) as { seconds: number; rate: number };
  base.generatorSeconds = result.seconds;
  base.generatorRate = Math.round(result.rate);
  // Drain: until the count stops moving (or reaches what was published).
  let last = -1;
  for (let i = 0; i < 120; i++) {
    const { text } = await scrape(exporter);
    const counted = metricSum(text, 'celery_exporter_events_total');
    if (counted >= base.publishedEvents || counted === last) break;
    last = counted;
    await new Promise((r) => setTimeout(r, 1000));
  }
  base.cpuSeconds = Math.round((cpuSeconds(exporter.pid) - cpu0) * 100) / 100;
  clearInterval(sampler);
  clearInterval(scraper);
  const { text } = await scrape(exporter);
  base.countedEvents = metricSum(text, 'celery_exporter_events_total');
  base.countedTasks = metricSum(text, 'celery_task_succeeded_total') + metricSum(text, 'celery_task_failed_total');
  // Lost tasks never finish: compare with the tasks that could.
  if (s.lostRatio !== undefined) base.publishedTasks = Math.round(s.tasks * (1 - s.lostRatio));
  if (s.floor) base.countedTasks = NaN;
  base.reconnects = metricSum(text, 'celery_exporter_reconnects_total');
  base.invalid = metricSum(text, 'celery_exporter_events_invalid_total');
  base.cpuUsPerEvent = base.countedEvents > 0 ? Math.round((base.cpuSeconds / base.countedEvents) * 1e6 * 100) / 100 : 0;
  base.peakRssMB = mb(Math.max(peak, rssBytes(exporter.pid)));
  base.finalRssMB = mb(rssBytes(exporter.pid));
  if (s.render) {
    const idle: number[] = [];
    for (let i = 0; i < 10; i++) idle.push((await scrape(exporter)).ms);
    const p50 = (xs: number[]) => Math.round(([...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0) * 10) / 10;
    const max = (xs: number[]) => Math.round(Math.max(0, ...xs) * 10) / 10;
    base.render = {
      lines: linesCount, bytes, scrapes: renders.length,
      p50Ms: p50(renders), maxMs: max(renders), idleP50Ms: p50(idle), idleMaxMs: max(idle),
      loopLagMaxMs: Math.round(lagMax * 1000 * 10) / 10,
    };
  }
  if (s.soak) base.rssSeries = rssSeries;
  if (s.nonReadingScrapers !== undefined) base.scrapers = await nonReadingScrapers(exporter, s.nonReadingScrapers);
  await exporter.stop();
  gen.kill();
  return base;
}

/** Clients that send GET /metrics and never read the answer (issue 11): what they cost in RSS. */
async function nonReadingScrapers(p: Proc, clients: number): Promise<NonNullable<Result['scrapers']>> {
  const port = Number(new URL(p.url).port);
  const before = rssBytes(p.pid);
  const sockets = Array.from({ length: clients }, () => {
    const s = connect(port, '127.0.0.1', () => s.write('GET /metrics HTTP/1.1\r\nHost: bench\r\n\r\n'));
    s.pause();
    s.on('error', () => undefined);
    return s;
  });
  let peak = before;
  // 30 s: 200 interleaved renders of ~100k series take that long to buffer everything (before the fix).
  for (let i = 0; i < 120; i++) {
    await new Promise((r) => setTimeout(r, 250));
    peak = Math.max(peak, rssBytes(p.pid));
  }
  for (const s of sockets) s.destroy();
  return { clients, rssBeforeMB: mb(before), rssPeakMB: mb(peak) };
}

/** The run with the median CPU per event (the lower one of an even count), with every run's figure; the fewest events and tasks any run counted. */
function medianRun(runs: Result[]): Result {
  if (runs.length === 1 || runs[0]!.skipped !== undefined) return runs[0]!;
  const mid = [...runs].sort((a, b) => a.cpuUsPerEvent - b.cpuUsPerEvent)[Math.floor((runs.length - 1) / 2)]!;
  const worst = runs.reduce((w, r) => (r.countedEvents / r.publishedEvents < w.countedEvents / w.publishedEvents ? r : w));
  const fewestTasks = Math.min(...runs.map((r) => r.countedTasks));
  return { ...mid, countedEvents: worst.countedEvents, publishedEvents: worst.publishedEvents, countedTasks: Number.isNaN(mid.countedTasks) ? NaN : fewestTasks, cpuUsPerEventRuns: runs.map((r) => r.cpuUsPerEvent) };
}

function table(results: Result[]): string {
  const rows = results.map((r) => {
    if (r.skipped) return `| ${r.scenario} | ${r.broker} | skipped: ${r.skipped} ||||||||`;
    if (r.purge) {
      const p = r.purge;
      const purged = p.seriesBefore - p.seriesAfter;
      return `| ${r.scenario} | ${r.broker} | – | – | – | – | – | – | – | ${p.hosts} stale hosts, ${purged} series purged in ${p.ticks} ticks: longest tick (event-loop stall) ${p.longestTickMs} ms, ${p.busyMs} ms busy in all |`;
    }
    const pct = (a: number, b: number) => (Number.isNaN(a) ? '–' : `${((a / b) * 100).toFixed(2)} %`);
    const extra = r.scrapers
      ? `${r.scrapers.clients} clients that never read /metrics: RSS ${r.scrapers.rssBeforeMB} → ${r.scrapers.rssPeakMB} MB peak`
      : r.render
      ? `${r.render.lines} series: render ${r.render.idleP50Ms} ms p50 / ${r.render.idleMaxMs} ms max idle, ${r.render.p50Ms} / ${r.render.maxMs} ms while ingesting; event-loop stall max ${r.render.loopLagMaxMs} ms`
      : r.rssSeries
        ? `RSS over time (s→MB): ${r.rssSeries.filter((_, i) => i % 6 === 0).map(([t, m]) => `${t}→${m}`).join(', ')}`
        : '';
    const cpu = r.cpuUsPerEventRuns !== undefined && r.cpuUsPerEventRuns.length > 1 ? `${r.cpuUsPerEvent} (runs: ${r.cpuUsPerEventRuns.join(', ')})` : `${r.cpuUsPerEvent}`;
    return `| ${r.scenario} | ${r.broker} | ${r.generatorRate} | ${cpu} | ${pct(r.countedEvents, r.publishedEvents)} | ${pct(r.countedTasks, r.publishedTasks)} | ${r.peakRssMB} | ${r.finalRssMB} | ${r.reconnects} | ${extra} |`;
  });
  return [
    '| scenario | broker | events/s sent | CPU µs/event | events counted | tasks counted | peak RSS MB | final RSS MB | reconnects | notes |',
    '|---|---|---|---|---|---|---|---|---|---|',
    ...rows,
  ].join('\n');
}

async function main(): Promise<void> {
  const wanted = opt('scenario', SCENARIOS.map((s) => s.id).join(',')).split(',');
  const unknown = wanted.filter((w) => !SCENARIOS.some((s) => s.id === w));
  if (unknown.length > 0) throw new Error(`unknown scenario(s): ${unknown.join(', ')}`);
  if (BROKERS.some((b) => b !== 'redis' && b !== 'amqp')) throw new Error(`--broker: redis, amqp or both, got ${BROKERS.join(',')}`);
  if (!existsSync(CLI)) throw new Error('build first: npm run build');
  if (REDIS === '' && BROKERS.includes('redis')) {
    const own = await startOwnRedis();
    REDIS = own.url;
    stopOwnRedis = own.stop;
    process.stdout.write(`redis: own redis-server at ${REDIS} (client-output-buffer-limit ${BENCH_PUBSUB_LIMIT})\n`);
  }
  const results: Result[] = [];
  for (const s of SCENARIOS.filter((x) => wanted.includes(x.id))) {
    if (s.purgeHosts !== undefined) {
      // Broker-independent: run once.
      process.stdout.write(`running ${s.id} (${s.title})\n`);
      const r = runPurge(s);
      results.push(r);
      process.stdout.write(`${table([r]).split('\n').pop()}\n`);
      continue;
    }
    const runs = new Map<string, Result[]>(BROKERS.map((b) => [b, []]));
    for (let rep = 1; rep <= REPEAT; rep++) {
      for (const broker of BROKERS) {
        process.stdout.write(`running ${s.id} on ${broker} (${s.title})${REPEAT > 1 ? `, run ${rep} of ${REPEAT}` : ''}\n`);
        const r = await runScenario(s, broker);
        runs.get(broker)!.push(r);
        process.stdout.write(`${table([r]).split('\n').pop()}\n`);
      }
    }
    for (const broker of BROKERS) results.push(medianRun(runs.get(broker)!));
  }
  const machine = { node: process.version, cpus: (await import('node:os')).cpus().length, cpuModel: (await import('node:os')).cpus()[0]?.model };
  const date = new Date().toISOString();
  for (const broker of BROKERS) {
    const file = join(ROOT, 'bench', 'results', `v${VERSION}-${broker}`);
    const mine = results.filter((r) => r.broker === broker);
    if (mine.length === 0) continue;
    const previous: Result[] = existsSync(`${file}.json`) ? (JSON.parse(readFileSync(`${file}.json`, 'utf8')) as { results: Result[] }).results : [];
    const merged = [...previous.filter((p) => !mine.some((r) => r.scenario === p.scenario)), ...mine].sort(
      (a, b) => SCENARIOS.findIndex((s) => s.id === a.scenario) - SCENARIOS.findIndex((s) => s.id === b.scenario),
    );
    writeFileSync(`${file}.json`, `${JSON.stringify({ version: VERSION, broker, machine, date, results: merged }, null, 2)}\n`);
    writeFileSync(`${file}.md`, `# Benchmark v${VERSION} (${broker})\n\n${machine.cpus} × ${machine.cpuModel}, Node ${machine.node}, ${date.slice(0, 10)}\n\n${table(merged)}\n`);
  }
  // The targets are judged on this run only: ratios between runs made minutes apart on one machine.
  const checks = checkTargets(results);
  const targets = `${checksTable(checks)}\n`;
  const file = join(ROOT, 'bench', 'results', `v${VERSION}-targets`);
  writeFileSync(`${file}.md`, `# Benchmark v${VERSION}: targets, one run (${BROKERS.join(' + ')}, ${wanted.join(', ')}${REPEAT > 1 ? `, each ${REPEAT} times, median` : ''})\n\n${machine.cpus} × ${machine.cpuModel}, Node ${machine.node}, ${date.slice(0, 10)}\n\n${table(results)}\n\n${targets}`);
  process.stdout.write(`\n${table(results)}\n\n${targets}\nwritten to bench/results/v${VERSION}-*.json and .md\n`);
  const missed = checks.filter((c) => c.ok === false);
  if (missed.length > 0) {
    process.stderr.write(`bench: ${missed.length} target(s) missed: ${missed.map((c) => c.target).join('; ')}\n`);
    process.exitCode = 2;
  }
}

main()
  .finally(() => stopOwnRedis())
  .catch((err: unknown) => {
    process.stderr.write(`bench failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  });
