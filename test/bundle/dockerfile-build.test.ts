import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, isAbsolute, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REDIS_DB, redisUrl } from '../helpers/brokers.js';
import { only, parseDockerfile, type Stage } from '../helpers/dockerfile.js';
import { ROOT } from '../helpers/exporter.js';
import { waitFor } from '../helpers/metrics.js';
import { spawnTracked, type Spawned } from '../helpers/processes.js';
import { freePort } from '../helpers/ports.js';

/**
 * There is no Docker engine here, so the Dockerfile is replayed as plain shell: each stage gets
 * its own directory standing for the image's filesystem; COPY copies from the build context (the
 * repository) or from an earlier stage's directory, RUN runs in WORKDIR with the stage's ENV.
 * The runtime stage's ENTRYPOINT is then started exactly as written (node substituted by this
 * Node.js), and its HEALTHCHECK command is run against it.
 */
const sh = promisify(execFile);
const stages = parseDockerfile();
const roots = new Map<string, string>();
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};
let finalRoot = '';
let workdir = '';
let env: Record<string, string> = {};
let exporter: Spawned | undefined;
let port = 0;

async function replay(stage: Stage): Promise<{ root: string; workdir: string; env: Record<string, string> }> {
  const root = mkdtempSync(join(tmpdir(), `dockerfile-${stage.name ?? 'final'}-`));
  let wd = root;
  const stageEnv: Record<string, string> = {};
  const inImage = (p: string) => (isAbsolute(p) ? join(root, p) : join(wd, p));
  for (const i of stage.instructions) {
    if (i.keyword === 'WORKDIR') {
      wd = join(root, i.args[0]!);
      mkdirSync(wd, { recursive: true });
    } else if (i.keyword === 'ENV') {
      for (const m of i.raw.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=("[^"]*"|\S+)/g)) stageEnv[m[1]!] = m[2]!.replace(/^"|"$/g, '');
    } else if (i.keyword === 'COPY') {
      const from = i.flags['from'];
      const srcRoot = from === undefined ? ROOT : roots.get(from)!;
      const dest = i.args.at(-1)!;
      for (const src of i.args.slice(0, -1)) {
        const s = join(srcRoot, src);
        const d = dest.endsWith('/') ? join(inImage(dest), src.split('/').pop()!) : inImage(dest);
        mkdirSync(dirname(d), { recursive: true });
        cpSync(s, d, { recursive: true });
      }
    } else if (i.keyword === 'RUN') {
      expect(i.exec, 'RUN in shell form').toBeUndefined();
      await sh('/bin/sh', ['-c', i.raw], {
        cwd: wd,
        // The cache is the only difference from a clean image build.
        env: { ...process.env, ...stageEnv, npm_config_prefer_offline: 'true' },
        timeout: 300_000,
        maxBuffer: 64 * 1024 * 1024,
      });
    }
  }
  return { root, workdir: wd, env: stageEnv };
}

describe('Dockerfile replayed as plain shell', () => {
  beforeAll(async () => {
    for (const s of stages) {
      const r = await replay(s);
      if (s.name !== undefined) roots.set(s.name, r.root);
      finalRoot = r.root;
      workdir = r.workdir;
      env = r.env;
    }
    port = await freePort();
    const [, script] = only(stages.at(-1)!, 'ENTRYPOINT')[0]!.exec!;
    exporter = spawnTracked(process.execPath, [script!, '--broker-url', redisUrl(REDIS_DB.bundle), '--host', '127.0.0.1'], {
      cwd: workdir,
      env: { PATH: process.env['PATH'] ?? '', ...env, CELERY_EXPORTER_PORT: String(port) },
    });
    await exporter.waitForOutput(/"msg":"listening"/, 20_000);
  }, 600_000);

  afterAll(async () => {
    await exporter?.stop();
    for (const d of [...roots.values(), finalRoot]) if (d) rmSync(d, { recursive: true, force: true });
  });

  it('the runtime stage holds the compiled exporter and production dependencies only', () => {
    expect(existsSync(join(workdir, 'dist', 'cli.js'))).toBe(true);
    const modules = readdirSync(join(workdir, 'node_modules'));
    for (const dep of Object.keys(pkg.dependencies)) expect(existsSync(join(workdir, 'node_modules', dep)), dep).toBe(true);
    for (const dev of Object.keys(pkg.devDependencies)) expect(existsSync(join(workdir, 'node_modules', dev)), dev).toBe(false);
    expect(modules).not.toContain('typescript');
    expect(readdirSync(workdir).sort()).toEqual(['dist', 'node_modules', 'package.json']);
  });

  it('starts from its ENTRYPOINT and serves metrics on the port from the environment', async () => {
    const url = `http://127.0.0.1:${port}`;
    await waitFor(() => fetch(`${url}/readyz`).then((r) => r.status), (s) => s === 200, { what: 'readyz' });
    const text = await (await fetch(`${url}/metrics`)).text();
    expect(text).toContain('celery_exporter_build_info{');
    expect(text).toContain('celery_exporter_broker_up 1');
  });

  it('its HEALTHCHECK passes while the exporter runs and fails once it is gone', async () => {
    const [, ...args] = only(stages.at(-1)!, 'HEALTHCHECK')[0]!.exec!;
    const check = () =>
      sh(process.execPath, args, { cwd: workdir, env: { ...env, CELERY_EXPORTER_PORT: String(port) }, timeout: 10_000 }).then(
        () => 0,
        (e: { code?: number }) => e.code ?? 1,
      );
    expect(await check()).toBe(0);
    await exporter!.stop();
    expect(await check()).toBe(1);
  });
});
