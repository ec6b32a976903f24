import { describe, expect, it } from 'vitest';
import { cli } from '../helpers/cli.js';

describe('continuity flags', () => {
  it('default to no state file, saves every 30 s, scrape saves at least 1 s apart, 30 s reconcile grace', async () => {
    const r = await cli(['--print-config']);
    expect(JSON.parse(r.stdout).effective.state).toEqual({ saveInterval: 30, scrapeSaveMinInterval: 1, reconcileGrace: 30 });
  });

  it('take flags and their environment twins', async () => {
    const a = JSON.parse((await cli(['--print-config', '--state-file', '/var/lib/cpe/state', '--state-save-interval', '10'])).stdout).effective.state;
    expect(a).toMatchObject({ file: '/var/lib/cpe/state', saveInterval: 10 });
    const b = JSON.parse(
      (
        await cli(['--print-config'], {
          CELERY_EXPORTER_STATE_FILE: '/data/state',
          CELERY_EXPORTER_STATE_SAVE_INTERVAL: '5',
          CELERY_EXPORTER_STATE_SCRAPE_SAVE_MIN_INTERVAL: '0.5',
          CELERY_EXPORTER_RECONCILE_GRACE: '60',
        })
      ).stdout,
    ).effective.state;
    expect(b).toEqual({ file: '/data/state', saveInterval: 5, scrapeSaveMinInterval: 0.5, reconcileGrace: 60 });
  });

  it('reject a zero save interval with one line naming the flag (exit 2)', async () => {
    const r = await cli(['--state-save-interval', '0']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/state-save-interval/);
  });
});
