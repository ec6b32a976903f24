import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root: the nearest directory above this file holding our package.json (works from scripts/ and scripts/dist/). */
function findRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    dir = dirname(dir);
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string };
      if (pkg.name === 'celery-prometheus-exporter') return dir;
    } catch {
      // keep looking upwards
    }
  }
  throw new Error('repository root not found');
}

export const ROOT = findRoot();
