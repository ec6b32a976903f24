/**
 * The bench's own redis-server on a free port (unless --redis or REDIS_URL names one), so a run
 * never writes to, or empties a database of, a Redis someone else uses. Stopped when the bench exits.
 *
 * Its pub/sub output-buffer limit is raised from Redis's default (32 MB at once): the bench measures
 * CPU per event, and a burst published faster than one core decodes it (burst-200k reached
 * 162k events/s on a quiet machine, about twice what the exporter decodes) would otherwise be cut
 * by Redis at the limit — the documented loss of docs/operations.md ("Events lost by a slow
 * exporter"), which test/integration/faults-redis.test.ts covers, not a cost. An operator expecting
 * such bursts raises the limit the same way.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './exporter-process.js';

export const BENCH_PUBSUB_LIMIT = 'pubsub 512mb 256mb 60';

export async function startOwnRedis(): Promise<{ url: string; stop(): void }> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'cpe-bench-redis-'));
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--client-output-buffer-limit', BENCH_PUBSUB_LIMIT];
  const child: ChildProcess = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const stop = () => {
    if (child.exitCode === null) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', stop);
  await new Promise<void>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`redis-server did not start: ${out}`)), 15_000);
    child.once('error', (err) => reject(new Error(`cannot start redis-server (apt-get install redis-server): ${err.message}`)));
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('Ready to accept connections')) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  return { url: `redis://127.0.0.1:${port}`, stop };
}
