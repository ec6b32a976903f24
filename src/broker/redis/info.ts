/** The Redis INFO fields the broker health gauges use. */
export interface RedisHealth {
  connectedClients: number | undefined;
  usedMemoryBytes: number | undefined;
  uptimeSeconds: number | undefined;
  evictedKeys: number | undefined;
  /** Changes when Redis restarts: mirrored counters keep what they had counted. */
  runId: string | undefined;
}

/** Parses the `field:value` lines of INFO (sections and unknown fields ignored). */
export function parseRedisInfo(text: string): RedisHealth {
  const fields = new Map<string, string>();
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon <= 0 || line.startsWith('#')) continue;
    fields.set(line.slice(0, colon), line.slice(colon + 1).trim());
  }
  const num = (k: string): number | undefined => {
    const v = fields.get(k);
    if (v === undefined || v === '') return undefined;
    const n = Number(v);
    return Number.isFinite(n) ? n : undefined;
  };
  return {
    connectedClients: num('connected_clients'),
    usedMemoryBytes: num('used_memory'),
    uptimeSeconds: num('uptime_in_seconds'),
    evictedKeys: num('evicted_keys'),
    runId: fields.get('run_id'),
  };
}
