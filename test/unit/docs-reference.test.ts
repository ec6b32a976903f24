import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { GENERATED_PAGES } from '../../scripts/lib/docs-pages.js';
import { replaceGenerated } from '../../scripts/lib/generated.js';
import { metricFamilies } from '../../scripts/lib/metrics-reference.js';
import { escapeHelp } from '../../src/metrics/format.js';
import { ROOT } from '../helpers/exporter.js';

/**
 * The generated reference parts of docs/ (flags from src/config/options.ts, metric families from
 * the registry) are exactly what `npm run docs:generate` writes today, and the metric reference
 * agrees with the golden /metrics file of a real run.
 */
describe('generated docs', () => {
  for (const [file, part, content] of GENERATED_PAGES) {
    it(`${file} (${part}) matches its source`, () => {
      const page = readFileSync(join(ROOT, file), 'utf8');
      expect(replaceGenerated(page, part, content()), `${file} is stale: run npm run docs:generate`).toBe(page);
    });
  }

  it('docs/metrics.md documents every family of the golden file, with its type and help', () => {
    const golden = readFileSync(join(ROOT, 'test', 'golden', 'metrics.txt'), 'utf8').split('\n');
    const types = golden.filter((l) => l.startsWith('# TYPE ')).map((l) => l.split(' ').slice(2, 4) as [string, string]);
    expect(types.length).toBeGreaterThan(50);
    const families = new Map(metricFamilies().map((f) => [f.name, f]));
    const page = readFileSync(join(ROOT, 'docs', 'metrics.md'), 'utf8');
    for (const [name, type] of types) {
      expect(families.get(name)?.type, name).toBe(type);
      expect(golden, name).toContain(`# HELP ${name} ${escapeHelp(families.get(name)!.help)}`);
      expect(page, name).toContain(`| \`${name}\` | ${type} |`);
    }
  });

  it('every "docs/protocol.md §n" a comment cites is a section of docs/protocol.md', () => {
    const headings = new Set([...readFileSync(join(ROOT, 'docs', 'protocol.md'), 'utf8').matchAll(/^#{2,3} (\d+(?:\.\d+)?)\.? /gm)].map((m) => m[1]));
    const cited: string[] = [];
    for (const dir of ['src', 'test', 'bench']) {
      for (const e of readdirSync(join(ROOT, dir), { withFileTypes: true, recursive: true })) {
        if (!e.isFile() || !/\.(ts|py)$/.test(e.name)) continue;
        const text = readFileSync(join(e.parentPath, e.name), 'utf8');
        for (const m of text.matchAll(/docs\/protocol\.md ((?:§\d+(?:\.\d+)?(?:, )?)+)/g)) {
          for (const n of m[1]!.matchAll(/§(\d+(?:\.\d+)?)/g)) cited.push(n[1]!);
        }
      }
    }
    expect(cited.length).toBeGreaterThan(10);
    expect(cited.filter((n) => !headings.has(n))).toEqual([]);
  });
});
