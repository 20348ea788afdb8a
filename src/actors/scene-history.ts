import type { LedgerRecord } from '../domain/events.ts';
import type { TriggerPredicate } from '../domain/predicates.ts';
import type { LedgerRecordLike } from '../domain/temporal.ts';
import type { Scene } from '../domain/story/schema.ts';
import type { Queryable } from '../persistence/database.ts';
import { ledgerColumnList, rowToRecord } from '../persistence/ledger-rows.ts';
import { sessionIdSchema } from '../persistence/ledger-validation.ts';

/**
 * The session history that temporal story conditions are evaluated against (seed: "the
 * narrative_ts column serves After, Since and Sequence"; docs/truth-set.md "Temporal
 * semantics"). `after`, `since`, `sequence` and `eventOccurred` look at ledger rows, not at
 * the truth set, so a scene that uses them must see EVERY earlier turn, not just this one.
 *
 * Why it is cheap: a scene's conditions are inspected once at scene entry
 * (`sceneHistoryNeeds`); only scenes that use a history form read the session's rows
 * during a turn. Stories without temporal conditions never pay a read.
 *
 * Why it is exact: the session machine starts a turn only after the previous turn's
 * events are durable and folded into the truth set, so the durable rows up to the truth
 * set's `lastNarrativeTs` are exactly what the truth set was built from. The history
 * starts at the beginning of the session, so Since's `historyBase` is the empty truth set
 * (the evaluator's default).
 *
 * @example
 * const needs = sceneHistoryNeeds(scene);           // at scene entry
 * if (needs.turn) earlier = await earlierHistory(source, sessionId, truthSet.lastNarrativeTs);
 */

/** Where earlier rows come from: the ledger (`Ledger`, or `ledgerHistoryReader(db)`). */
export interface HistorySource {
  /** Rows after `afterNarrativeTs`, ordered by narrative_ts. */
  eventsSince(sessionId: string, afterNarrativeTs: number): Promise<readonly LedgerRecordLike[]>;
}

/**
 * A behaviour that accepts a history source for one session, for a behaviour built
 * without `services.history` (the test harness test/support/engine-session.ts attaches
 * its session's ledger reader this way).
 */
export interface HistoryAware {
  attachHistory(sessionId: string, source: HistorySource): void;
}

export function isHistoryAware(x: unknown): x is HistoryAware {
  return typeof x === 'object' && x !== null && typeof (x as Partial<HistoryAware>).attachHistory === 'function';
}

/** Does the predicate read the ledger history (After / Since / Sequence / eventOccurred anywhere inside)? */
export function predicateUsesHistory(p: TriggerPredicate): boolean {
  if ('after' in p || 'since' in p || 'sequence' in p || 'eventOccurred' in p) return true;
  if ('all' in p) return p.all.some(predicateUsesHistory);
  if ('any' in p) return p.any.some(predicateUsesHistory);
  if ('not' in p) return predicateUsesHistory(p.not);
  if ('difference' in p) return predicateUsesHistory(p.difference.include) || predicateUsesHistory(p.difference.exclude);
  if ('threshold' in p) return p.threshold.of.some(predicateUsesHistory);
  return false;
}

/**
 * Which evaluation points of a scene need the history (computed once at scene entry; plain JSON).
 *   - `entry`: contingent cast (`when`), evaluated while the scene loads;
 *   - `stage2`: constraints (`unless`) and departures (`when`), checked while classifying the player's act;
 *   - `turn`: gates, goals, the ending and departures, checked by the storykeeper.
 * Gate/goal effects carry no conditions, so they never need it.
 */
export interface SceneHistoryNeeds {
  entry: boolean;
  stage2: boolean;
  turn: boolean;
}

export function sceneHistoryNeeds(scene: Scene): SceneHistoryNeeds {
  const any = (ps: ReadonlyArray<TriggerPredicate | undefined>) => ps.some((p) => p !== undefined && predicateUsesHistory(p));
  const departures = any(scene.departures.map((d) => d.when));
  return {
    entry: any(scene.cast.contingent.map((c) => c.when)),
    stage2: departures || any(scene.constraints.map((c) => c.unless)),
    turn: departures || any([...scene.gates.map((g) => g.condition), ...scene.goals.map((g) => g.completion), scene.ending?.when]),
  };
}

/**
 * The session's rows up to and including `upToNarrativeTs` (the truth set's horizon):
 * what the truth set before this turn was folded from. Rows beyond it (e.g. a lagging
 * stage 4 written meanwhile) are left out so history and truth set agree.
 */
export async function earlierHistory(source: HistorySource, sessionId: string, upToNarrativeTs: number): Promise<LedgerRecordLike[]> {
  const rows = await source.eventsSince(sessionId, 0);
  return rows.filter((r) => r.narrativeTs <= upToNarrativeTs);
}

/**
 * A read-only `HistorySource` over the `event_ledger` table (for behaviours built before
 * the engine's `Ledger` exists). Rows are validated like every ledger read.
 *
 * @example
 * new StoryBehaviour({ stories, history: ledgerHistoryReader(db) });
 */
export function ledgerHistoryReader(db: Queryable): HistorySource {
  return {
    async eventsSince(sessionId: string, afterNarrativeTs: number): Promise<LedgerRecord[]> {
      // Not a ledger session id (e.g. a local driver's 'local'): it has no rows.
      if (!sessionIdSchema.safeParse(sessionId).success) return [];
      const { rows } = await db.query(
        // Live and archived rows: the whole history (docs/ledger-retention.md).
        `SELECT ${ledgerColumnList('l')} FROM event_ledger_history l WHERE l.session_id = $1 AND l.narrative_ts > $2
          AND l.session_started_at = (SELECT created_at FROM sessions WHERE id = $1) ORDER BY l.narrative_ts`,
        [sessionId, afterNarrativeTs],
      );
      return rows.map(rowToRecord);
    },
  };
}
