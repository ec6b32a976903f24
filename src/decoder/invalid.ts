import { INVALID_REASONS, type InvalidReason } from '../events/vocabulary.js';

/** A rejected message; one frozen instance per reason, so rejecting allocates nothing. */
export class Invalid {
  private constructor(readonly reason: InvalidReason) {}
  static readonly of: Readonly<Record<InvalidReason, Invalid>> = Object.freeze(
    Object.fromEntries(INVALID_REASONS.map((r) => [r, new Invalid(r)])) as Record<InvalidReason, Invalid>,
  );
}
