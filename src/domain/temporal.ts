import type { EventPattern } from './predicates.ts';
import { normaliseAction, PLAYER_ID, type TruthEvent } from './propositions.ts';
import { emptyTruthSet, TruthSetReplayer, type TruthSet } from './truth-set.ts';

/**
 * Temporal predicates (domain.md: "Triggers and temporal predicates"): event
 * patterns, and After / Since / Sequence evaluated against a ledger history ordered
 * by narrative_ts. Pure: the history is an array; `src/persistence/temporal-ledger.ts`
 * loads it from the real ledger.
 */

/** A ledger row as the evaluator needs it (`LedgerRecord` fits). */
export type LedgerRecordLike = TruthEvent;

// ---------------------------------------------------------------- event roles

/** Who acts in an event, for `EventPattern.actor`. */
export function eventActor(e: LedgerRecordLike): string | null {
  switch (e.type) {
    case 'PlayerInput':
      return PLAYER_ID;
    case 'ActionPerformed':
    case 'MovementAction':
    case 'ExaminationAction':
    case 'ConstraintViolation':
      return e.data.actor;
    case 'SpeechAct':
      return e.data.speaker;
    case 'CharacterArrival':
    case 'CharacterDeparture':
      return e.data.character;
    case 'RelationshipShifted':
      return e.data.from;
    default:
      return null;
  }
}

/** What an event acts on, for `EventPattern.target`. */
export function eventTarget(e: LedgerRecordLike): string | null {
  switch (e.type) {
    case 'ActionPerformed':
    case 'ExaminationAction':
      return e.data.target ?? null;
    case 'SpeechAct':
      return e.data.addressee ?? null;
    case 'MovementAction':
      return e.data.to;
    case 'InformationRevealed':
      return e.data.recipient;
    case 'RelationshipShifted':
      return e.data.to;
    case 'InterpretiveJudgment':
      return e.data.subject ?? null;
    case 'EntityPromoted':
    case 'EntityDemoted':
    case 'EntityDissolved':
      return e.data.entity;
    case 'GateFired':
      return e.data.gateId;
    case 'GoalCompleted':
      return e.data.goalId;
    case 'WorldStateChanged':
    case 'ThresholdCrossed':
      return e.data.key;
    case 'SceneEntered':
    case 'SceneExited':
      return e.data.sceneKey;
    default:
      return null;
  }
}

/** Prose fields: an id that happens to appear in them does not make the event "involve" it. */
const PROSE_FIELDS: ReadonlySet<string> = new Set(['text', 'content', 'description', 'clientInputId', 'reason', 'constraint']);

/** Every entity-like string of the event: its actor, target and non-prose string fields (arrays included). */
export function eventParticipants(e: LedgerRecordLike): Set<string> {
  const out = new Set<string>();
  const actor = eventActor(e);
  if (actor !== null) out.add(actor);
  for (const [field, value] of Object.entries(e.data as Record<string, unknown>)) {
    if (PROSE_FIELDS.has(field)) continue;
    if (typeof value === 'string') out.add(value);
    else if (Array.isArray(value)) for (const v of value) if (typeof v === 'string') out.add(v);
  }
  return out;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Compiled topic patterns (a story has a bounded set of topics; the cache is capped anyway). */
const topicPatterns = new Map<string, RegExp>();
const MAX_TOPIC_PATTERNS = 512;

/** Case-insensitive whole-word (or whole-phrase) occurrence of `topic` in `text`. */
export function mentionsTopic(text: string, topic: string): boolean {
  const t = topic.trim();
  if (t === '') return false;
  let re = topicPatterns.get(t);
  if (re === undefined) {
    re = new RegExp(`(?<![\\p{L}\\p{N}_])${escapeRegExp(t)}(?![\\p{L}\\p{N}_])`, 'iu');
    if (topicPatterns.size >= MAX_TOPIC_PATTERNS) topicPatterns.clear();
    topicPatterns.set(t, re);
  }
  return re.test(text);
}

/** Text of an event that topics are looked for in: PlayerInput text, SpeechAct content. */
export function eventText(e: LedgerRecordLike): string | null {
  if (e.type === 'PlayerInput') return e.data.text;
  if (e.type === 'SpeechAct') return e.data.content;
  return null;
}

/**
 * Does an event match a pattern? Every given field must match.
 *
 * @example
 * matchesEventPattern(record, { type: 'ActionPerformed', actor: 'player', action: 'take', target: 'lamp' });
 */
export function matchesEventPattern(e: LedgerRecordLike, pattern: EventPattern): boolean {
  if (pattern.type !== undefined && e.type !== pattern.type) return false;
  if (pattern.eventId !== undefined && e.id !== pattern.eventId) return false;
  if (pattern.actor !== undefined && eventActor(e) !== pattern.actor) return false;
  if (pattern.target !== undefined && eventTarget(e) !== pattern.target) return false;
  if (pattern.action !== undefined) {
    const action = e.type === 'ActionPerformed' || e.type === 'ConstraintViolation' ? e.data.action : null;
    if (action === null || normaliseAction(action) !== normaliseAction(pattern.action)) return false;
  }
  if (pattern.involving !== undefined && !eventParticipants(e).has(pattern.involving)) return false;
  if (pattern.topic !== undefined) {
    const text = eventText(e);
    if (text === null || !mentionsTopic(text, pattern.topic)) return false;
  }
  return true;
}

/** How much of a history array is known to be in order (appending keeps the prefix checked). */
const checkedOrder = new WeakMap<readonly LedgerRecordLike[], number>();

/** History in narrative_ts order (already-ordered input is returned as is, and checked once). */
export function orderedHistory(history: readonly LedgerRecordLike[]): readonly LedgerRecordLike[] {
  const from = Math.max(1, checkedOrder.get(history) ?? 1);
  for (let i = from; i < history.length; i++) {
    if ((history[i - 1] as LedgerRecordLike).narrativeTs > (history[i] as LedgerRecordLike).narrativeTs) {
      return [...history].sort((a, b) => a.narrativeTs - b.narrativeTs);
    }
  }
  checkedOrder.set(history, history.length);
  return history;
}

/** Index of the last event in history[0, end) matching the pattern, or -1. */
export function lastMatchIndex(history: readonly LedgerRecordLike[], pattern: EventPattern, end = history.length): number {
  for (let i = end - 1; i >= 0; i--) if (matchesEventPattern(history[i] as LedgerRecordLike, pattern)) return i;
  return -1;
}

/**
 * Sequence: distinct events matching each pattern in this order (strictly later
 * rows), and, if `within` is given, last.narrativeTs − first.narrativeTs ≤ within.
 * One pass: for each prefix of the patterns we keep the latest possible start, which
 * gives the shortest span ending at each event.
 */
export function sequenceSpan(history: readonly LedgerRecordLike[], patterns: readonly EventPattern[], end = history.length): number | null {
  if (patterns.length === 0) return null;
  const latestStart: Array<number | null> = patterns.map(() => null);
  let best: number | null = null;
  for (let i = 0; i < end; i++) {
    const e = history[i] as LedgerRecordLike;
    // Descending, so one event never serves two consecutive patterns.
    for (let j = patterns.length - 1; j >= 0; j--) {
      if (!matchesEventPattern(e, patterns[j] as EventPattern)) continue;
      const start = j === 0 ? e.narrativeTs : latestStart[j - 1];
      if (start === null || start === undefined) continue;
      const prev = latestStart[j];
      if (prev === null || prev === undefined || start > prev) latestStart[j] = start;
      if (j === patterns.length - 1) {
        const span = e.narrativeTs - start;
        if (best === null || span < best) best = span;
      }
    }
  }
  return best;
}

export function sequenceHolds(history: readonly LedgerRecordLike[], patterns: readonly EventPattern[], within?: number, end = history.length): boolean {
  const span = sequenceSpan(history, patterns, end);
  return span !== null && (within === undefined || span <= within);
}

/**
 * The truth set after each history row, rebuilt from `base` (the truth set just
 * before history[0]) on demand and shared by every Since in one evaluation. A cursor
 * serves the usual forward scan; every 64th state is kept so that a request further
 * back (a nested Since) replays at most 63 rows. Memory stays O(rows / 64).
 */
export class Timeline {
  static readonly KEEP_EVERY = 64;
  private readonly kept = new Map<number, TruthSet>();
  private cursor: { index: number; replayer: TruthSetReplayer; state: TruthSet | null } | null = null;

  constructor(
    readonly history: readonly LedgerRecordLike[],
    readonly base: TruthSet = emptyTruthSet(),
  ) {}

  /** Truth set right after history[index] was applied. */
  stateAfter(index: number): TruthSet {
    if (index < 0 || index >= this.history.length) throw new RangeError(`no history row ${index}`);
    const kept = this.kept.get(index);
    if (kept !== undefined) return kept;
    if (this.cursor === null || this.cursor.index > index) {
      const from = index - (index % Timeline.KEEP_EVERY) - 1; // the nearest kept index below, or -1 (the base)
      let start = -1;
      for (let k = from; k >= 0; k -= Timeline.KEEP_EVERY) {
        if (this.kept.has(k)) {
          start = k;
          break;
        }
      }
      this.cursor = { index: start, replayer: new TruthSetReplayer(start < 0 ? this.base : (this.kept.get(start) as TruthSet)), state: null };
    }
    const c = this.cursor;
    while (c.index < index) {
      c.index += 1;
      c.replayer.apply(this.history[c.index] as LedgerRecordLike);
      c.state = null;
      if ((c.index + 1) % Timeline.KEEP_EVERY === 0) this.kept.set(c.index, (c.state = c.replayer.snapshot()));
    }
    c.state ??= c.replayer.snapshot();
    return c.state;
  }
}
