/**
 * Read coalescing, shared by both event transports (redis/event-session.ts and
 * amqp/delivery-reader.ts).
 *
 * At a steady rate a subscriber that handles the socket whenever it is readable does so for every
 * few messages: each time a read(2), a Buffer, the parser's setup and callbacks (on amqplib also a
 * nextTick and a 'readable' emit). Once a read comes back short (we are caught up), the reader
 * stops handling reads for COALESCE_MS: Node still reads what arrives into the stream's buffer
 * until its high-water mark (16 KiB), then stops reading and the kernel's socket buffer and the
 * broker (Redis's output buffer, RabbitMQ's queue) hold the rest; when the pause ends the reader
 * goes on (RabbitMQ: everything gathered in one read; Redis: see event-session.ts). Nothing is
 * lost. The cost is that an event reaches the metrics later: up to COALESCE_MS on RabbitMQ, up to
 * about 16 × COALESCE_MS on Redis at a few hundred messages a second; nothing next to a scrape
 * interval.
 *
 * A pause never follows a long read: a long read means a backlog is waiting, and pausing then
 * let Redis close the subscriber on a 200k burst in 2 of 5 runs (its output-buffer limit).
 *
 * Measured at 20k events/s (npm run bench, steady-20k), CPU µs/event: Redis 4 ms 5.6 (mean of
 * 5 runs) vs 16 ms 4.85 (3 runs); RabbitMQ without coalescing 22.7 (47,298 voluntary context
 * switches in the run) vs Redis with it 19.05 (5,968), same run — see docs/benchmarks.md.
 */
export const COALESCE_MS = 16;
/** A read shorter than this is "short": we are caught up. */
export const COALESCE_BELOW_BYTES = 16 * 1024;
