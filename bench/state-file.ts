/**
 * Cost of --state-file: save time, file size and load time with 100k in-flight tasks and 20k
 * series (the targets of issue 16). A save runs on the event loop (it is synchronous), so its
 * time is also how long ingestion and scrapes pause for it.
 *   npm run bench:state
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { StatePersister } from '../src/continuity/persister.js';
import { encodeSnapshot, fingerprint } from '../src/continuity/snapshot.js';
import { writeStateFile } from '../src/continuity/state-file.js';
import { buildEventPath, type EventPath } from '../src/app/event-path.js';
import { defaultConfig } from '../src/config/config.js';
import { parseBrokerUrl } from '../src/config/broker-url.js';

const TASKS = 100_000;
const SERIES = 20_000;
const log = pino({ level: 'silent' });
const base = defaultConfig();
const cfg = {
  ...base,
  broker: { ...base.broker, url: parseBrokerUrl('redis://bench') },
  metrics: { ...base.metrics, maxTrackedTasks: TASKS, maxSeries: 0, maxTaskNames: 0 },
};

function filledCore(): EventPath {
  const core = buildEventPath(cfg, log, { defaultMetrics: false });
  const t = core.metrics.tasks;
  const names: string[] = [];
  const hosts = Array.from({ length: 20 }, (_, i) => `celery@worker-${i}.example.internal`);
  // Task series: 4 counters per (name, host, queue) and 4 histograms per (name, queue), until 20k.
  for (let n = 0; core.metrics.registry.totalSeries < SERIES; n++) {
    const name = `app.tasks.module_${n % 50}.task_${n}`;
    names.push(name);
    const nq = t.nameQueue(name, `queue-${n % 10}`);
    for (const h of hosts) {
      if (core.metrics.registry.totalSeries >= SERIES) break;
      const hs = t.host(name, h, `queue-${n % 10}`);
      t.countSent(hs); t.countReceived(hs); t.countStarted(hs); t.countSucceeded(hs);
      t.observeRuntime(nq, hs, 'succeeded', Math.random() * 10);
    }
    t.observeQueueWait(nq, 0.5); t.observePrefetchWait(nq, 0.1); t.observeLatency(nq, 2);
  }
  const now = Date.now() / 1000;
  for (let i = 0; i < TASKS; i++) {
    const r = core.state.tracker.getOrCreate(randomUUID(), Date.now());
    r.name = names[i % names.length];
    r.queue = `queue-${i % 10}`;
    r.hostname = hosts[i % hosts.length];
    r.sent = r.firstSent = now - 30 + Math.random();
    r.received = now - 20 + Math.random();
    if (i % 2 === 0) r.started = now - 10 + Math.random();
  }
  return core;
}

const dir = mkdtempSync(join(tmpdir(), 'state-bench-'));
try {
  const path = join(dir, 'state');
  const core = filledCore();
  const p = new StatePersister(core.metrics.registry, core, log, { path, fingerprint: fingerprint(core, {}), saveIntervalMs: 30_000, scrapeMinIntervalMs: 1000 });
  const times: number[] = [];
  const cpu: number[] = [];
  for (let i = 0; i < 7; i++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    if (!p.save('interval')) throw new Error('save failed');
    times.push(performance.now() - t0);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1000);
  }
  cpu.sort((a, b) => a - b);
  times.sort((a, b) => a - b);
  // Where a save's time goes: encoding (CPU) and writing (hash, write, fsync, rename).
  const enc: number[] = [];
  const wr: number[] = [];
  for (let i = 0; i < 5; i++) {
    let t0 = performance.now();
    const body = encodeSnapshot(core, Date.now());
    enc.push(performance.now() - t0);
    t0 = performance.now();
    writeStateFile(path, { fingerprint: 'x', savedAt: Date.now(), clean: false }, body);
    wr.push(performance.now() - t0);
  }
  enc.sort((a, b) => a - b);
  wr.sort((a, b) => a - b);
  p.save('interval');
  const size = statSync(path).size;
  const loads: number[] = [];
  let restored = 0;
  for (let i = 0; i < 3; i++) {
    const fresh = buildEventPath(cfg, log, { defaultMetrics: false });
    const t0 = performance.now();
    new StatePersister(fresh.metrics.registry, fresh, log, { path, fingerprint: fingerprint(fresh, {}), saveIntervalMs: 30_000, scrapeMinIntervalMs: 1000 }).load();
    loads.push(performance.now() - t0);
    restored = fresh.state.tracker.size;
  }
  loads.sort((a, b) => a - b);
  const out = {
    inFlightTasks: core.state.tracker.size,
    series: core.metrics.registry.totalSeries,
    fileBytes: size,
    fileMB: +(size / 1e6).toFixed(1),
    saveMsBest: +times[0]!.toFixed(0),
    saveMsMedian: +times[3]!.toFixed(0),
    // CPU time of the process during a save (GC threads included): robust to a busy machine.
    saveCpuMsMedian: +cpu[3]!.toFixed(0),
    encodeMsMedian: +enc[2]!.toFixed(0),
    writeMsMedian: +wr[2]!.toFixed(0),
    loadMsMedian: +loads[1]!.toFixed(0),
    restoredTasks: restored,
  };
  process.stdout.write(`${JSON.stringify({ ...out, loadAverage1m: +(await import('node:os')).loadavg()[0]!.toFixed(1) })}\n`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
