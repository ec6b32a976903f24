import { randomBytes } from 'node:crypto';

/** A short random id for queue names and node names, so concurrent runs never share them. */
export function uid(): string {
  return randomBytes(4).toString('hex');
}
