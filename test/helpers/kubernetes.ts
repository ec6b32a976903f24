import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { PodMonitor, PrometheusRule, ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';
import { Deployment, StatefulSet } from 'kubernetes-models/apps/v1';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { ConfigMap, Secret, Service } from 'kubernetes-models/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import ts from 'typescript';
import { parseAllDocuments } from 'yaml';
import { ROOT } from './exporter.js';
import { scaledObjectErrors } from './keda-schema.js';

export const K8S_DIR = join(ROOT, 'deploy', 'kubernetes');

/* eslint-disable @typescript-eslint/no-explicit-any */
export type Manifest = Record<string, any>;

export interface LoadedManifest {
  file: string;
  doc: Manifest;
}

/** Every YAML document under deploy/kubernetes/ (multi-document files included). */
export function loadManifests(dir = K8S_DIR): LoadedManifest[] {
  const out: LoadedManifest[] = [];
  const walk = (d: string) => {
    for (const f of readdirSync(d).sort()) {
      const p = join(d, f);
      if (statSync(p).isDirectory()) walk(p);
      else if (f.endsWith('.yaml') || f.endsWith('.yml')) {
        for (const doc of parseAllDocuments(readFileSync(p, 'utf8'))) {
          if (doc.errors.length > 0) throw new Error(`${p}: ${doc.errors.map((e) => e.message).join('; ')}`);
          const js = doc.toJS() as Manifest | null;
          if (js !== null) out.push({ file: relative(ROOT, p), doc: js });
        }
      }
    }
  };
  walk(dir);
  return out;
}

/** kind → the kubernetes-models class (JSON-schema validation, offline) and its TypeScript interface. */
const MODELS: Record<string, { model: new (d: any) => { validate(): void }; type: string; from: string }> = {
  Deployment: { model: Deployment, type: 'IDeployment', from: 'kubernetes-models/apps/v1' },
  StatefulSet: { model: StatefulSet, type: 'IStatefulSet', from: 'kubernetes-models/apps/v1' },
  PodDisruptionBudget: { model: PodDisruptionBudget, type: 'IPodDisruptionBudget', from: 'kubernetes-models/policy/v1' },
  Service: { model: Service, type: 'IService', from: 'kubernetes-models/v1' },
  Secret: { model: Secret, type: 'ISecret', from: 'kubernetes-models/v1' },
  ConfigMap: { model: ConfigMap, type: 'IConfigMap', from: 'kubernetes-models/v1' },
  HorizontalPodAutoscaler: { model: HorizontalPodAutoscaler, type: 'IHorizontalPodAutoscaler', from: 'kubernetes-models/autoscaling/v2' },
  ServiceMonitor: { model: ServiceMonitor, type: 'IServiceMonitor', from: '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1' },
  PodMonitor: { model: PodMonitor, type: 'IPodMonitor', from: '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1' },
  PrometheusRule: { model: PrometheusRule, type: 'IPrometheusRule', from: '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1' },
};

/** Kinds without a kubernetes-models class: validated by a closed JSON schema of the fields used. */
const CRD_SCHEMAS: Record<string, (doc: Manifest) => string[]> = { ScaledObject: scaledObjectErrors };

export const knownKinds = () => [...Object.keys(MODELS), ...Object.keys(CRD_SCHEMAS)];

/** Validates against the Kubernetes / Prometheus Operator JSON schemas; returns the errors. */
export function schemaErrors(doc: Manifest): string[] {
  const crd = CRD_SCHEMAS[doc['kind'] as string];
  if (crd) return crd(doc);
  const m = MODELS[doc['kind'] as string];
  if (!m) return [`no schema for kind ${String(doc['kind'])}`];
  try {
    new m.model(doc).validate();
    return [];
  } catch (err) {
    return [String((err as Error).message)];
  }
}

/**
 * The JSON schemas accept unknown fields (the API server rejects them with strict field
 * validation, the kubectl default). TypeScript's excess-property check against the same models'
 * interfaces catches them: each manifest becomes a typed object literal, compiled in memory.
 * Returns one message per unknown or mistyped field.
 */
export function strictFieldErrors(docs: Manifest[]): string[] {
  const virtual = join(K8S_DIR, '__manifest_check__.ts');
  const imports = new Map<string, Set<string>>();
  const lines: string[] = [];
  docs.forEach((d, i) => {
    const m = MODELS[d['kind'] as string];
    if (!m) return;
    if (!imports.has(m.from)) imports.set(m.from, new Set());
    imports.get(m.from)!.add(m.type);
    lines.push(`export const m${i}: ${m.type} = ${JSON.stringify(d, null, 1)};`);
  });
  const source = [...[...imports].map(([from, types]) => `import type { ${[...types].join(', ')} } from '${from}';`), ...lines].join('\n');
  const options: ts.CompilerOptions = {
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2022,
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    types: [],
  };
  const host = ts.createCompilerHost(options);
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (name, lang, onError, create) =>
    name === virtual ? ts.createSourceFile(name, source, lang) : getSourceFile(name, lang, onError, create);
  const fileExists = host.fileExists.bind(host);
  host.fileExists = (name) => name === virtual || fileExists(name);
  const readFile = host.readFile.bind(host);
  host.readFile = (name) => (name === virtual ? source : readFile(name));
  const program = ts.createProgram([virtual], options, host);
  return ts
    .getPreEmitDiagnostics(program)
    .filter((d) => d.file?.fileName === virtual || d.file === undefined)
    .map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n').split('\n').slice(0, 3).join(' / '));
}
