import { expect } from 'vitest';
import type { RemoteControl } from '../../src/remote/client.js';

/**
 * 1,000 consecutive remote-control calls over the inspect methods: 980 answered (made and
 * checked by `answered`), 10 to a destination nobody has (ending by their reply window) and 10 aborted
 * while waiting for a reply that never comes. Returns the tally, for the caller to assert.
 */
export async function thousandCalls(
  rc: RemoteControl,
  answered: (method: string) => Promise<void>,
): Promise<{ answered: number; unanswered: number; aborted: number }> {
  const methods = ['ping', 'stats', 'active_queues', 'reserved', 'scheduled'];
  const tally = { answered: 0, unanswered: 0, aborted: 0 };
  for (let i = 0; i < 1000; i++) {
    const method = methods[i % methods.length]!;
    if (i % 100 === 7) {
      const r = await rc.call(method, { timeoutMs: 50, destination: ['nobody@nowhere'] });
      expect(r.replies).toEqual([]);
      tally.unanswered++;
    } else if (i % 100 === 13) {
      const ac = new AbortController();
      setTimeout(() => ac.abort(new Error('poll timed out')), 100);
      await expect(rc.call(method, { timeoutMs: 5000, destination: ['nobody@nowhere'], signal: ac.signal })).rejects.toThrow('poll timed out');
      tally.aborted++;
    } else {
      await answered(method);
      tally.answered++;
    }
  }
  return tally;
}
