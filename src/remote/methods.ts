/** Read-only `celery inspect` methods the `inspect` subcommand offers (celery/worker/control.py). */
export const INSPECT_METHODS = [
  'ping',
  'stats',
  'active',
  'reserved',
  'scheduled',
  'registered',
  'active_queues',
  'conf',
  'revoked',
  'clock',
  'report',
] as const;
export type InspectMethod = (typeof INSPECT_METHODS)[number];

/** Control commands the `control` subcommand offers. */
export const CONTROL_METHODS = ['enable_events', 'disable_events'] as const;
export type ControlMethod = (typeof CONTROL_METHODS)[number];

/**
 * The `arguments` Celery's own CLI sends when the command line gives none
 * (`_compile_arguments` in celery/bin/control.py): only variadic handlers get an empty list.
 */
export function cliArguments(method: string): Record<string, unknown> {
  switch (method) {
    case 'registered':
      return { taskinfoitems: [] };
    default:
      return {};
  }
}
