import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { basename, join } from 'node:path';

/** Every child a test starts; killed on exit even when a test fails or times out. */
const live = new Set<ChildProcess>();

function killAll(): void {
  for (const p of live) {
    try {
      if (p.pid !== undefined) process.kill(-p.pid, 'SIGKILL');
    } catch {
      p.kill('SIGKILL');
    }
  }
}
process.once('exit', killAll);

export interface Spawned {
  proc: ChildProcess;
  /** stdout + stderr so far. */
  output(): string;
  waitForOutput(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** SIGTERM, then SIGKILL after graceMs; resolves when the process has exited. */
  stop(graceMs?: number): Promise<number | null>;
  kill(): Promise<void>;
  exited: Promise<number | null>;
}

export function spawnTracked(cmd: string, args: string[], opts: SpawnOptions = {}): Spawned {
  // Own process group, so stop() also reaches the Celery pool children.
  const proc = spawn(cmd, args, { ...opts, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(proc);
  let out = '';
  const waiters: Array<() => void> = [];
  // Every line any spawned process writes is kept for the suite-wide secret scan (global teardown).
  const logDir = process.env['CPE_TEST_LOG_DIR'];
  const logFile = logDir === undefined ? undefined : createWriteStream(join(logDir, `${process.pid}-${proc.pid}-${basename(cmd)}.log`));
  proc.once('exit', () => logFile?.end());
  const onData = (d: Buffer) => {
    logFile?.write(d);
    out += d.toString();
    if (out.length > 4_000_000) out = out.slice(-2_000_000);
    for (const w of waiters.splice(0)) w();
  };
  proc.stdout?.on('data', onData);
  proc.stderr?.on('data', onData);
  const exited = new Promise<number | null>((resolve) => {
    proc.once('exit', (code) => {
      live.delete(proc);
      for (const w of waiters.splice(0)) w();
      resolve(code);
    });
  });
  const signalGroup = (sig: NodeJS.Signals) => {
    try {
      if (proc.pid !== undefined) process.kill(-proc.pid, sig);
    } catch {
      // already gone
    }
  };
  return {
    proc,
    exited,
    output: () => out,
    waitForOutput(pattern, timeoutMs = 30_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`timed out waiting for ${pattern} in output of ${cmd}:\n${out.slice(-3000)}`)),
          timeoutMs,
        );
        const check = () => {
          const m = out.match(pattern);
          if (m) {
            clearTimeout(timer);
            resolve(m);
          } else if (proc.exitCode !== null || proc.signalCode !== null) {
            clearTimeout(timer);
            reject(new Error(`${cmd} exited (${proc.exitCode ?? proc.signalCode}) before ${pattern}:\n${out.slice(-3000)}`));
          } else waiters.push(check);
        };
        check();
      });
    },
    async stop(graceMs = 15_000) {
      if (proc.exitCode !== null || proc.signalCode !== null) return proc.exitCode;
      // The main process first, so a Celery worker shuts down warm and sends worker-offline.
      proc.kill('SIGTERM');
      const t = setTimeout(() => signalGroup('SIGKILL'), graceMs);
      const code = await exited;
      clearTimeout(t);
      signalGroup('SIGKILL');
      return code;
    },
    async kill() {
      signalGroup('SIGKILL');
      await exited;
    },
  };
}
