import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { parse, stringify } from 'yaml';
import { ROOT } from './exporter.js';
import { spawnTracked, type Spawned } from './processes.js';
import { freePort } from './ports.js';

export const PROMETHEUS_BIN = process.env['PROMETHEUS_BIN'] ?? '/usr/bin/prometheus';
export const EXAMPLE_CONFIG = join(ROOT, 'prometheus', 'prometheus.yml');

export interface Prometheus extends Spawned {
  url: string;
  /** GET /api/v1/<path> with query parameters; throws unless status is "success". */
  api<T = unknown>(path: string, params?: Record<string, string | string[]>): Promise<T>;
  cleanup(): Promise<void>;
}

/**
 * Starts a real Prometheus (Debian's package) on a free port with a temporary storage dir, using
 * the repository's example configuration: same jobs and rule files, with the intervals shortened
 * and the `celery` job's target replaced by `target` (several: replicas of one exporter). `extraJobs`
 * adds scrape jobs by name (test/e2e/replicas-proof.test.ts: a single replica's job beside the pair).
 */
export async function startPrometheus(target: string | string[], interval = '1s', extraJobs: Record<string, string[]> = {}): Promise<Prometheus> {
  const dir = mkdtempSync(join(tmpdir(), 'celery-prometheus-'));
  const config = parse(readFileSync(EXAMPLE_CONFIG, 'utf8')) as {
    global: Record<string, string>;
    rule_files: string[];
    scrape_configs: Array<{ job_name: string; static_configs: Array<{ targets: string[] }> }>;
  };
  config.global['scrape_interval'] = interval;
  config.global['evaluation_interval'] = interval;
  config.rule_files = config.rule_files.map((f) => (isAbsolute(f) ? f : join(ROOT, 'prometheus', f)));
  const job = config.scrape_configs.find((j) => j.job_name === 'celery');
  if (!job) throw new Error('prometheus/prometheus.yml has no job named celery');
  job.static_configs = [{ targets: Array.isArray(target) ? target : [target] }];
  for (const [name, targets] of Object.entries(extraJobs)) config.scrape_configs.push({ job_name: name, static_configs: [{ targets }] });
  writeFileSync(join(dir, 'prometheus.yml'), stringify(config));
  const port = await freePort();
  const p = spawnTracked(PROMETHEUS_BIN, [
    `--config.file=${join(dir, 'prometheus.yml')}`,
    `--storage.tsdb.path=${join(dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${port}`,
    '--log.level=warn',
  ]);
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (p.proc.exitCode !== null) throw new Error(`prometheus exited: ${p.output().slice(-2000)}`);
    try {
      if ((await fetch(`${url}/-/ready`)).ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`prometheus not ready: ${p.output().slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  return Object.assign(p, {
    url,
    async api<T>(path: string, params: Record<string, string | string[]> = {}): Promise<T> {
      const qs = new URLSearchParams();
      for (const [k, v] of Object.entries(params)) for (const x of Array.isArray(v) ? v : [v]) qs.append(k, x);
      const res = await fetch(`${url}/api/v1/${path}?${qs.toString()}`);
      const body = (await res.json()) as { status: string; data: T; error?: string; errorType?: string };
      if (body.status !== 'success') throw new Error(`${path} ${JSON.stringify(params)}: ${body.errorType}: ${body.error}`);
      return body.data;
    },
    async cleanup() {
      await p.stop(10_000);
      rmSync(dir, { recursive: true, force: true });
    },
  });
}
