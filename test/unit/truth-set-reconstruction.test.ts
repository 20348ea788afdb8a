import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  applyEvent,
  applyEvents,
  emptyTruthSet,
  reconstructTruthSet,
  truthSetSchema,
  type TruthEvent,
  type TruthSet,
} from '../../src/domain/truth-set.ts';
import { eventSequence } from './truth-set.fixtures.ts';

/** What a checkpoint does to a truth set: JSONB round trip, then zod read-back. */
function throughCheckpoint(ts: TruthSet): TruthSet {
  return truthSetSchema.parse(JSON.parse(JSON.stringify(ts)));
}

function incremental(events: readonly TruthEvent[]): TruthSet {
  return events.reduce(applyEvent, emptyTruthSet());
}

describe('truth set reconstruction (seed: "Truth Set Reconstruction")', () => {
  it('incremental == checkpoint snapshot (JSON + schema) + replay of the rest, at any checkpoint position', () => {
    fc.assert(
      fc.property(
        eventSequence(60).chain((events) => fc.tuple(fc.constant(events), fc.integer({ min: 0, max: events.length }))),
        ([events, cut]) => {
          const live = incremental(events);
          const checkpoint = throughCheckpoint(incremental(events.slice(0, cut)));
          const rebuilt = reconstructTruthSet(checkpoint, events.slice(cut));
          expect(rebuilt).toEqual(live);
          expect(JSON.stringify(rebuilt)).toBe(JSON.stringify(live));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('reconstruction from nothing equals the incremental fold, and the batch apply equals the fold', () => {
    fc.assert(
      fc.property(eventSequence(80), (events) => {
        const live = incremental(events);
        expect(reconstructTruthSet(null, events)).toEqual(live);
        expect(JSON.stringify(applyEvents(emptyTruthSet(), events))).toBe(JSON.stringify(live));
      }),
      { numRuns: 200 },
    );
  });

  it('a truth set survives the checkpoint round trip unchanged (canonical form)', () => {
    fc.assert(
      fc.property(eventSequence(60), (events) => {
        const live = incremental(events);
        expect(JSON.stringify(throughCheckpoint(live))).toBe(JSON.stringify(live));
      }),
      { numRuns: 200 },
    );
  });

  it('an overlapping replay (rows already in the snapshot) changes nothing', () => {
    fc.assert(
      fc.property(
        eventSequence(40).chain((events) => fc.tuple(fc.constant(events), fc.integer({ min: 0, max: events.length }))),
        ([events, cut]) => {
          const checkpoint = throughCheckpoint(incremental(events.slice(0, cut)));
          expect(reconstructTruthSet(checkpoint, events)).toEqual(incremental(events));
        },
      ),
      { numRuns: 150 },
    );
  });

  it('a row handed twice (overlapping reads) is applied once', () => {
    fc.assert(
      fc.property(eventSequence(30), (events) => {
        expect(reconstructTruthSet(null, [...events, ...events])).toEqual(incremental(events));
      }),
      { numRuns: 100 },
    );
  });

  it('replays rows in narrative_ts order even when handed out of order', () => {
    fc.assert(
      fc.property(eventSequence(30), fc.nat(), (events, seed) => {
        const shuffled = [...events].sort((a, b) => ((a.narrativeTs * 7919 + seed) % 101) - ((b.narrativeTs * 7919 + seed) % 101));
        expect(reconstructTruthSet(null, shuffled)).toEqual(incremental(events));
      }),
      { numRuns: 100 },
    );
  });

  it('two truth sets that are equal serialise identically whatever order their keys were produced in', () => {
    const a = throughCheckpoint({ ...emptyTruthSet(), accumulators: { 'z:1': 1, 'a:1': 2 }, world: { weather: { b: 1, a: 2 }, door: 'open' } });
    const b = throughCheckpoint({ ...emptyTruthSet(), accumulators: { 'a:1': 2, 'z:1': 1 }, world: { door: 'open', weather: { a: 2, b: 1 } } });
    expect(JSON.stringify(a)).toBe(JSON.stringify(b));
  });

  it('rejects a malformed snapshot', () => {
    expect(truthSetSchema.safeParse({ ...emptyTruthSet(), version: 2 }).success).toBe(false);
    expect(truthSetSchema.safeParse({ ...emptyTruthSet(), persistent: [{ predicate: 'holds', args: 'x', since: 1 }] }).success).toBe(false);
    expect(truthSetSchema.safeParse({ ...emptyTruthSet(), judgments: [{ id: 'j', category: 'Nope', subject: null, confidence: 0.5, provisional: false, ts: 1, description: '' }] }).success).toBe(false);
  });
});
