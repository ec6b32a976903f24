import { describe, expect, it } from 'vitest';
import { acceptsGzip } from '../../src/http/server.js';

describe('Accept-Encoding', () => {
  it.each([
    [undefined, false],
    ['', false],
    ['gzip', true],
    ['gzip, deflate, br', true], // Prometheus, Go's http client
    ['GZIP;q=0.5', true],
    ['gzip;q=0', false],
    ['identity', false],
    ['br', false],
    ['*', true],
    ['*;q=0', false],
    ['gzip;q=0, *', false],
    ['x-gzip', true],
  ] as const)('%s → %s', (header, want) => {
    expect(acceptsGzip(header)).toBe(want);
  });
});
