import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { functionSizes, functionSizesOf, lineCount, sourceFiles } from '../helpers/code-size.js';
import { importViolations } from '../helpers/import-rules.js';

/**
 * The architecture rules of CONTRIBUTING.md and docs/architecture.md, checked on every run:
 * the import layers and no cycles (.dependency-cruiser.cjs), small files and small functions.
 * Alone: `npx vitest run test/unit/architecture.test.ts`.
 */
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const MAX_FILE_LINES = 300;
const MAX_FUNCTION_LINES = 60;

describe('architecture', () => {
  it('src/ follows the import rules of .dependency-cruiser.cjs (layers, no file or folder cycle)', async () => {
    const violations = await importViolations(ROOT);
    const report = violations.map((v) => `  ${v}`).join('\n');
    expect(violations, `${violations.length} import rule violation(s):\n${report}\n`).toEqual([]);
  }, 60_000);

  it(`no file of src/ is over ${MAX_FILE_LINES} lines`, () => {
    const long = sourceFiles(ROOT, 'src')
      .map((file) => ({ file, lines: lineCount(readFileSync(join(ROOT, file), 'utf8')) }))
      .filter(({ lines }) => lines > MAX_FILE_LINES)
      .map(({ file, lines }) => `  ${file}: ${lines} lines`);
    expect(long, `files over ${MAX_FILE_LINES} lines (split them by what they hold):\n${long.join('\n')}\n`).toEqual([]);
  });

  it(`no function, method or callback of src/ is over ${MAX_FUNCTION_LINES} lines`, () => {
    const long = sourceFiles(ROOT, 'src')
      .flatMap((file) => functionSizes(ROOT, file))
      .filter(({ lines }) => lines > MAX_FUNCTION_LINES)
      .map(({ file, line, name, lines }) => `  ${file}:${line} ${name}: ${lines} lines`);
    expect(long, `functions over ${MAX_FUNCTION_LINES} lines:\n${long.join('\n')}\n`).toEqual([]);
  });
});

describe('the import rules', () => {
  it('catch a layer broken, a file cycle, remote importing broker, a folder cycle and a file outside the layers', async () => {
    const violations = await importViolations(join(ROOT, 'test', 'fixtures', 'architecture'), ROOT);
    expect(violations).toEqual([
      'every-file-in-a-layer-imports: src/stray.ts imports src/state/a.ts',
      'layer-2-metrics: src/metrics/family.ts imports src/http/page.ts',
      'layer-6-remote-not-broker: src/remote/client.ts imports src/broker/mailbox.ts',
      'no-circular: src/state/a.ts → src/state/b.ts → src/state/a.ts',
      [
        'no-circular-folders: src/broker → src/remote → src/broker',
        '      src/broker → src/remote: src/broker/mailbox.ts imports src/remote/protocol.ts',
        '      src/remote → src/broker ← against the layers: src/remote/client.ts imports src/broker/mailbox.ts',
      ].join('\n'),
    ]);
  }, 60_000);
});

describe('the size measurement', () => {
  const body = (lines: number): string => Array.from({ length: lines - 2 }, (_, i) => `  step(${i});`).join('\n');

  it('counts lines as wc -l does', () => {
    expect(lineCount('a\nb\n')).toBe(2);
    expect(lineCount('a\nb')).toBe(2);
  });

  it('measures a function body from its { to its }, and names methods by their class', () => {
    const text = `class Poller {\n  poll(): void {\n${body(61)}\n  }\n}\nfunction short() {\n  return 1;\n}\n`;
    const sizes = functionSizesOf('x.ts', text).map(({ name, lines, line }) => [name, lines, line]);
    expect(sizes).toEqual([['Poller.poll', 61, 2], ['short', 3, 64]]);
  });

  it('counts an arrow function passed as a callback as a function of its own, inside its outer one', () => {
    const text = `export function outer(items: number[]): void {\n  items.forEach((item) => {\n${body(61)}\n  });\n}\n`;
    const sizes = functionSizesOf('x.ts', text).map(({ name, lines }) => [name, lines]);
    expect(sizes).toEqual([['outer', 63], ['callback of items.forEach(…)', 61]]);
  });
});
