import { z } from 'zod';
import { judgmentCategory, type JudgmentCategory } from './events.ts';
import { translateEvent, WILDCARD, type JudgmentEntry, type TruthEvent, type TruthOp } from './propositions.ts';

/**
 * The truth set (seed: "Truth Set Reconstruction"; domain.md: "Events"): what is true
 * in a session now, as plain JSON. It is a materialised view of the ledger — the
 * newest checkpoint's snapshot plus a replay of the ledger rows after it gives the
 * same value as building it event by event (property-tested).
 *
 * Canonical form: every array is sorted and every object's keys are in code-unit
 * order, so two equal truth sets serialise to identical JSON.
 */

export type { JudgmentEntry, TruthEvent } from './propositions.ts';

/** A factual proposition, e.g. holds(player, lamp); `since` = narrative_ts it became true (the temporal index). */
export interface PropositionEntry {
  predicate: string;
  args: string[];
  since: number;
}

export interface TruthSet {
  version: 1;
  /** narrative_ts of the newest event applied (0 = none). */
  lastNarrativeTs: number;
  /** Turn of the newest PlayerInput / TurnCompleted seen. */
  turn: number | null;
  /** Turn of the newest TurnCompleted seen. */
  completedTurn: number | null;
  scene: { id: string; key: string } | null;
  /** holds, at, knows, gate_fired, goal_completed, visited, present, tier, dissolved, departed, threshold_crossed, asserted effects. */
  persistent: PropositionEntry[];
  /** examined, said, did, violated: valid for the current turn only. */
  momentary: {
    /** The turn they belong to (from its PlayerInput); null before the first input. */
    turn: number | null;
    propositions: PropositionEntry[];
    /** PlayerInput text and SpeechAct content of the current turn (topicMentioned). */
    utterances: string[];
  };
  /** Contributions to judged(category, subject); combined by noisy-OR (see `judgmentConfidence`). */
  judgments: JudgmentEntry[];
  /** key → number, e.g. rel:mara:player:trust_benevolence. */
  accumulators: Record<string, number>;
  /** World state key → JSON value (absent = unset). */
  world: Record<string, unknown>;
}

/** At most this many judgments are kept per (category, subject); the oldest drop out first. */
export const MAX_JUDGMENTS_PER_PROPOSITION = 16;

/** Default minimum confidence for an interpretive proposition to hold. */
export const DEFAULT_MIN_CONFIDENCE = 0.5;

// ---------------------------------------------------------------- canonical JSON

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function sortKeysDeep(v: Json): Json {
  if (Array.isArray(v)) return v.map(sortKeysDeep);
  if (v !== null && typeof v === 'object') {
    const out: { [k: string]: Json } = {};
    for (const k of Object.keys(v).sort(compareStrings)) out[k] = sortKeysDeep(v[k] as Json);
    return out;
  }
  return v;
}

/** What a value becomes after a trip through JSONB (undefined → null, -0 → 0, NaN → null), keys sorted. */
export function toCanonicalJson(value: unknown): unknown {
  if (value === undefined) return null;
  const text = JSON.stringify(value);
  return text === undefined ? null : sortKeysDeep(JSON.parse(text) as Json);
}

function propositionKey(predicate: string, args: readonly string[]): string {
  return JSON.stringify([predicate, ...args]);
}

function sortedRecord<V>(entries: Iterable<[string, V]>): Record<string, V> {
  const out: Record<string, V> = {};
  for (const [k, v] of [...entries].sort((a, b) => compareStrings(a[0], b[0]))) out[k] = v;
  return out;
}

function compareJudgments(a: JudgmentEntry, b: JudgmentEntry): number {
  return (
    compareStrings(a.category, b.category) ||
    compareStrings(a.subject ?? '', b.subject ?? '') ||
    (a.subject === null ? 0 : 1) - (b.subject === null ? 0 : 1) ||
    a.ts - b.ts ||
    compareStrings(a.id, b.id)
  );
}

// ---------------------------------------------------------------- schema (read-back from checkpoints)

const propositionEntrySchema = z.object({ predicate: z.string().min(1), args: z.array(z.string()), since: z.number() });
const judgmentEntrySchema = z.object({
  id: z.string().min(1),
  category: judgmentCategory,
  subject: z.string().nullable(),
  confidence: z.number().min(0).max(1),
  provisional: z.boolean(),
  ts: z.number(),
  description: z.string(),
});

/**
 * zod schema for a truth set read back from JSON (checkpoints.truth_set). The
 * result is re-canonicalised, so a snapshot edited by hand still compares equal.
 */
export const truthSetSchema: z.ZodType<TruthSet> = z
  .object({
    version: z.literal(1),
    lastNarrativeTs: z.number().int().nonnegative(),
    turn: z.number().int().nullable(),
    completedTurn: z.number().int().nullable(),
    scene: z.object({ id: z.string(), key: z.string() }).nullable(),
    persistent: z.array(propositionEntrySchema),
    momentary: z.object({ turn: z.number().int().nullable(), propositions: z.array(propositionEntrySchema), utterances: z.array(z.string()) }),
    judgments: z.array(judgmentEntrySchema),
    accumulators: z.record(z.string(), z.number()),
    world: z.record(z.string(), z.unknown()),
  })
  .transform((raw): TruthSet => {
    const world = Object.fromEntries(Object.entries(raw.world).map(([k, v]) => [k, toCanonicalJson(v)]));
    return TruthSetDraft.from({ ...(raw as TruthSet), world }).toTruthSet();
  });

export function emptyTruthSet(): TruthSet {
  return {
    version: 1,
    lastNarrativeTs: 0,
    turn: null,
    completedTurn: null,
    scene: null,
    persistent: [],
    momentary: { turn: null, propositions: [], utterances: [] },
    judgments: [],
    accumulators: {},
    world: {},
  };
}

// ---------------------------------------------------------------- matching

/** Pattern args are a prefix of the proposition's args; `*` matches any value. */
export function argsMatch(pattern: readonly string[], args: readonly string[]): boolean {
  if (pattern.length > args.length) return false;
  return pattern.every((p, i) => p === WILDCARD || p === args[i]);
}

// ---------------------------------------------------------------- the mutable working copy

/** @internal Mutable form used while applying many events; converted back to canonical JSON once. */
class TruthSetDraft {
  lastNarrativeTs = 0;
  turn: number | null = null;
  completedTurn: number | null = null;
  scene: { id: string; key: string } | null = null;
  persistent = new Map<string, PropositionEntry>();
  momentaryTurn: number | null = null;
  momentary = new Map<string, PropositionEntry>();
  utterances: string[] = [];
  judgments = new Map<string, JudgmentEntry>();
  accumulators = new Map<string, number>();
  world = new Map<string, unknown>();

  static from(ts: TruthSet): TruthSetDraft {
    const d = new TruthSetDraft();
    d.lastNarrativeTs = ts.lastNarrativeTs;
    d.turn = ts.turn;
    d.completedTurn = ts.completedTurn;
    d.scene = ts.scene === null ? null : { id: ts.scene.id, key: ts.scene.key };
    for (const p of ts.persistent) d.persistent.set(propositionKey(p.predicate, p.args), { predicate: p.predicate, args: [...p.args], since: p.since });
    d.momentaryTurn = ts.momentary.turn;
    for (const p of ts.momentary.propositions) d.momentary.set(propositionKey(p.predicate, p.args), { predicate: p.predicate, args: [...p.args], since: p.since });
    d.utterances = [...ts.momentary.utterances];
    for (const j of ts.judgments) d.judgments.set(j.id, { ...j });
    for (const [k, v] of Object.entries(ts.accumulators)) d.accumulators.set(k, v);
    // World values are immutable JSON (setWorld replaces, never edits), so they are shared, not copied.
    for (const [k, v] of Object.entries(ts.world)) if (v !== null && v !== undefined) d.world.set(k, v);
    return d;
  }

  apply(e: TruthEvent): void {
    for (const op of translateEvent(e)) this.applyOp(op, e);
    if (e.narrativeTs > this.lastNarrativeTs) this.lastNarrativeTs = e.narrativeTs;
  }

  private applyOp(op: TruthOp, e: TruthEvent): void {
    switch (op.op) {
      case 'assert': {
        if (op.scope === 'momentary') {
          // A late row from a turn that is already over (async writes) does not leak into the current turn.
          const eventTurn = e.turn ?? null;
          if (eventTurn !== null && this.momentaryTurn !== null && eventTurn < this.momentaryTurn) return;
        }
        const target = op.scope === 'persistent' ? this.persistent : this.momentary;
        const key = propositionKey(op.predicate, op.args);
        if (!target.has(key)) target.set(key, { predicate: op.predicate, args: [...op.args], since: e.narrativeTs });
        return;
      }
      case 'retract':
        for (const [key, p] of this.persistent) if (p.predicate === op.predicate && argsMatch(op.args, p.args)) this.persistent.delete(key);
        return;
      case 'placeWhereHolderIs': {
        const place = [...this.persistent.values()].find((p) => p.predicate === 'at' && p.args[0] === op.holder)?.args[1];
        if (place !== undefined) this.applyOp({ op: 'assert', scope: 'persistent', predicate: 'at', args: [op.item, place] }, e);
        return;
      }
      case 'beginTurn':
        this.clearMomentary();
        this.momentaryTurn = op.turn;
        if (op.turn !== null) this.turn = op.turn;
        return;
      case 'clearMomentary':
        this.clearMomentary();
        return;
      case 'utterance': {
        const eventTurn = e.turn ?? null;
        if (e.type !== 'PlayerInput' && eventTurn !== null && this.momentaryTurn !== null && eventTurn < this.momentaryTurn) return;
        this.utterances.push(op.text);
        return;
      }
      case 'setScene':
        this.scene = op.scene;
        return;
      case 'setWorld': {
        const value = toCanonicalJson(op.value);
        if (value === null) this.world.delete(op.key);
        else this.world.set(op.key, value);
        return;
      }
      case 'addAccumulator':
        this.accumulators.set(op.key, (this.accumulators.get(op.key) ?? 0) + op.delta);
        return;
      case 'judge':
        if (op.replaces !== null) this.judgments.delete(op.replaces);
        // `+ 0` turns -0 into 0, as a JSON round trip would.
        this.judgments.set(op.judgment.id, { ...op.judgment, confidence: op.judgment.confidence + 0 });
        this.capJudgments(op.judgment.category, op.judgment.subject);
        return;
      case 'completeTurn':
        this.completedTurn = op.turn;
        this.turn = this.turn === null ? op.turn : Math.max(this.turn, op.turn);
        return;
    }
  }

  private clearMomentary(): void {
    this.momentary.clear();
    this.utterances = [];
  }

  private capJudgments(category: JudgmentCategory, subject: string | null): void {
    const same = [...this.judgments.values()].filter((j) => j.category === category && j.subject === subject).sort(compareJudgments);
    for (const j of same.slice(0, Math.max(0, same.length - MAX_JUDGMENTS_PER_PROPOSITION))) this.judgments.delete(j.id);
  }

  toTruthSet(): TruthSet {
    const sortedEntries = (m: Map<string, PropositionEntry>): PropositionEntry[] =>
      [...m.entries()].sort((a, b) => compareStrings(a[0], b[0])).map(([, p]) => ({ predicate: p.predicate, args: [...p.args], since: p.since }));
    return {
      version: 1,
      lastNarrativeTs: this.lastNarrativeTs,
      turn: this.turn,
      completedTurn: this.completedTurn,
      scene: this.scene === null ? null : { id: this.scene.id, key: this.scene.key },
      persistent: sortedEntries(this.persistent),
      momentary: {
        turn: this.momentaryTurn,
        propositions: sortedEntries(this.momentary),
        utterances: [...this.utterances],
      },
      judgments: [...this.judgments.values()]
        .map((j) => ({ id: j.id, category: j.category, subject: j.subject, confidence: j.confidence, provisional: j.provisional, ts: j.ts, description: j.description }))
        .sort(compareJudgments),
      accumulators: sortedRecord([...this.accumulators].map(([k, v]): [string, number] => [k, v === 0 ? 0 : v])),
      world: sortedRecord(this.world),
    };
  }
}

// ---------------------------------------------------------------- public API

/**
 * Applies one event's translation rules; pure (returns a new truth set).
 *
 * @example
 * const ts = applyEvent(emptyTruthSet(), { type: 'ActionPerformed', data: { actor: 'player', action: 'take', target: 'lamp' }, narrativeTs: 1 });
 * holds(ts, 'holds', 'player', 'lamp'); // true
 */
export function applyEvent(ts: TruthSet, e: TruthEvent): TruthSet {
  const d = TruthSetDraft.from(ts);
  d.apply(e);
  return d.toTruthSet();
}

/**
 * Applies many events in order (one conversion to JSON at the end, so cheaper than
 * folding `applyEvent`, with the same result).
 */
export function applyEvents(ts: TruthSet, events: Iterable<TruthEvent>): TruthSet {
  const d = TruthSetDraft.from(ts);
  for (const e of events) d.apply(e);
  return d.toTruthSet();
}

/**
 * Seed "Truth Set Reconstruction": the checkpoint's truth set (or empty) plus a
 * replay of the ledger rows after it, in narrative_ts order. Rows at or before the
 * snapshot's `lastNarrativeTs` are already in it and are skipped, so an overlapping
 * read is harmless.
 *
 * @example
 * const ts = reconstructTruthSet(checkpoint ? truthSetSchema.parse(checkpoint.truthSet) : null, await ledger.eventsSince(id, checkpoint?.ledgerTs ?? 0));
 */
export function reconstructTruthSet(fromCheckpoint: TruthSet | null, records: readonly TruthEvent[]): TruthSet {
  const base = fromCheckpoint ?? emptyTruthSet();
  const pending = records.filter((r) => r.narrativeTs > base.lastNarrativeTs);
  const ordered = pending.every((r, i) => i === 0 || (pending[i - 1] as TruthEvent).narrativeTs <= r.narrativeTs)
    ? pending
    : [...pending].sort((a, b) => a.narrativeTs - b.narrativeTs);
  return applyEvents(base, ordered);
}

/**
 * Incremental replay that materialises a truth set only when asked: cheaper than
 * folding `applyEvent` when only some intermediate states are needed (Since).
 * @internal
 */
export class TruthSetReplayer {
  readonly #draft: TruthSetDraft;

  constructor(base: TruthSet) {
    this.#draft = TruthSetDraft.from(base);
  }

  apply(e: TruthEvent): void {
    this.#draft.apply(e);
  }

  snapshot(): TruthSet {
    return this.#draft.toTruthSet();
  }
}

/** Factual propositions (persistent, then momentary) matching predicate + arg pattern. */
export function findPropositions(ts: TruthSet, predicate: string, ...args: string[]): PropositionEntry[] {
  const match = (p: PropositionEntry) => p.predicate === predicate && argsMatch(args, p.args);
  return [...ts.persistent.filter(match), ...ts.momentary.propositions.filter(match)];
}

/**
 * Combined confidence of judged(category, subject): noisy-OR of the kept judgments,
 * 1 − Π(1 − cᵢ), so independent evidence strengthens belief and a single judgment
 * counts its own confidence. Without `subject`, the strongest subject counts.
 */
export function judgmentConfidence(ts: TruthSet, category: JudgmentCategory, subject?: string): number {
  const groups = new Map<string, number>();
  for (const j of ts.judgments) {
    if (j.category !== category) continue;
    if (subject !== undefined && j.subject !== subject) continue;
    const key = j.subject ?? '\u0000';
    groups.set(key, (groups.get(key) ?? 1) * (1 - j.confidence));
  }
  let best = 0;
  for (const miss of groups.values()) best = Math.max(best, 1 - miss);
  return best;
}

/** World value of `key`, or null when unset. */
export function worldValue(ts: TruthSet, key: string): unknown {
  return Object.hasOwn(ts.world, key) ? ts.world[key] : null;
}

/** Accumulator value (0 when never touched). */
export function accumulatorValue(ts: TruthSet, key: string): number {
  return Object.hasOwn(ts.accumulators, key) ? (ts.accumulators[key] as number) : 0;
}

function worldMatches(value: unknown, expected: string): boolean {
  if (value === null || typeof value === 'object') return JSON.stringify(value) === expected;
  return String(value) === expected;
}

/**
 * Does a proposition hold? Arguments are a prefix pattern (`*` = any), so
 * `holds(ts, 'at', 'player')` asks "is the player anywhere known". Besides the
 * factual predicates it understands `world(key[, value])` and
 * `judged(category[, subject])` (combined confidence ≥ 0.5).
 *
 * @example
 * holds(ts, 'holds', 'player', 'lamp'); holds(ts, 'did', 'player', 'take'); holds(ts, 'judged', 'TrustShift', 'mara');
 */
export function holds(ts: TruthSet, predicate: string, ...args: string[]): boolean {
  if (predicate === 'world') {
    const [key, expected] = args;
    if (key === undefined) return Object.keys(ts.world).length > 0;
    const value = worldValue(ts, key);
    if (value === null) return expected === 'null';
    return expected === undefined || expected === WILDCARD || worldMatches(value, expected);
  }
  if (predicate === 'judged') {
    const [category, subject] = args;
    const parsed = judgmentCategory.safeParse(category);
    if (!parsed.success) return false;
    return judgmentConfidence(ts, parsed.data, subject === WILDCARD ? undefined : subject) >= DEFAULT_MIN_CONFIDENCE;
  }
  return findPropositions(ts, predicate, ...args).length > 0;
}

/** narrative_ts since which a factual proposition has held (exact args), or null. */
export function propositionSince(ts: TruthSet, predicate: string, ...args: string[]): number | null {
  const key = propositionKey(predicate, args);
  const p = [...ts.persistent, ...ts.momentary.propositions].find((x) => propositionKey(x.predicate, x.args) === key);
  return p?.since ?? null;
}
