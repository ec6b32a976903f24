import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DockerfileParser } from 'dockerfile-ast';
import { ROOT } from './exporter.js';

export const DOCKERFILE = join(ROOT, 'Dockerfile');

export interface Instruction {
  keyword: string;
  /** Arguments as written (line continuations kept out), flags excluded. */
  args: string[];
  raw: string;
  flags: Record<string, string>;
  /** Exec form (JSON array) of RUN/CMD/ENTRYPOINT, or of HEALTHCHECK's CMD. */
  exec?: string[];
}

export interface Stage {
  name: string | undefined;
  /** Image reference with the ARG defaults substituted. */
  image: string;
  instructions: Instruction[];
}

/** The repository's Dockerfile as stages of instructions, parsed with dockerfile-ast. */
export function parseDockerfile(text = readFileSync(DOCKERFILE, 'utf8')): Stage[] {
  const d = DockerfileParser.parse(text);
  const args: Record<string, string> = {};
  for (const a of d.getARGs()) {
    const p = a.getProperty();
    if (p?.getName() && p.getValue() !== null) args[p.getName()] = p.getValue()!;
  }
  const subst = (s: string) => s.replace(/\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?/g, (m, n: string) => args[n] ?? m);
  const stages: Stage[] = [];
  for (const i of d.getInstructions()) {
    const keyword = i.getKeyword();
    if (keyword === 'FROM') {
      const from = d.getFROMs().find((f) => f.getRange().start.line === i.getRange().start.line)!;
      const image = subst(i.getArguments()[0]!.getValue());
      stages.push({ name: from.getBuildStage() ?? undefined, image, instructions: [] });
      continue;
    }
    if (keyword === 'ARG' && stages.length === 0) continue;
    const flags: Record<string, string> = {};
    const withFlags = i as unknown as { getFlags?: () => Array<{ getName(): string; getValue(): string | null }> };
    for (const f of withFlags.getFlags?.() ?? []) flags[f.getName()] = f.getValue() ?? '';
    const raw = i.getArgumentsContent() ?? '';
    const bracket = raw.indexOf('[');
    let exec: string[] | undefined;
    if (['RUN', 'CMD', 'ENTRYPOINT', 'HEALTHCHECK'].includes(keyword) && bracket >= 0) {
      try {
        exec = JSON.parse(raw.slice(bracket)) as string[];
      } catch {
        exec = undefined;
      }
    }
    const ins: Instruction = {
      keyword,
      args: i.getArguments().map((a) => a.getValue()).filter((v) => !v.startsWith('--')),
      raw,
      flags,
    };
    if (exec !== undefined) ins.exec = exec;
    stages.at(-1)!.instructions.push(ins);
  }
  return stages;
}

export const only = (stage: Stage, keyword: string) => stage.instructions.filter((i) => i.keyword === keyword);
