import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';

/** A function, method or callback: where it starts and how many lines its body spans. */
export interface FunctionSize {
  file: string;
  line: number;
  name: string;
  lines: number;
}

/** Every .ts file below `dir`, as paths relative to `root` with forward slashes. */
export function sourceFiles(root: string, dir: string): string[] {
  const files: string[] = [];
  for (const entry of readdirSync(join(root, dir), { withFileTypes: true })) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory()) files.push(...sourceFiles(root, path));
    else if (entry.name.endsWith('.ts')) files.push(path);
  }
  return files.sort();
}

/** Lines of a file as `wc -l` counts them (a final newline ends the last line, it adds none). */
export function lineCount(text: string): number {
  const lines = text.split('\n');
  return text.endsWith('\n') ? lines.length - 1 : lines.length;
}

/**
 * Every function-like node of a file with the line span of its body, from the line of its `{`
 * (or of its expression, for an arrow function without braces) to the line of its end. Arrow
 * functions and function expressions passed as callbacks are functions of their own, and a
 * nested function counts inside its outer one too: a long callback makes both long.
 */
export function functionSizes(root: string, file: string): FunctionSize[] {
  return functionSizesOf(file, readFileSync(join(root, file), 'utf8'));
}

/** {@link functionSizes} of a text, `file` being its name in the answer. */
export function functionSizesOf(file: string, text: string): FunctionSize[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const sizes: FunctionSize[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isFunctionLike(node) && 'body' in node && node.body) {
      const body = node.body as ts.Node;
      const start = source.getLineAndCharacterOfPosition(body.getStart(source)).line;
      const end = source.getLineAndCharacterOfPosition(body.getEnd()).line;
      const line = source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1;
      sizes.push({ file, line, name: functionName(node, source), lines: end - start + 1 });
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return sizes;
}

/** A name a reader finds the function by: `Class.method`, the variable it is bound to, or its callee. */
function functionName(node: ts.SignatureDeclaration, source: ts.SourceFile): string {
  const own = node.name ? node.name.getText(source) : undefined;
  const owner = ts.isClassLike(node.parent) && node.parent.name ? `${node.parent.name.text}.` : '';
  if (ts.isConstructorDeclaration(node)) return `${owner}constructor`;
  if (own) return `${owner}${own}`;
  const parent = node.parent;
  if (ts.isVariableDeclaration(parent) || ts.isPropertyDeclaration(parent) || ts.isPropertyAssignment(parent)) {
    return parent.name.getText(source);
  }
  if (ts.isCallExpression(parent) || ts.isNewExpression(parent)) {
    return `callback of ${parent.expression.getText(source).slice(0, 40)}(…)`;
  }
  return 'anonymous function';
}
