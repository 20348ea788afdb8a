import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { evaluatePredicate } from '../../src/domain/predicate-eval.ts';
import type { EventPattern, TriggerPredicate } from '../../src/domain/predicates.ts';
import { matchesEventPattern, sequenceSpan } from '../../src/domain/temporal.ts';
import { applyEvents, emptyTruthSet, type TruthEvent } from '../../src/domain/truth-set.ts';
import { eventSequence } from './truth-set.fixtures.ts';

/** The evaluator against brute-force definitions, on random histories. */

const pattern: fc.Arbitrary<EventPattern> = fc.constantFrom<EventPattern>(
  { type: 'PlayerInput' },
  { type: 'ActionPerformed', action: 'take' },
  { actor: 'mara' },
  { target: 'lamp' },
  { involving: 'tom' },
  { type: 'SceneEntered' },
  { type: 'InterpretiveJudgment' },
  { topic: 'lamp' },
);

const inner: fc.Arbitrary<TriggerPredicate> = fc.constantFrom<TriggerPredicate>(
  { characterPresent: 'mara' },
  { holds: { predicate: 'holds', args: ['player'] } },
  { not: { characterPresent: 'tom' } },
  { any: [{ holds: { predicate: 'knows', args: ['player'] } }, { worldState: { key: 'door', equals: 'open' } }] },
);

/** Shortest span over all increasing index tuples (exhaustive; small inputs only). */
function bruteSpan(history: readonly TruthEvent[], patterns: readonly EventPattern[]): number | null {
  let best: number | null = null;
  const walk = (j: number, from: number, start: number | null) => {
    if (j === patterns.length) return;
    for (let i = from; i < history.length; i++) {
      const e = history[i]!;
      if (!matchesEventPattern(e, patterns[j]!)) continue;
      const s = start ?? e.narrativeTs;
      if (j === patterns.length - 1) best = best === null ? e.narrativeTs - s : Math.min(best, e.narrativeTs - s);
      else walk(j + 1, i + 1, s);
    }
  };
  walk(0, 0, null);
  return best;
}

/** Since by its definition: fold the history up to each row from the newest matching event on. */
function bruteSince(history: readonly TruthEvent[], event: EventPattern, p: TriggerPredicate): boolean {
  let at = -1;
  history.forEach((e, i) => {
    if (matchesEventPattern(e, event)) at = i;
  });
  if (at < 0) return false;
  for (let k = at; k < history.length; k++) {
    const prefix = history.slice(0, k + 1);
    if (!evaluatePredicate(p, { truthSet: applyEvents(emptyTruthSet(), prefix), history: prefix }).value) return false;
  }
  return true;
}

describe('temporal predicates against their definitions', () => {
  it('Sequence: the one-pass span equals the exhaustive shortest span', () => {
    fc.assert(
      fc.property(eventSequence(25), fc.array(pattern, { minLength: 1, maxLength: 3 }), (history, patterns) => {
        expect(sequenceSpan(history, patterns)).toBe(bruteSpan(history, patterns));
      }),
      { numRuns: 300 },
    );
  });

  it('Since: equals checking the inner predicate after every row from the newest matching event', () => {
    fc.assert(
      fc.property(eventSequence(30), pattern, inner, (history, event, p) => {
        const ctx = { truthSet: applyEvents(emptyTruthSet(), history), history };
        expect(evaluatePredicate({ since: { event, holds: p } }, ctx).value).toBe(bruteSince(history, event, p));
      }),
      { numRuns: 200 },
    );
  });

  it('After: equals "some row matches" and "holds now"', () => {
    fc.assert(
      fc.property(eventSequence(30), pattern, inner, (history, event, p) => {
        const ctx = { truthSet: applyEvents(emptyTruthSet(), history), history };
        const expected = history.some((e) => matchesEventPattern(e, event)) && evaluatePredicate(p, ctx).value;
        expect(evaluatePredicate({ after: { event, then: p } }, ctx).value).toBe(expected);
      }),
      { numRuns: 200 },
    );
  });
});
