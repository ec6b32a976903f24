import { appendFileSync, existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { uid } from './ids.js';

/**
 * Secrets the tests hand to the exporter (broker passwords). Every process the tests spawn
 * writes its output under CPE_TEST_LOG_DIR; the global teardown scans all of it for these, so a
 * password reaching any log line in the whole suite fails the run.
 */
export function testSecret(label: string): string {
  const secret = `${label}-S3cr3t-${uid()}`;
  const dir = process.env['CPE_TEST_LOG_DIR'];
  if (dir !== undefined) appendFileSync(join(dir, 'secrets.txt'), `${secret}\n`);
  return secret;
}

/** Files under the log dir that contain a registered secret, with the offending line (secret masked). */
export function findLeakedSecrets(dir: string): string[] {
  const secretsFile = join(dir, 'secrets.txt');
  if (!existsSync(secretsFile)) return [];
  const secrets = readFileSync(secretsFile, 'utf8').split('\n').filter((s) => s !== '');
  const leaks: string[] = [];
  for (const f of readdirSync(dir)) {
    if (!f.endsWith('.log')) continue;
    const lines = readFileSync(join(dir, f), 'utf8').split('\n');
    for (const line of lines) {
      const hit = secrets.find((s) => line.includes(s));
      if (hit !== undefined) leaks.push(`${f}: ${line.split(hit).join('<SECRET>').slice(0, 300)}`);
    }
  }
  return leaks;
}
