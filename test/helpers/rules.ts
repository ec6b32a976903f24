import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { ROOT } from './exporter.js';

export const RULES_DIR = join(ROOT, 'prometheus', 'rules');
export const RULE_TESTS_DIR = join(ROOT, 'prometheus', 'tests');

export interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
export interface RuleGroup {
  name: string;
  rules: Rule[];
}
export interface RuleFile {
  path: string;
  groups: RuleGroup[];
}

/** The repository's rule files (prometheus/rules/*.yml), parsed, in name order. */
export function ruleFiles(): RuleFile[] {
  return readdirSync(RULES_DIR)
    .filter((f) => f.endsWith('.yml'))
    .sort()
    .map((f) => {
      const path = join(RULES_DIR, f);
      return { path, groups: (parse(readFileSync(path, 'utf8')) as { groups: RuleGroup[] }).groups };
    });
}

export function alertRules(): Rule[] {
  return ruleFiles().flatMap((f) => f.groups.flatMap((g) => g.rules.filter((r) => r.alert !== undefined)));
}

export function recordingRules(): Rule[] {
  return ruleFiles().flatMap((f) => f.groups.flatMap((g) => g.rules.filter((r) => r.record !== undefined)));
}

/** `CeleryQueueLengthHigh` → `celery-queue-length-high`: the runbook page's file name. */
export function kebab(alert: string): string {
  return alert.replace(/([a-z0-9])([A-Z])/g, '$1-$2').toLowerCase();
}
