import type { LedgerRecord } from '../domain/events.ts';
import { evaluatePredicate, type PredicateContext, type PredicateResult } from '../domain/predicate-eval.ts';
import type { TriggerPredicate } from '../domain/predicates.ts';
import { reconstructTruthSet, type TruthSet } from '../domain/truth-set.ts';
import type { LedgerReader } from './truth-set-replay.ts';

/**
 * Temporal predicates against the real ledger (seed: "Event Ledger" — the
 * narrative_ts column serves After, Since and Sequence). Loads a session's rows in
 * narrative_ts order and evaluates in memory with the pure evaluator, so the
 * semantics are exactly those of src/domain/temporal.ts.
 */

export interface LedgerPredicateOptions {
  /** The truth set now (e.g. the live one, which may be ahead of the durable rows). Default: rebuilt from the rows read. */
  truthSet?: TruthSet;
  settingFeatures?: readonly string[];
  /**
   * Read only the rows after this snapshot (a checkpoint's truth set and ledger_ts): cheaper,
   * but eventOccurred / After / Since / Sequence then see only events after it. Default: the whole session.
   */
  window?: { truthSet: TruthSet; ledgerTs: number };
}

/**
 * The evaluation context for a session, from its ledger rows.
 *
 * @example
 * const ctx = await ledgerPredicateContext(ledger, sessionId, { truthSet: live });
 * evaluatePredicate({ sequence: { events: [{ type: 'GateFired' }, { type: 'GoalCompleted' }], within: 20 } }, ctx);
 */
export async function ledgerPredicateContext(ledger: LedgerReader, sessionId: string, options: LedgerPredicateOptions = {}): Promise<PredicateContext> {
  const window = options.window;
  const history: LedgerRecord[] = await ledger.eventsSince(sessionId, window?.ledgerTs ?? 0);
  const truthSet = options.truthSet ?? reconstructTruthSet(window?.truthSet ?? null, history);
  return {
    truthSet,
    history,
    ...(options.settingFeatures ? { settingFeatures: options.settingFeatures } : {}),
    ...(window ? { historyBase: window.truthSet } : {}),
  };
}

/**
 * Evaluates a trigger predicate (After / Since / Sequence included) against the session's ledger.
 *
 * @example
 * const { value } = await evaluateOnLedger(ledger, sessionId, { after: { event: { type: 'GateFired' }, then: { characterPresent: 'mara' } } });
 */
export async function evaluateOnLedger(
  ledger: LedgerReader,
  sessionId: string,
  predicate: TriggerPredicate,
  options: LedgerPredicateOptions = {},
): Promise<PredicateResult> {
  return evaluatePredicate(predicate, await ledgerPredicateContext(ledger, sessionId, options));
}
