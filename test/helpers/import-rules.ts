import { join } from 'node:path';
import { cruise, type ICruiseResult, type IViolation } from 'dependency-cruiser';
import extractDepcruiseOptions from 'dependency-cruiser/config-utl/extract-depcruise-options';
import extractTSConfig from 'dependency-cruiser/config-utl/extract-ts-config';

/**
 * Runs the import rules of .dependency-cruiser.cjs over src/ and describes every violation in
 * one line a reader can act on: which rule, which file imports which (for a folder cycle: the
 * folders of the cycle and the file imports that make each of its steps). `root` holds the src/
 * to check, `rulesRoot` the rules and tsconfig.json (the repository).
 */
export async function importViolations(root: string, rulesRoot = root): Promise<string[]> {
  const options = await extractDepcruiseOptions(join(rulesRoot, '.dependency-cruiser.cjs'));
  const tsConfigFile = join(rulesRoot, 'tsconfig.json');
  // baseDir: the rules' paths (^src/...) are relative to root, whatever the cwd.
  const cruiseOptions = { ...options, validate: true, baseDir: root, tsConfig: { fileName: tsConfigFile } };
  const { output } = await cruise(['src'], cruiseOptions, {}, { tsConfig: extractTSConfig(tsConfigFile) });
  if (typeof output === 'string') throw new Error('dependency-cruiser returned a report, not a result');
  // A folder cycle is reported once per folder on it: keep one (its rotation from the lowest name).
  return [...new Set(output.summary.violations.map((violation) => describeViolation(violation, output)))];
}

function describeViolation(violation: IViolation, result: ICruiseResult): string {
  const rule = violation.rule.name;
  const isFolder = result.folders?.some((folder) => folder.name === violation.from) ?? false;
  if (violation.cycle && !isFolder) {
    return `${rule}: ${[violation.from, ...violation.cycle.map((step) => step.name)].join(' → ')}`;
  }
  if (violation.cycle) {
    const folders = lowestFirst(violation.cycle.map((step) => step.name));
    const steps = folders.slice(1).map((to, i) => {
      const from = folders[i]!;
      const upward = againstLayers(result, from, to) ? ' ← against the layers' : '';
      return `${from} → ${to}${upward}: ${fileImports(result, from, to)}`;
    });
    return `${rule}: ${folders.join(' → ')}\n      ${steps.join('\n      ')}`;
  }
  return `${rule}: ${violation.from} imports ${violation.to}`;
}

/** The folders of a cycle from its lowest name round to it again: one order per cycle. */
function lowestFirst(cycle: string[]): string[] {
  const start = cycle.indexOf([...cycle].sort()[0]!);
  const rotated = [...cycle.slice(start), ...cycle.slice(0, start)];
  return [...rotated, rotated[0]!];
}

/** Whether a file of `fromFolder` imports one of `toFolder` against a layer rule (not a cycle rule). */
function againstLayers(result: ICruiseResult, fromFolder: string, toFolder: string): boolean {
  return result.summary.violations.some(
    (v) => !v.cycle && v.rule.name.startsWith('layer-') && inFolder(v.from, fromFolder) && inFolder(v.to, toFolder),
  );
}

/** The imports of files directly in `fromFolder` (or below it) of files in `toFolder`. */
function fileImports(result: ICruiseResult, fromFolder: string, toFolder: string): string {
  const edges: string[] = [];
  for (const module of result.modules) {
    if (!inFolder(module.source, fromFolder) || inFolder(module.source, toFolder)) continue;
    for (const dependency of module.dependencies) {
      if (inFolder(dependency.resolved, toFolder)) edges.push(`${module.source} imports ${dependency.resolved}`);
    }
  }
  // The first two say which files to look at; the count how much the step weighs.
  const more = edges.length > 2 ? ` (and ${edges.length - 2} more)` : '';
  return edges.slice(0, 2).join('; ') + more;
}

function inFolder(file: string, folder: string): boolean {
  return file.startsWith(`${folder}/`);
}
