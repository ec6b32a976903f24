import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TaskTracker } from '../../src/state/task-tracker.js';

describe('TaskTracker capacity eviction', () => {
  it('always evicts the oldest task still tracked, whatever was deleted or swept before', () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant('add' as const), id: fc.integer({ min: 0, max: 40 }) }),
      fc.record({ kind: fc.constant('delete' as const), id: fc.integer({ min: 0, max: 40 }) }),
      fc.record({ kind: fc.constant('sweep' as const), id: fc.constant(0) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 300 }), fc.integer({ min: 1, max: 8 }), (ops, cap) => {
        const tracker = new TaskTracker({ maxTasks: cap, ttlSeconds: 5, onEvict: () => undefined });
        // The model: insertion-ordered ids with their creation time.
        let model: Array<[string, number]> = [];
        let now = 0;
        for (const o of ops) {
          now += 1000;
          const uuid = `t${o.id}`;
          if (o.kind === 'add') {
            if (model.some(([u]) => u === uuid)) continue;
            tracker.getOrCreate(uuid, now);
            model.push([uuid, now]);
            if (model.length > cap) model.shift();
          } else if (o.kind === 'delete') {
            tracker.delete(uuid);
            model = model.filter(([u]) => u !== uuid);
          } else {
            tracker.sweep(now);
            model = model.filter(([, t]) => t > now - 5000);
          }
          expect([...tracker.entries()].map(([u]) => u)).toEqual(model.map(([u]) => u));
        }
      }),
      { numRuns: 500 },
    );
  });
});
