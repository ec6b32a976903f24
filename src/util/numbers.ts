/**
 * Numbers mean two things in this code, each tested one way:
 * - a number field where NaN stands for "not known" (a task's times, a lag): `Number.isNaN(x)`;
 * - a value from outside (an event field, a worker's reply, a file) that must be a usable number:
 *   `isFiniteNumber(v)`, which also tells the compiler it is a number.
 */
export function isFiniteNumber(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}
