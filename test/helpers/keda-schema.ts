import { Ajv } from 'ajv';
/* eslint-disable @typescript-eslint/no-explicit-any */

/**
 * KEDA's ScaledObject (keda.sh/v1alpha1), reduced to the fields the shipped manifest uses, every
 * object closed (additionalProperties: false), so a misspelt or misplaced field fails as the CRD's
 * structural schema would reject it. Types follow the CRD: trigger metadata values are strings.
 */
export const str = { type: 'string', minLength: 1 } as const;
const int = (minimum: number) => ({ type: 'integer', minimum }) as const;
export const closed = (properties: Record<string, unknown>, required: string[] = []) => ({ type: 'object', properties, required, additionalProperties: false });
const numeric = { type: 'string', pattern: '^[0-9]+(\\.[0-9]+)?$' } as const;
export const SCALED_OBJECT_SCHEMA = closed(
  {
    apiVersion: { const: 'keda.sh/v1alpha1' },
    kind: { const: 'ScaledObject' },
    metadata: closed({ name: str, namespace: str, labels: { type: 'object', additionalProperties: { type: 'string' } } }, ['name']),
    spec: closed(
      {
        scaleTargetRef: closed({ apiVersion: str, kind: str, name: str }, ['name']),
        pollingInterval: int(1),
        cooldownPeriod: int(0),
        minReplicaCount: int(0),
        maxReplicaCount: int(1),
        advanced: closed({
          horizontalPodAutoscalerConfig: closed({
            behavior: closed({
              scaleDown: closed({
                stabilizationWindowSeconds: int(0),
                policies: { type: 'array', items: closed({ type: { enum: ['Percent', 'Pods'] }, value: int(1), periodSeconds: int(1) }, ['type', 'value', 'periodSeconds']) },
              }),
            }),
          }),
        }),
        triggers: {
          type: 'array',
          minItems: 1,
          items: closed(
            {
              type: { const: 'prometheus' },
              metricType: { enum: ['AverageValue', 'Value'] },
              metadata: closed(
                { serverAddress: str, query: str, threshold: numeric, activationThreshold: numeric, ignoreNullValues: { enum: ['true', 'false'] } },
                ['serverAddress', 'query', 'threshold'],
              ),
            },
            ['type', 'metadata'],
          ),
        },
      },
      ['scaleTargetRef', 'triggers'],
    ),
  },
  ['apiVersion', 'kind', 'metadata', 'spec'],
);

const validateScaledObject = new Ajv({ allErrors: true, strict: true }).compile(SCALED_OBJECT_SCHEMA);

/** Validates a ScaledObject against SCALED_OBJECT_SCHEMA; returns the errors. */
export function scaledObjectErrors(doc: Record<string, any>): string[] {
  if (validateScaledObject(doc)) return [];
  return (validateScaledObject.errors ?? []).map((e) => `${e.instancePath} ${e.message ?? ''} ${JSON.stringify(e.params)}`);
}
