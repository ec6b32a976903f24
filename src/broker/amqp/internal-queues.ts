/**
 * Queues Celery and kombu create for themselves, not task queues: event receivers and gossip
 * (celeryev.<uuid>), remote-control mailboxes (<node>.celery.pidbox) and their reply queues
 * (<oid>.reply.celery.pidbox), and server-named queues (amq.gen-…). Discovery skips them.
 */
export function isInternalQueue(name: string): boolean {
  return name.startsWith('celeryev.') || name.endsWith('.pidbox') || name.startsWith('amq.');
}
