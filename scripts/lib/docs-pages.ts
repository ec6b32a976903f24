import { configurationReference } from './configuration-reference.js';
import { metricsReference } from './metrics-reference.js';

/** The docs pages with a generated part: (page, part name, what the part must hold). */
export const GENERATED_PAGES: ReadonlyArray<[file: string, part: string, content: () => string]> = [
  ['docs/configuration.md', 'flags', configurationReference],
  ['docs/metrics.md', 'families', metricsReference],
];
