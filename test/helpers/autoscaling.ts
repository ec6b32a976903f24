import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import { parse } from 'yaml';
import { ROOT } from './exporter.js';
import { closed, str } from './keda-schema.js';
import { loadManifests, type Manifest } from './kubernetes.js';

/** The queue the shipped autoscaling manifests name (Celery's default queue). */
export const MANIFEST_QUEUE = 'celery';

/** prometheus-adapter's external rules, reduced to the fields used (see scaledObjectErrors). */
export const ADAPTER_SCHEMA = closed(
  {
    externalRules: {
      type: 'array',
      minItems: 1,
      items: closed(
        {
          seriesQuery: str,
          resources: closed({ namespaced: { type: 'boolean' } }),
          name: closed({ matches: str, as: str }),
          metricsQuery: str,
        },
        ['seriesQuery', 'metricsQuery', 'name'],
      ),
    },
  },
  ['externalRules'],
);
const validateAdapter = new Ajv({ allErrors: true, strict: true }).compile(ADAPTER_SCHEMA);

export interface AdapterRule {
  seriesQuery: string;
  metricsQuery: string;
  name: { as: string };
}

export function adapterConfig(): { externalRules: AdapterRule[] } {
  const cm = loadManifests().find((m) => m.doc['kind'] === 'ConfigMap' && m.doc['metadata']['name'] === 'prometheus-adapter')!;
  return parse(cm.doc['data']['config.yaml'] as string) as { externalRules: AdapterRule[] };
}

export function adapterErrors(config: unknown): string[] {
  if (validateAdapter(config)) return [];
  return (validateAdapter.errors ?? []).map((e) => `${e.instancePath} ${e.message ?? ''}`);
}

export interface ScalerQuery {
  source: string;
  expr: string;
}

/**
 * Every PromQL query of the KEDA and HPA manifests, as the scaler runs it against `queue`: KEDA's
 * queries with the manifest's queue replaced, the adapter's templates filled the way
 * prometheus-adapter fills them for the HPA's selector (queue_name=…).
 */
export function scalerQueries(queue = MANIFEST_QUEUE): ScalerQuery[] {
  const out: ScalerQuery[] = [];
  const so = loadManifests().find((m) => m.doc['kind'] === 'ScaledObject')!;
  for (const [i, t] of (so.doc['spec']['triggers'] as Manifest[]).entries()) {
    out.push({ source: `keda trigger ${i + 1}`, expr: String(t['metadata']['query']).replaceAll(`queue_name="${MANIFEST_QUEUE}"`, `queue_name="${queue}"`) });
  }
  for (const r of adapterConfig().externalRules) {
    const series = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(r.seriesQuery)![0];
    const expr = r.metricsQuery
      .replaceAll('<<.Series>>', series)
      .replaceAll('<<.LabelMatchers>>', `queue_name="${queue}"`)
      .replaceAll('<<.GroupBy>>', 'queue_name');
    out.push({ source: `prometheus-adapter ${r.name.as}`, expr });
  }
  return out;
}

/** The HPA's external metric names must be the adapter's. */
export function hpaDoc(): Manifest {
  return loadManifests().find((m) => m.doc['kind'] === 'HorizontalPodAutoscaler')!.doc;
}

export const AUTOSCALING_DOC = join(ROOT, 'docs', 'autoscaling.md');
export const readAutoscalingDoc = () => readFileSync(AUTOSCALING_DOC, 'utf8');
