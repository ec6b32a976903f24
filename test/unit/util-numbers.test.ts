import { describe, expect, it } from 'vitest';
import { isFiniteNumber } from '../../src/util/numbers.js';

describe('isFiniteNumber', () => {
  it('accepts finite numbers only: not NaN, not ±Infinity, not numeric strings or null', () => {
    expect([0, -1.5, 1e300].map(isFiniteNumber)).toEqual([true, true, true]);
    expect([NaN, Infinity, -Infinity, '1', null, undefined, true].map(isFiniteNumber)).toEqual([false, false, false, false, false, false, false]);
  });
});
