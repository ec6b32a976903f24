import type { Logger } from '../log.js';
import { Counter } from '../metrics/counter.js';
import { Gauge, type GaugeChild } from '../metrics/gauge.js';
import type { MetricRegistry } from '../metrics/registry.js';
import { applySnapshot, checkSnapshot, encodeSnapshot, SnapshotError, type SnapshotParts } from './snapshot.js';
import { moveAside, readStateFile, removeStateFile, writeStateFile } from './state-file.js';

export interface PersisterOptions {
  path: string;
  fingerprint: string;
  saveIntervalMs: number;
  /** Least time between two saves caused by scrapes. */
  scrapeMinIntervalMs: number;
}

/**
 * Loads the state file at start and keeps it current: every interval, after every scrape and at
 * shutdown.
 *
 * The guarantee (Prometheus reads any decrease of a counter as a reset, so a restored counter
 * lower than a value it already scraped would be counted again): a scrape's response ends only
 * after a save that started once the scrape's body was fully rendered has reached the disk. So
 * every value Prometheus accepted is <= the one in the file, whatever ends the process (a
 * scrape cut short by a crash is a failed scrape: nothing of it is stored). Scrape saves are at
 * least scrapeMinIntervalMs apart: a scrape inside that window waits for the next one (a few
 * scrapes share it). If a save fails, the file is removed: the next start then begins from
 * zero rather than below what was served.
 */
/**
 * Least time between two saves asked for by the event queue's acknowledgements (requestSave):
 * bounds the saves a flood of events causes to 4 a second, whatever the prefetch window.
 */
const ACK_SAVE_MIN_GAP_MS = 250;

export class StatePersister {
  private lastSave = -Infinity;
  private readonly savedListeners: Array<() => void> = [];
  private ackSave: NodeJS.Timeout | undefined;
  private waiters: Array<() => void> = [];
  private pending: NodeJS.Timeout | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private failing = false;
  private readonly saves: { success: { inc(): void }; failure: { inc(): void } };
  private readonly duration: GaugeChild;
  private readonly bytes: GaugeChild;
  private readonly lastSuccess: GaugeChild;

  constructor(
    /** Where the persister's own families go, and what is saved and restored. */
    registry: Pick<MetricRegistry, 'register'>,
    private readonly parts: SnapshotParts,
    private readonly log: Logger,
    private readonly opts: PersisterOptions,
    private readonly now: () => number = Date.now,
  ) {
    const reg = registry;
    const saves = reg.register(
      new Counter({ name: 'celery_exporter_state_saves_total', help: 'Saves of --state-file, by result.', labelNames: ['result'] }),
    );
    this.saves = { success: saves.labels('success'), failure: saves.labels('failure') };
    const gauge = (name: string, help: string) => reg.register(new Gauge({ name, help })).labels();
    this.duration = gauge('celery_exporter_state_save_duration_seconds', 'Time the last save of --state-file took (snapshot, encoding, write, fsync, rename).');
    this.bytes = gauge('celery_exporter_state_file_bytes', 'Size of --state-file after the last successful save.');
    this.lastSuccess = gauge('celery_exporter_state_last_save_timestamp_seconds', 'Unix time of the last successful save of --state-file.');
  }

  /**
   * Restores the saved state into the (still empty) state and families; never throws. Returns the Unix time (ms)
   * the restored state was saved at, undefined when nothing was restored.
   */
  load(): number | undefined {
    const path = this.opts.path;
    const r = readStateFile(path, this.opts.fingerprint);
    if (r.kind === 'missing') {
      this.log.info({ stateFile: path }, 'no state file yet: first start, counters begin at 0');
      return undefined;
    }
    let reason: string;
    let incompatible = false;
    if (r.kind === 'ok') {
      try {
        const snap = checkSnapshot(this.parts, r.body);
        const nowMs = this.now();
        const restored = applySnapshot(this.parts, snap, nowMs);
        this.log.info(
          { stateFile: path, ...restored, savedAt: new Date(r.header.savedAt).toISOString(), ageSeconds: Math.round((nowMs - r.header.savedAt) / 1000), cleanShutdown: r.header.clean },
          'state restored: counters continue from the saved values',
        );
        return r.header.savedAt;
      } catch (err) {
        if (!(err instanceof SnapshotError)) throw err;
        reason = `has an invalid ${err.message}`;
      }
    } else {
      reason = r.reason;
      incompatible = r.incompatible;
    }
    const movedTo = moveAside(path);
    this.log.warn(
      { stateFile: path, movedTo: movedTo ?? 'could not be moved', reason },
      `state file ${reason}; ignored, starting clean${incompatible ? ' (the saved state would not mean the same under this configuration)' : ''}`,
    );
    return undefined;
  }

  start(): void {
    this.timer = setInterval(() => {
      if (this.now() - this.lastSave >= this.opts.saveIntervalMs * 0.9) this.save('interval');
    }, this.opts.saveIntervalMs);
    this.timer.unref();
  }

  /** Resolves once a save that started after this call is on disk (see the class comment). */
  afterScrape(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    const wait = this.lastSave + this.opts.scrapeMinIntervalMs - this.now();
    if (wait <= 0 && this.pending === undefined) {
      this.save('scrape');
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      this.waiters.push(resolve);
      this.pending ??= setTimeout(() => {
        this.pending = undefined;
        this.save('scrape');
      }, Math.max(0, wait));
    });
  }

  /** `cb` runs synchronously after each successful save (the event queue acknowledges what it holds). */
  onSaved(cb: () => void): void {
    this.savedListeners.push(cb);
  }

  /** A save soon, at most every ACK_SAVE_MIN_GAP_MS: deliveries wait for it to be acknowledged. */
  requestSave(): void {
    if (this.stopped || this.ackSave !== undefined) return;
    const wait = Math.max(0, this.lastSave + ACK_SAVE_MIN_GAP_MS - this.now());
    this.ackSave = setTimeout(() => {
      this.ackSave = undefined;
      if (!this.stopped) this.save('acks');
    }, wait);
  }

  /** The final save, once nothing is counted or served any more. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.timer);
    clearTimeout(this.ackSave);
    clearTimeout(this.pending);
    this.pending = undefined;
    this.save('shutdown');
  }

  /** Saves now (synchronously); true on success. */
  save(reason: 'interval' | 'scrape' | 'acks' | 'shutdown'): boolean {
    const waiters = this.waiters;
    this.waiters = [];
    const started = performance.now();
    const nowMs = this.now();
    this.lastSave = nowMs;
    let ok = false;
    try {
      const body = encodeSnapshot(this.parts, nowMs);
      const size = writeStateFile(this.opts.path, { fingerprint: this.opts.fingerprint, savedAt: nowMs, clean: reason === 'shutdown' }, body);
      this.bytes.set(size);
      this.lastSuccess.set(nowMs / 1000);
      this.saves.success.inc();
      ok = true;
      if (this.failing) this.log.info({ stateFile: this.opts.path }, 'state file saved again');
      this.failing = false;
      if (reason === 'shutdown') this.log.info({ stateFile: this.opts.path, bytes: size, tasks: this.parts.state.tracker.size }, 'state saved for the next start');
    } catch (err) {
      this.saves.failure.inc();
      // An older file would restore counters below values served since: remove it.
      const removed = removeStateFile(this.opts.path);
      if (!this.failing || reason === 'shutdown') {
        this.log.error(
          { stateFile: this.opts.path, err: (err as Error).message, olderFileRemoved: removed },
          removed
            ? 'state file could not be saved; removed the older one, so a restart now begins from zero (logged once until a save succeeds)'
            : 'state file could not be saved nor removed: a restart may restore counters below values already scraped',
        );
      }
      this.failing = true;
    }
    this.duration.set((performance.now() - started) / 1000);
    if (ok) for (const cb of this.savedListeners) cb();
    for (const w of waiters) w();
    return ok;
  }
}
