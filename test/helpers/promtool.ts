import { execFile } from 'node:child_process';

/** Runs promtool (Debian's prometheus package) with stdin; resolves with its exit code and output. */
export function promtool(args: string[], stdin?: string): Promise<{ code: number; output: string }> {
  return new Promise((resolve, reject) => {
    const p = execFile('promtool', args, { timeout: 120_000 }, (err, stdout, stderr) => {
      const code = err ? ((err as NodeJS.ErrnoException & { code?: number | string }).code ?? 1) : 0;
      if (typeof code === 'string') return reject(new Error(`promtool not runnable (${code}); install Debian's prometheus package`));
      resolve({ code, output: stdout + stderr });
    });
    if (stdin !== undefined) p.stdin?.end(stdin);
  });
}
