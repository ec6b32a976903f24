import { ConfigError } from '../config/errors.js';
import { scrub } from '../config/secrets.js';

export const NAME = 'celery-prometheus-exporter';

/**
 * The one way bad configuration ends the program, for every command: one line on stderr,
 * password-free, exit status 2. Nothing has been written to stdout yet when it runs.
 */
export function configFailure(message: string): never {
  process.stderr.write(`${NAME}: ${scrub(message.split('\n').join(' ').trim())}\n`);
  process.exit(2);
}

/** Runs a config builder; its ConfigError ends the program through configFailure. */
export function orConfigFailure<T>(build: () => T): T {
  try {
    return build();
  } catch (err) {
    if (err instanceof ConfigError) configFailure(err.message);
    throw err;
  }
}
