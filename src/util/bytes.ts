/**
 * Whether the bytes of `want` are at `at` in `buf` (the caller checked they fit). A plain loop:
 * Buffer#compare validates its arguments and crosses into C++ each call, 7 % of the Redis
 * daemon's profile at 20k events/s for the envelope decoder's four calls per message
 * (decoder/envelope.ts); the RESP reader (broker/redis/resp.ts) uses it for each message's kind.
 */
export function bytesAt(buf: Buffer, at: number, want: Buffer): boolean {
  const n = want.length;
  for (let i = 0; i < n; i++) if (buf[at + i] !== want[i]) return false;
  return true;
}
