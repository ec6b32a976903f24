import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { only, parseDockerfile } from '../helpers/dockerfile.js';
import { ROOT } from '../helpers/exporter.js';

/**
 * The Dockerfile's invariants (no Docker engine here to build it; the integration test
 * dockerfile-build.test.ts replays its stages as plain shell).
 */
const stages = parseDockerfile();
const build = stages.find((s) => s.name === 'build')!;
const final = stages.at(-1)!;
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { bin: Record<string, string>; engines: { node: string } };

describe('Dockerfile', () => {
  it('is multi-stage: a named build stage and a slim or distroless runtime stage', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    expect(build).toBeDefined();
    expect(final).not.toBe(build);
    expect(final.image).toMatch(/^(gcr\.io\/distroless\/nodejs\d+-debian\d+(:[a-z-]+)?|node:\d+[a-z0-9.-]*-slim)$/);
    expect(build.image).toMatch(/^node:\d+-[a-z]+-slim$/);
  });

  it('builds and runs on the same Node.js major, one the package supports', () => {
    const major = (img: string) => Number(/node(?:js)?:?(\d+)/.exec(img)?.[1]);
    expect(major(final.image)).toBe(major(build.image));
    // engines: "^20.19.0 || ^22.12.0 || >=24"
    const m = major(final.image);
    expect(m === 20 || m === 22 || m >= 24, pkg.engines.node).toBe(true);
  });

  it('installs from the lockfile and ships production dependencies only', () => {
    const runs = only(build, 'RUN').map((r) => r.raw);
    expect(runs.some((r) => /\bnpm ci\b/.test(r))).toBe(true);
    expect(runs.some((r) => /\bnpm prune --omit=dev\b/.test(r))).toBe(true);
    expect(only(build, 'COPY').flatMap((c) => c.args)).toEqual(expect.arrayContaining(['package.json', 'package-lock.json', 'src']));
    // The runtime stage runs nothing and copies only build outputs from the build stage.
    expect(only(final, 'RUN')).toEqual([]);
    const copies = only(final, 'COPY');
    for (const c of copies) expect(c.flags['from']).toBe('build');
    expect(copies.map((c) => c.args[0]).sort()).toEqual(['/app/dist', '/app/node_modules', '/app/package.json']);
    expect(only(final, 'ENV').map((e) => e.raw)).toContain('NODE_ENV=production');
  });

  it('runs as a numeric non-root user', () => {
    const users = only(final, 'USER');
    expect(users).toHaveLength(1);
    const [uid, gid] = users[0]!.args[0]!.split(':');
    expect(uid).toMatch(/^\d+$/);
    expect(Number(uid)).toBeGreaterThan(0);
    if (gid !== undefined) expect(Number(gid)).toBeGreaterThan(0);
  });

  it('exposes 8888 and starts `node dist/cli.js` in exec form, the package’s own command', () => {
    expect(only(final, 'EXPOSE').flatMap((e) => e.args)).toEqual(['8888']);
    const entry = only(final, 'ENTRYPOINT');
    expect(entry).toHaveLength(1);
    expect(entry[0]!.exec).toBeDefined();
    const [node, script, ...rest] = entry[0]!.exec!;
    expect(node).toMatch(/(^|\/)node$/);
    expect(script).toBe(pkg.bin['celery-prometheus-exporter']);
    expect(rest).toEqual([]);
    // Flags given to `docker run image …` are appended: no CMD that would replace them silently.
    expect(only(final, 'CMD')).toEqual([]);
    expect(only(final, 'WORKDIR').at(-1)!.args[0]).toBe('/app');
  });

  it('has an exec-form HEALTHCHECK on /healthz (the image has no shell)', () => {
    const hc = only(final, 'HEALTHCHECK');
    expect(hc).toHaveLength(1);
    expect(hc[0]!.raw.trimStart().startsWith('CMD [')).toBe(true);
    expect(hc[0]!.exec?.join(' ')).toContain('/healthz');
    expect(hc[0]!.exec?.[0]).toBe(only(final, 'ENTRYPOINT')[0]!.exec![0]);
    expect(hc[0]!.flags).toMatchObject({ interval: expect.any(String), timeout: expect.any(String) });
  });

  it('keeps the build context small: .dockerignore excludes what is never copied, not what is', () => {
    const ignored = readFileSync(join(ROOT, '.dockerignore'), 'utf8')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l !== '' && !l.startsWith('#'));
    expect(ignored).toEqual(expect.arrayContaining(['node_modules', 'dist', '.git']));
    const copied = only(build, 'COPY').flatMap((c) => c.args.slice(0, -1));
    for (const c of copied) expect(ignored, c).not.toContain(c);
  });
});
