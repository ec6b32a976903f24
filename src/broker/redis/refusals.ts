/**
 * One sentence saying what to fix when Redis refuses what the event subscription needs: without
 * it no event ever arrives, so the subscriber stays not ready and logs this once.
 */

/** What to fix when Redis refuses the database of the broker URL. */
export function refusedSelect(db: number, user: string | undefined, reply: string): string {
  if (/^NOPERM/.test(reply)) return `Redis refused SELECT ${db} (${reply}): grant the user ${JSON.stringify(user ?? 'default')} +select, as Celery needs it too`;
  return `Redis refused database ${db} (${reply}): the server has fewer databases (its "databases" setting); fix the /${db} at the end of the broker URL`;
}

/** What to fix when Redis refuses the event subscription (ACLs). */
export function refusedSubscribe(patterns: readonly string[], user: string | undefined, reply: string): string {
  if (!/^NOPERM/.test(reply)) return `PSUBSCRIBE failed: ${reply}`;
  const name = user ?? 'default';
  const grant = patterns.map((p) => `'&${p}'`).join(' ');
  return `Redis refused PSUBSCRIBE to the event channels (${reply}): allow the user ${JSON.stringify(name)} the command and the channels, e.g. ACL SETUSER ${name} +psubscribe ${grant}`;
}
