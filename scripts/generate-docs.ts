import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { GENERATED_PAGES } from './lib/docs-pages.js';
import { replaceGenerated } from './lib/generated.js';
import { ROOT } from './lib/root.js';

/**
 * `npm run docs:generate`: rewrites the generated reference parts of docs/configuration.md (from
 * the option table) and docs/metrics.md (from the metric registry). The prose around them is
 * kept. test/unit/docs-reference.test.ts fails when a committed page differs from this output.
 */
for (const [file, part, content] of GENERATED_PAGES) {
  const path = join(ROOT, file);
  const before = readFileSync(path, 'utf8');
  const after = replaceGenerated(before, part, content());
  if (after !== before) writeFileSync(path, after);
  console.log(`${file}: ${after === before ? 'up to date' : 'rewritten'}`);
}
