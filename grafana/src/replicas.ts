/**
 * Two exporter replicas may watch the same broker (docs/deployment.md): both count every event, so
 * Prometheus holds each celery_* series twice, differing only in the target labels `instance` and
 * `pod`. Every dashboard query reads each such series through `max without (instance, pod)` — of
 * the per-replica rate() for counters and histogram buckets (a counter is rated within one process,
 * never across two), of the value for gauges — so one replica or two draw the same panels. The
 * exporter's own series (celery_exporter_*) stay per instance: the Exporter dashboard shows each
 * replica. test/e2e/replicas-proof.test.ts evaluates every query against two real replicas.
 */
import type { Json } from './lib.js';

export const REPLICA_DEDUP = 'max without (instance, pod)';

/** `fn(celery_x{…}[w])` (a range function of a selector) or a bare `celery_x{…}` selector. */
const SELECTOR = /(\w+)\((celery_(?!exporter_)[a-z_]+\{[^}]*\}\[[^\]]+\])\)|(celery_(?!exporter_)[a-z_]+\{[^}]*\})(?!\[)/g;

/** The expression with every celery_* selector (or its range function) deduplicated across replicas. */
export function deduplicateReplicas(expr: string): string {
  return expr.replace(SELECTOR, (_m, fn: string | undefined, ranged: string | undefined, bare: string | undefined) =>
    fn !== undefined ? `${REPLICA_DEDUP} (${fn}(${ranged}))` : `${REPLICA_DEDUP} (${bare})`,
  );
}

type Obj = { [k: string]: Json | undefined };
const isObj = (j: Json | undefined): j is Obj => typeof j === 'object' && j !== null && !Array.isArray(j);

/** The dashboard with every panel target's `expr` deduplicated (rows' nested panels included). */
export function replicaSafe(dashboard: Json): Json {
  if (!isObj(dashboard)) return dashboard;
  const panel = (p: Json): Json => {
    if (!isObj(p)) return p;
    const out: Obj = { ...p };
    if (Array.isArray(p['targets'])) {
      out['targets'] = p['targets'].map((t) => (isObj(t) && typeof t['expr'] === 'string' ? { ...t, expr: deduplicateReplicas(t['expr']) } : t));
    }
    if (Array.isArray(p['panels'])) out['panels'] = p['panels'].map(panel);
    return out;
  };
  return { ...dashboard, panels: Array.isArray(dashboard['panels']) ? dashboard['panels'].map(panel) : dashboard['panels'] };
}
