import type { Atom, TriggerPredicate } from './predicates.ts';
import { relationshipKey } from './propositions.ts';
import {
  lastMatchIndex,
  mentionsTopic,
  matchesEventPattern,
  orderedHistory,
  sequenceHolds,
  Timeline,
  type LedgerRecordLike,
} from './temporal.ts';
import {
  accumulatorValue,
  DEFAULT_MIN_CONFIDENCE,
  findPropositions,
  holds,
  judgmentConfidence,
  worldValue,
  type TruthSet,
} from './truth-set.ts';
import { judgmentCategory } from './events.ts';

/**
 * Evaluates trigger predicates (domain.md: "Triggers and temporal predicates"):
 * atoms against the truth set, After / Since / Sequence and eventOccurred against
 * the ledger history by narrative_ts. docs/truth-set.md has the semantics table.
 */

export interface PredicateContext {
  /** The truth set now. */
  truthSet: TruthSet;
  /** Ledger rows ordered by narrative_ts (the whole session, or everything after `historyBase`). */
  history: readonly LedgerRecordLike[];
  /** Features of the current setting (settingFeature atoms). */
  settingFeatures?: readonly string[];
  /** Truth set just before history[0] — a checkpoint's snapshot when the history is partial. Default: empty. Only Since uses it. */
  historyBase?: TruthSet;
}

/** `value`: does it hold; `score` in [0,1]: 0 when false, 1 for a true factual condition, the confidence for an interpretive one. */
export interface PredicateResult {
  value: boolean;
  score: number;
}

/** Slack when comparing summed confidences with a Threshold's minMatch. */
export const SCORE_EPSILON = 1e-9;

const TRUE: PredicateResult = { value: true, score: 1 };
const FALSE: PredicateResult = { value: false, score: 0 };
const bool = (b: boolean): PredicateResult => (b ? TRUE : FALSE);

/** Interpretive: holds when confidence ≥ min, and then counts its confidence. */
function weighted(confidence: number, min: number): PredicateResult {
  return confidence >= min ? { value: true, score: Math.min(1, Math.max(0, confidence)) } : FALSE;
}

function inBounds(v: number, atLeast: number | undefined, atMost: number | undefined): boolean {
  return (atLeast === undefined || v >= atLeast) && (atMost === undefined || v <= atMost);
}

/** @internal one evaluation point: a truth set and the history up to it. */
interface Scope {
  truthSet: TruthSet;
  history: readonly LedgerRecordLike[];
  /** Only history[0, end) has happened at this point. */
  end: number;
  settingFeatures: readonly string[];
  timeline: Timeline;
}

function evaluateAtom(a: Atom, s: Scope): PredicateResult {
  const ts = s.truthSet;
  if ('holds' in a) {
    const { predicate, args } = a.holds;
    if (predicate === 'judged') {
      const category = judgmentCategory.safeParse(args[0]);
      if (!category.success) return FALSE;
      const subject = args[1] === '*' ? undefined : args[1];
      return weighted(judgmentConfidence(ts, category.data, subject), DEFAULT_MIN_CONFIDENCE);
    }
    return bool(holds(ts, predicate, ...args));
  }
  if ('eventOccurred' in a) {
    for (let i = 0; i < s.end; i++) if (matchesEventPattern(s.history[i] as LedgerRecordLike, a.eventOccurred)) return TRUE;
    return FALSE;
  }
  if ('characterPresent' in a) return bool(findPropositions(ts, 'present', a.characterPresent).length > 0);
  if ('worldState' in a) {
    const v = worldValue(ts, a.worldState.key);
    return bool(v === a.worldState.equals);
  }
  if ('topicMentioned' in a) return bool(ts.momentary.utterances.some((u) => mentionsTopic(u, a.topicMentioned)));
  if ('settingFeature' in a) return bool(s.settingFeatures.includes(a.settingFeature));
  if ('emotionalRegister' in a) {
    // The character's register is the one named by the newest EmotionalRegisterShift judgment about them.
    const { character, register } = a.emotionalRegister;
    let newest: TruthSet['judgments'][number] | undefined;
    for (const j of ts.judgments) {
      if (j.category !== 'EmotionalRegisterShift' || j.subject !== character) continue;
      if (newest === undefined || j.ts > newest.ts || (j.ts === newest.ts && j.id > newest.id)) newest = j;
    }
    if (newest === undefined || !mentionsTopic(newest.description, register)) return FALSE;
    return weighted(newest.confidence, DEFAULT_MIN_CONFIDENCE);
  }
  if ('relationship' in a) {
    const r = a.relationship;
    const key = relationshipKey(r.from, r.to, r.dimension);
    if (r.atLeast === undefined && r.atMost === undefined) return bool(Object.hasOwn(ts.accumulators, key));
    return bool(inBounds(accumulatorValue(ts, key), r.atLeast, r.atMost));
  }
  if ('accumulator' in a) {
    const r = a.accumulator;
    if (r.atLeast === undefined && r.atMost === undefined) return bool(Object.hasOwn(ts.accumulators, r.key));
    return bool(inBounds(accumulatorValue(ts, r.key), r.atLeast, r.atMost));
  }
  // judgment
  const j = a.judgment;
  return weighted(judgmentConfidence(ts, j.category, j.subject), j.minConfidence ?? DEFAULT_MIN_CONFIDENCE);
}

function evaluate(p: TriggerPredicate, s: Scope): PredicateResult {
  if ('all' in p) {
    let score = 1;
    for (const q of p.all) {
      const r = evaluate(q, s);
      if (!r.value) return FALSE;
      score = Math.min(score, r.score);
    }
    return { value: true, score };
  }
  if ('any' in p) {
    let best: PredicateResult = FALSE;
    for (const q of p.any) {
      const r = evaluate(q, s);
      if (r.value && (!best.value || r.score > best.score)) best = r;
    }
    return best;
  }
  if ('not' in p) return bool(!evaluate(p.not, s).value);
  if ('difference' in p) {
    const include = evaluate(p.difference.include, s);
    if (!include.value || evaluate(p.difference.exclude, s).value) return FALSE;
    return include;
  }
  if ('threshold' in p) {
    // Interpretive members count their confidence, factual ones 1 (domain.md).
    const sum = p.threshold.of.reduce((acc, q) => acc + evaluate(q, s).score, 0);
    // Tolerance: 0.7 + 0.4 is 1.0999999999999999 in floating point, and an author writing 1.1 means it to pass.
    return bool(sum + SCORE_EPSILON >= p.threshold.minMatch);
  }
  if ('after' in p) {
    if (lastMatchIndex(s.history, p.after.event, s.end) < 0) return FALSE;
    return evaluate(p.after.then, s);
  }
  if ('since' in p) return evaluateSince(p.since.event, p.since.holds, s);
  if ('sequence' in p) return bool(sequenceHolds(s.history, p.sequence.events, p.sequence.within, s.end));
  return evaluateAtom(p, s);
}

/**
 * Since: the newest matching event, and the inner predicate true right after it and
 * after every later row, and now. A break in between makes it false even if the
 * inner predicate holds again now.
 */
function evaluateSince(pattern: Parameters<typeof lastMatchIndex>[1], inner: TriggerPredicate, s: Scope): PredicateResult {
  const at = lastMatchIndex(s.history, pattern, s.end);
  if (at < 0) return FALSE;
  let score = 1;
  for (let k = at; k < s.end; k++) {
    const r = evaluate(inner, { ...s, truthSet: s.timeline.stateAfter(k), end: k + 1 });
    if (!r.value) return FALSE;
    score = Math.min(score, r.score);
  }
  const now = evaluate(inner, s);
  if (!now.value) return FALSE;
  return { value: true, score: Math.min(score, now.score) };
}

/**
 * Evaluates a trigger predicate.
 *
 * @example
 * evaluatePredicate(
 *   { since: { event: { type: 'ActionPerformed', action: 'take', target: 'lamp' }, holds: { characterPresent: 'mara' } } },
 *   { truthSet, history: await ledger.eventsSince(sessionId, 0) },
 * ); // → { value: true, score: 1 } when Mara has stayed since the lamp was taken
 */
export function evaluatePredicate(p: TriggerPredicate, ctx: PredicateContext): PredicateResult {
  const history = orderedHistory(ctx.history);
  return evaluate(p, {
    truthSet: ctx.truthSet,
    history,
    end: history.length,
    settingFeatures: ctx.settingFeatures ?? [],
    timeline: timelineFor(history, ctx.historyBase),
  });
}

/**
 * Timelines are reused across evaluations against the same history array and base
 * (e.g. every gate checked in one turn), so Since replays the history once. Appending
 * to the array is fine (earlier states stay valid); editing rows in place is not.
 */
const timelines = new WeakMap<readonly LedgerRecordLike[], Map<TruthSet | null, Timeline>>();

function timelineFor(history: readonly LedgerRecordLike[], base: TruthSet | undefined): Timeline {
  let byBase = timelines.get(history);
  if (byBase === undefined) timelines.set(history, (byBase = new Map()));
  let timeline = byBase.get(base ?? null);
  if (timeline === undefined) byBase.set(base ?? null, (timeline = new Timeline(history, base)));
  return timeline;
}

/** Shorthand for `evaluatePredicate(p, ctx).value`. */
export function predicateHolds(p: TriggerPredicate, ctx: PredicateContext): boolean {
  return evaluatePredicate(p, ctx).value;
}
