import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { adapterConfig, adapterErrors, hpaDoc, readAutoscalingDoc, scalerQueries } from '../helpers/autoscaling.js';
import { ROOT } from '../helpers/exporter.js';
import { scaledObjectErrors } from '../helpers/keda-schema.js';
import { loadManifests, schemaErrors } from '../helpers/kubernetes.js';
import { promtool } from '../helpers/promtool.js';
import { recordingRules } from '../helpers/rules.js';

/**
 * deploy/kubernetes/keda/ and hpa/: schema-valid (KEDA: a closed schema of the fields used; HPA:
 * kubernetes-models), commented field by field, every query valid PromQL reading metrics and records
 * this repository ships. That the queries return data for a real workload is proven in
 * test/integration/prometheus-proof.test.ts.
 */
const so = loadManifests().find((m) => m.doc['kind'] === 'ScaledObject')!;
const tmp: string[] = [];
afterAll(() => {
  for (const d of tmp) rmSync(d, { recursive: true, force: true });
});

describe('autoscaling manifests', () => {
  it('KEDA: two Prometheus triggers, scale to zero behind an activation threshold', () => {
    const spec = so.doc['spec'];
    expect(spec['minReplicaCount']).toBe(0);
    expect(spec['triggers']).toHaveLength(2);
    for (const t of spec['triggers']) {
      expect(t['type']).toBe('prometheus');
      expect(t['metadata']['activationThreshold']).toMatch(/^\d+$/);
      expect(t['metadata']['ignoreNullValues']).toBe('false');
    }
    expect(spec['triggers'][0]['metadata']['query']).toContain('queue:celery_queue_backlog:sum');
    expect(spec['triggers'][1]['metadata']['query']).toContain('celery_queue_oldest_pending_age_seconds');
  });

  it('KEDA: the schema check catches a misplaced field, a numeric threshold and a missing query', () => {
    expect(scaledObjectErrors(so.doc)).toEqual([]);
    const bad = structuredClone(so.doc);
    bad['spec']['minReplicas'] = 0;
    bad['spec']['triggers'][0]['metadata']['threshold'] = 16;
    delete bad['spec']['triggers'][1]['metadata']['query'];
    const errors = scaledObjectErrors(bad).join('\n');
    expect(errors).toMatch(/minReplicas/);
    expect(errors).toMatch(/triggers\/0\/metadata\/threshold must be string/);
    expect(errors).toMatch(/triggers\/1\/metadata must have required property 'query'/);
  });

  it('HPA: valid autoscaling/v2, its external metrics served by the adapter rules', () => {
    const hpa = hpaDoc();
    expect(schemaErrors(hpa)).toEqual([]);
    const config = adapterConfig();
    expect(adapterErrors(config)).toEqual([]);
    const served = config.externalRules.map((r) => r.name.as).sort();
    const used = (hpa['spec']['metrics'] as Array<Record<string, any>>).map((m) => m['external']['metric']['name'] as string).sort();
    expect(used).toEqual(served);
    expect(hpa['spec']['scaleTargetRef']).toEqual(so.doc['spec']['scaleTargetRef']);
  });

  it('comment every field of the ScaledObject', () => {
    const text = readFileSync(join(ROOT, so.file), 'utf8').split('\n');
    const uncommented: string[] = [];
    for (let i = 0; i < text.length; i++) {
      const m = /^\s*(- )?([a-zA-Z.\/-]+):/.exec(text[i]!);
      if (m === null) continue;
      // A comment on the line above (or above the list item), or at the end of the line.
      const above = text[i - 1]!.trim();
      const ok = above.startsWith('#') || text[i]!.includes(' # ') || (m[1] === undefined && /^\s*- /.test(text[i - 1]!) && text[i - 1]!.includes(' # '));
      if (!ok) uncommented.push(`${i + 1}: ${text[i]!.trim()}`);
    }
    expect(uncommented).toEqual([]);
  });

  it('every scaler query is valid PromQL, reading only metrics and records the repository ships', async () => {
    const queries = scalerQueries();
    expect(queries.length).toBe(4);
    const dir = mkdtempSync(join(tmpdir(), 'celery-scaler-'));
    tmp.push(dir);
    const file = join(dir, 'scaler.rules.yml');
    writeFileSync(file, stringify({ groups: [{ name: 'scaler', rules: queries.map((q, i) => ({ record: `scaler:query_${i}:value`, expr: q.expr })) }] }));
    const r = await promtool(['check', 'rules', file]);
    expect(r.output).not.toMatch(/FAILED|error/i);
    expect(r.code).toBe(0);
    const records = new Set(recordingRules().map((x) => x.record));
    const golden = readFileSync(join(ROOT, 'test', 'golden', 'metrics.txt'), 'utf8');
    for (const q of queries) {
      for (const name of q.expr.match(/[a-z_]+:[a-z_]+:[a-z0-9_]+|celery_[a-z_]+/g) ?? []) {
        if (name.includes(':')) expect(records, `${q.source}: ${name}`).toContain(name);
        else expect(golden, `${q.source}: ${name}`).toContain(`# TYPE ${name} `);
      }
    }
  });

  it('docs/autoscaling.md covers the signals, the pitfalls and both manifests', () => {
    const doc = readAutoscalingDoc();
    for (const s of ['queue:celery_queue_backlog:sum', 'queue:celery_worker_saturation:ratio', 'celery_queue_oldest_pending_age_seconds', 'acks_late', 'prefetch', 'priority', 'deploy/kubernetes/keda/', 'deploy/kubernetes/hpa/', 'activationThreshold']) {
      expect(doc).toContain(s);
    }
  });
});
