import { request } from 'node:http';
import { readFileSync } from 'node:fs';

export interface HttpResult {
  status: number;
  ms: number;
  body: string;
}

/**
 * One GET on a connection of its own, optionally from another loopback address (127.0.0.0/8 is
 * all local on Linux), so a test can play several clients that a per-address limit tells apart.
 */
export function httpGet(url: string, opts: { auth?: string; from?: string; timeoutMs?: number } = {}): Promise<HttpResult> {
  const t = performance.now();
  return new Promise((resolve, reject) => {
    const req = request(url, { agent: false, localAddress: opts.from, headers: opts.auth ? { authorization: opts.auth } : {} }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, ms: performance.now() - t, body }));
      res.on('error', reject);
    });
    req.setTimeout(opts.timeoutMs ?? 60_000, () => req.destroy(new Error(`no answer from ${url} within ${opts.timeoutMs ?? 60_000} ms`)));
    req.on('error', reject);
    req.end();
  });
}

export const basicAuth = (user: string, pass: string) => `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;

/** CPU seconds (user + system) a process has used, from /proc/<pid>/stat. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(rest[11]) + Number(rest[12])) / 100;
}

/** Resident set size in bytes, from /proc/<pid>/status. */
export function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

export const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
