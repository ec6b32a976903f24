import { buildSources } from './build.js';

/**
 * Global setup of the unit tier: no broker, no external program. Some unit tests run the real
 * CLI (`--print-config`, argument errors), so src/ is compiled first when it changed.
 */
export function setup(): void {
  buildSources();
}
