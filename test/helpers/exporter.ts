import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnTracked, type Spawned } from './processes.js';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const CLI = join(ROOT, 'dist', 'cli.js');

export interface Exporter extends Spawned {
  port: number;
  url: string;
  metrics(): Promise<string>;
}

/** Runs the built daemon (dist/cli.js) as its own process on a free port; waits until it listens. */
export async function startExporter(args: string[], env: Record<string, string> = {}): Promise<Exporter> {
  const p = spawnTracked(process.execPath, [CLI, '--port', '0', '--host', '127.0.0.1', ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
  });
  const m = await p.waitForOutput(/"port":(\d+)[^\n]*"msg":"listening"/, 20_000);
  const port = Number(m[1]);
  const url = `http://127.0.0.1:${port}`;
  return Object.assign(p, {
    port,
    url,
    async metrics() {
      const res = await fetch(`${url}/metrics`);
      if (!res.ok) throw new Error(`/metrics answered ${res.status}`);
      return res.text();
    },
  });
}
