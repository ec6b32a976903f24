import { describe, expect, it } from 'vitest';
import { FinishedTasks } from '../../src/state/finished-tasks.js';

describe('FinishedTasks (finished tasks kept for their late events)', () => {
  it('keeps a task at least keepMs and forgets it by 2 × keepMs', () => {
    const f = new FinishedTasks<string>(10_000, 10_000);
    f.remember('a', 'A', 1_000_000);
    f.expire(1_009_999);
    expect(f.get('a')).toBe('A');
    f.remember('b', 'B', 1_010_000); // a's generation becomes the older one
    expect(f.get('a')).toBe('A');
    f.expire(1_019_999);
    expect(f.get('a')).toBe('A');
    f.expire(1_020_000);
    expect(f.get('a')).toBeUndefined();
    expect(f.get('b')).toBe('B');
    f.expire(1_040_000);
    expect(f.get('b')).toBeUndefined();
    expect(f.size).toBe(0);
  });

  it('forgets everything after a long quiet spell with no tick in between', () => {
    const f = new FinishedTasks<number>(10_000, 100);
    f.remember('a', 1, 5_000);
    f.remember('b', 2, 30_000);
    expect(f.get('a')).toBeUndefined();
    expect(f.get('b')).toBe(2);
  });

  it('holds at most cap tasks, keeping the newest cap / 2', () => {
    const f = new FinishedTasks<number>(10_000, 1000);
    for (let i = 0; i < 5000; i++) {
      f.remember(`u${i}`, i, 1_000_000);
      expect(f.size).toBeLessThan(1000);
    }
    for (let i = 4500; i < 5000; i++) expect(f.get(`u${i}`)).toBe(i);
    expect(f.get('u0')).toBeUndefined();
  });

  it('a task remembered again is found once, with its newest record', () => {
    const f = new FinishedTasks<number>(10_000, 1000);
    f.remember('a', 1, 0);
    f.expire(10_000);
    f.remember('a', 2, 10_001);
    expect(f.get('a')).toBe(2);
    f.expire(20_001);
    expect(f.get('a')).toBe(2);
  });
});
