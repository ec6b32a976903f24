import type { Config } from '../config/config.js';
import { scrub } from '../config/secrets.js';
import { createTransport } from '../daemon.js';
import { createLogger } from '../log.js';
import { EventLog, type EventFilters } from './event-log.js';

/**
 * `events`: the live event stream, one line per event, for finding out why a metric stays at
 * zero. Uses the daemon's transport and decoder; writes nothing to the broker. Runs until
 * SIGINT/SIGTERM.
 */
export async function runEvents(cfg: Config, logLevel: string, filters: EventFilters, json: boolean): Promise<number> {
  const broker = cfg.broker;
  const log = createLogger(logLevel, 'pretty');
  const sink = new EventLog(filters, (line) => process.stdout.write(`${line}\n`), json);
  let stopping = false;
  // Always a queue of its own: consuming an exporter's --event-queue-name queue would take (and
  // acknowledge) the events waiting there for that exporter.
  const own = { ...cfg, amqp: { ...cfg.amqp, durableEventQueue: undefined } };
  const transport = createTransport(
    own,
    {
      pipeline: sink,
      onReadyChange: (ready, reason) => {
        if (stopping) return;
        const what = ready ? `listening for events on ${broker.url.masked} (Ctrl-C stops)` : `not receiving events: ${reason}`;
        process.stderr.write(`${scrub(what)}\n`);
      },
    },
    log,
  );
  transport.start();
  const timer = setInterval(() => {
    if (sink.invalid.size === 0) return;
    const parts = [...sink.invalid].map(([r, n]) => `${n} ${r}`);
    sink.invalid.clear();
    process.stderr.write(`skipped messages that are not readable events: ${parts.join(', ')}\n`);
  }, 10_000);
  timer.unref();
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  clearInterval(timer);
  stopping = true;
  await Promise.race([transport.stop(), new Promise((r) => setTimeout(r, 3000))]);
  return 0;
}
