import { readFileSync, statSync } from 'node:fs';
import { parseWebConfig, type WebConfig } from '../config/web-config.js';

export type { ClientAuthType, TlsServerConfig, WebConfig } from '../config/web-config.js';

/**
 * The file, re-read when it (or a certificate it names) changes — checked at most once a second,
 * so a scrape never pays for a read. A file that becomes invalid keeps the last good settings
 * and is reported once per change.
 */
export class WebConfigFile {
  private current: WebConfig;
  private stamp: string;
  private checkedAt = 0;
  version = 0;

  constructor(
    readonly path: string,
    private readonly onInvalid: (err: Error) => void,
  ) {
    this.current = parseWebConfig(readFileSync(path, 'utf8'), path);
    this.stamp = this.stampOf(this.current);
  }

  get(now = Date.now()): WebConfig {
    if (now - this.checkedAt < 1000) return this.current;
    this.checkedAt = now;
    let stamp: string;
    try {
      stamp = this.stampOf(this.current);
    } catch {
      stamp = 'unreadable';
    }
    if (stamp === this.stamp) return this.current;
    this.stamp = stamp;
    try {
      this.current = parseWebConfig(readFileSync(this.path, 'utf8'), this.path);
      this.stamp = this.stampOf(this.current);
      this.version++;
    } catch (err) {
      this.onInvalid(err as Error);
    }
    return this.current;
  }

  private stampOf(cfg: WebConfig): string {
    return [this.path, ...(cfg.tls?.files ?? [])]
      .map((f) => {
        const s = statSync(f);
        return `${s.mtimeMs}:${s.size}`;
      })
      .join('|');
  }
}
