import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { ownCopy } from '../../src/util/own-copy.js';
import { makeCore, testConfig } from './core.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const MB = 1024 * 1024;

function heapAfterGc(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

/** A distinct string of about `mb` MB, made the way the decoder makes them (JSON.parse). */
function big(i: number, mb: number, prefix = ''): string {
  return JSON.parse(JSON.stringify(`${prefix}${i}-`.padEnd(mb * MB, 'abcdefgh'))) as string;
}

describe('values kept from events do not pin the strings they were cut from', () => {
  it('ownCopy keeps only its own characters (a slice keeps the whole source)', () => {
    const base = heapAfterGc();
    const kept: string[] = [];
    for (let i = 0; i < 20; i++) kept.push(ownCopy(big(i, 5).slice(0, 200)));
    const grew = (heapAfterGc() - base) / MB;
    expect(kept.every((k, i) => k.startsWith(`${i}-`) && k.length === 200)).toBe(true);
    // Sliced instead of copied, these 20 values hold 100 MB.
    expect(grew).toBeLessThan(10);
    // Lone surrogates are repaired rather than mangled by the UTF-8 round trip.
    expect(ownCopy('x\ud800yyyyyyyyyyyyyyy')).toBe('x\ufffdyyyyyyyyyyyyyyy');
  });

  it('a stream of events with megabyte fields leaves memory bounded by the caps', () => {
    const t = makeCore(testConfig({ maxLabelLength: 200 }, { stripHostnamePrefix: true }));
    const T0 = 1_795_681_000;
    // Warm up: the first series of each family, the code paths.
    t.feed({ type: 'task-sent', uuid: 'w', name: 'warm', queue: 'q', hostname: 'p@h', timestamp: T0 });
    const base = heapAfterGc();
    for (let i = 0; i < 10; i++) {
      const uuid = `u${i}`;
      // A worker-side event first: it is held for the reorder window until its task-sent.
      t.feed({ type: 'task-received', uuid: `r${i}`, name: big(i, 1, 'held.'), hostname: big(i, 1, 'w@'), timestamp: T0 });
      t.feed({ type: 'task-sent', uuid, name: big(i, 1, 'name.'), queue: big(i, 1, 'q.'), hostname: big(i, 1, 'prod@'), timestamp: T0 });
      t.feed({ type: 'task-failed', uuid, hostname: 'w@h', timestamp: T0 + 1, exception: `${big(i, 1, 'E')}('x')`, traceback: `Traceback\n${big(i, 1, 'Err')}: x` });
      t.feed({ type: 'worker-heartbeat', hostname: `w${i}@h`, timestamp: T0, freq: 2, sw_ident: big(i, 1, 'ident'), sw_ver: big(i, 1, 'v'), sw_sys: big(i, 1, 's') });
    }
    const grew = (heapAfterGc() - base) / MB;
    // 10 rounds × 8 fields × 1 MB = 80 MB of input; what is kept is 200 characters per value.
    console.info(`heap growth after 80 MB of hostile fields: ${grew.toFixed(1)} MB`);
    expect(t.state.tasks.heldCount).toBe(10);
    expect(grew).toBeLessThan(8);
  }, 60_000);
});
