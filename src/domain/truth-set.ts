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

// ---------------------------------------------------------------- canonical order and JSON

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

/** Canonical proposition order: predicate, then args position by position (a prefix first). */
function compareStatements(ap: string, aa: readonly string[], bp: string, ba: readonly string[]): number {
  const c = compareStrings(ap, bp);
  if (c !== 0) return c;
  const n = Math.min(aa.length, ba.length);
  for (let i = 0; i < n; i++) {
    const d = compareStrings(aa[i] as string, ba[i] as string);
    if (d !== 0) return d;
  }
  return aa.length - ba.length;
}

const compareEntries = (a: PropositionEntry, b: PropositionEntry): number => compareStatements(a.predicate, a.args, b.predicate, b.args);

/** Canonical judgment order: category, subject (none first), ts, id — a proposition's judgments are adjacent, oldest first. */
function compareJudgments(a: JudgmentEntry, b: JudgmentEntry): number {
  return (
    compareStrings(a.category, b.category) ||
    (a.subject === null ? 0 : 1) - (b.subject === null ? 0 : 1) ||
    compareStrings(a.subject ?? '', b.subject ?? '') ||
    a.ts - b.ts ||
    compareStrings(a.id, b.id)
  );
}

const sameProposition = (a: JudgmentEntry, b: { category: JudgmentCategory; subject: string | null }): boolean =>
  a.category === b.category && a.subject === b.subject;

/** First index whose element is not less than the probe. */
function lowerBound<T>(xs: readonly T[], less: (x: T) => boolean): number {
  let lo = 0;
  let hi = xs.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (less(xs[mid] as T)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Index range [from, to) of the entries with this predicate. */
function predicateRange(xs: readonly PropositionEntry[], predicate: string): [number, number] {
  const from = lowerBound(xs, (x) => compareStrings(x.predicate, predicate) < 0);
  const to = lowerBound(xs, (x) => compareStrings(x.predicate, predicate) <= 0);
  return [from, to];
}

function sortedRecord<V>(entries: Iterable<[string, V]>): Record<string, V> {
  const out: Record<string, V> = {};
  for (const [k, v] of [...entries].sort((a, b) => compareStrings(a[0], b[0]))) out[k] = v;
  return out;
}

/**
 * Puts a structurally valid truth set into canonical form: sorted, de-duplicated
 * propositions and judgments, sorted keys, world values as JSONB returns them.
 */
function canonicalise(raw: TruthSet): TruthSet {
  const props = (xs: readonly PropositionEntry[]): PropositionEntry[] => {
    const sorted = xs.map((p) => ({ predicate: p.predicate, args: [...p.args], since: p.since })).sort((a, b) => compareEntries(a, b) || a.since - b.since);
    return sorted.filter((p, i) => i === 0 || compareEntries(sorted[i - 1] as PropositionEntry, p) !== 0);
  };
  const byId = new Map<string, JudgmentEntry>();
  for (const j of raw.judgments) byId.set(j.id, { ...j, confidence: j.confidence + 0 });
  return {
    version: 1,
    lastNarrativeTs: raw.lastNarrativeTs,
    turn: raw.turn,
    completedTurn: raw.completedTurn,
    scene: raw.scene === null ? null : { id: raw.scene.id, key: raw.scene.key },
    persistent: props(raw.persistent),
    momentary: { turn: raw.momentary.turn, propositions: props(raw.momentary.propositions), utterances: [...raw.momentary.utterances] },
    judgments: [...byId.values()].sort(compareJudgments),
    accumulators: sortedRecord(Object.entries(raw.accumulators).map(([k, v]): [string, number] => [k, v + 0])),
    world: sortedRecord(
      Object.entries(raw.world)
        .map(([k, v]): [string, unknown] => [k, toCanonicalJson(v)])
        .filter(([, v]) => v !== null),
    ),
  };
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
 * A truth set built by hand must go through it before `applyEvent`.
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
  .transform((raw): TruthSet => canonicalise(raw as TruthSet));

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

// ---------------------------------------------------------------- the working copy

/**
 * A sorted array shared with the truth set it came from until the first change
 * (copy-on-write): a truth set is never mutated, so unchanged parts of a new truth
 * set are the very arrays of the old one, and an event costs what it touches.
 */
class CowArray<T> {
  #items: T[];
  #owned = false;

  constructor(items: readonly T[]) {
    this.#items = items as T[];
  }

  get items(): readonly T[] {
    return this.#items;
  }

  /** The array to change in place. */
  mutable(): T[] {
    if (!this.#owned) {
      this.#items = this.#items.slice();
      this.#owned = true;
    }
    return this.#items;
  }

  /** Hands the array out to a truth set: later changes copy again. */
  share(): T[] {
    this.#owned = false;
    return this.#items;
  }
}

/** Same idea for the key → value records (accumulators, world), whose keys stay sorted. */
class CowRecord<V> {
  #record: Record<string, V>;
  #owned = false;

  constructor(record: Record<string, V>) {
    this.#record = record;
  }

  get(key: string): V | undefined {
    return Object.hasOwn(this.#record, key) ? this.#record[key] : undefined;
  }

  set(key: string, value: V): void {
    if (Object.hasOwn(this.#record, key)) {
      if (!this.#owned) {
        this.#record = { ...this.#record };
        this.#owned = true;
      }
      this.#record[key] = value;
    } else {
      // A new key: rebuild so the keys stay in canonical order.
      this.#record = sortedRecord([...Object.entries(this.#record), [key, value]]);
      this.#owned = true;
    }
  }

  delete(key: string): void {
    if (!Object.hasOwn(this.#record, key)) return;
    const { [key]: _removed, ...rest } = this.#record;
    this.#record = rest;
    this.#owned = true;
  }

  share(): Record<string, V> {
    this.#owned = false;
    return this.#record;
  }
}

/** @internal Working copy while applying events; `toTruthSet` hands out canonical JSON sharing unchanged parts. */
class TruthSetDraft {
  lastNarrativeTs: number;
  turn: number | null;
  completedTurn: number | null;
  scene: { id: string; key: string } | null;
  readonly persistent: CowArray<PropositionEntry>;
  momentaryTurn: number | null;
  momentary: CowArray<PropositionEntry>;
  utterances: CowArray<string>;
  readonly judgments: CowArray<JudgmentEntry>;
  readonly accumulators: CowRecord<number>;
  readonly world: CowRecord<unknown>;

  /** `ts` must be canonical (from emptyTruthSet, applyEvent or truthSetSchema). */
  constructor(ts: TruthSet) {
    this.lastNarrativeTs = ts.lastNarrativeTs;
    this.turn = ts.turn;
    this.completedTurn = ts.completedTurn;
    this.scene = ts.scene;
    this.persistent = new CowArray(ts.persistent);
    this.momentaryTurn = ts.momentary.turn;
    this.momentary = new CowArray(ts.momentary.propositions);
    this.utterances = new CowArray(ts.momentary.utterances);
    this.judgments = new CowArray(ts.judgments);
    this.accumulators = new CowRecord(ts.accumulators);
    this.world = new CowRecord(ts.world);
  }

  apply(e: TruthEvent): void {
    for (const op of translateEvent(e)) this.applyOp(op, e);
    if (e.narrativeTs > this.lastNarrativeTs) this.lastNarrativeTs = e.narrativeTs;
  }

  /** A late row from a turn that is already over (async writes) does not leak into the current turn. */
  private isStale(e: TruthEvent): boolean {
    const eventTurn = e.turn ?? null;
    return e.type !== 'PlayerInput' && eventTurn !== null && this.momentaryTurn !== null && eventTurn < this.momentaryTurn;
  }

  private assert(target: CowArray<PropositionEntry>, predicate: string, args: readonly string[], since: number): void {
    const at = lowerBound(target.items, (x) => compareStatements(x.predicate, x.args, predicate, args) < 0);
    const found = target.items[at];
    if (found !== undefined && compareStatements(found.predicate, found.args, predicate, args) === 0) return; // already true: keep its `since`
    target.mutable().splice(at, 0, { predicate, args: [...args], since });
  }

  private applyOp(op: TruthOp, e: TruthEvent): void {
    switch (op.op) {
      case 'assert':
        if (op.scope === 'momentary' && this.isStale(e)) return;
        this.assert(op.scope === 'persistent' ? this.persistent : this.momentary, op.predicate, op.args, e.narrativeTs);
        return;
      case 'retract': {
        const [from, to] = predicateRange(this.persistent.items, op.predicate);
        const doomed: number[] = [];
        for (let i = from; i < to; i++) if (argsMatch(op.args, (this.persistent.items[i] as PropositionEntry).args)) doomed.push(i);
        if (doomed.length === 0) return;
        const items = this.persistent.mutable();
        for (let k = doomed.length - 1; k >= 0; k--) items.splice(doomed[k] as number, 1);
        return;
      }
      case 'placeWhereHolderIs': {
        const [from, to] = predicateRange(this.persistent.items, 'at');
        for (let i = from; i < to; i++) {
          const p = this.persistent.items[i] as PropositionEntry;
          if (p.args[0] === op.holder && p.args[1] !== undefined) {
            this.assert(this.persistent, 'at', [op.item, p.args[1]], e.narrativeTs);
            return;
          }
        }
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
      case 'utterance':
        if (this.isStale(e)) return;
        this.utterances.mutable().push(op.text);
        return;
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
        // `+ 0` turns -0 into 0, as a JSON round trip would.
        this.accumulators.set(op.key, (this.accumulators.get(op.key) ?? 0) + op.delta + 0);
        return;
      case 'judge':
        this.judge(op.judgment, op.replaces);
        return;
      case 'completeTurn':
        this.completedTurn = op.turn;
        this.turn = this.turn === null ? op.turn : Math.max(this.turn, op.turn);
        return;
    }
  }

  private judge(judgment: JudgmentEntry, replaces: string | null): void {
    const entry: JudgmentEntry = { ...judgment, confidence: judgment.confidence + 0 };
    const items = this.judgments.mutable();
    for (const id of replaces === null ? [entry.id] : [replaces, entry.id]) {
      const i = items.findIndex((j) => j.id === id);
      if (i >= 0) items.splice(i, 1);
    }
    items.splice(lowerBound(items, (x) => compareJudgments(x, entry) < 0), 0, entry);
    // Cap the proposition's judgments: they are adjacent, oldest first.
    let from = items.indexOf(entry);
    while (from > 0 && sameProposition(items[from - 1] as JudgmentEntry, entry)) from--;
    let to = from;
    while (to < items.length && sameProposition(items[to] as JudgmentEntry, entry)) to++;
    const excess = to - from - MAX_JUDGMENTS_PER_PROPOSITION;
    if (excess > 0) items.splice(from, excess);
  }

  private clearMomentary(): void {
    if (this.momentary.items.length > 0) this.momentary = new CowArray<PropositionEntry>([]);
    if (this.utterances.items.length > 0) this.utterances = new CowArray<string>([]);
  }

  toTruthSet(): TruthSet {
    return {
      version: 1,
      lastNarrativeTs: this.lastNarrativeTs,
      turn: this.turn,
      completedTurn: this.completedTurn,
      scene: this.scene,
      persistent: this.persistent.share(),
      momentary: { turn: this.momentaryTurn, propositions: this.momentary.share(), utterances: this.utterances.share() },
      judgments: this.judgments.share(),
      accumulators: this.accumulators.share(),
      world: this.world.share(),
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
  const d = new TruthSetDraft(ts);
  d.apply(e);
  return d.toTruthSet();
}

/**
 * Applies many events in order (one conversion to JSON at the end, so cheaper than
 * folding `applyEvent`, with the same result).
 */
export function applyEvents(ts: TruthSet, events: Iterable<TruthEvent>): TruthSet {
  const d = new TruthSetDraft(ts);
  for (const e of events) d.apply(e);
  return d.toTruthSet();
}

/**
 * Seed "Truth Set Reconstruction": the checkpoint's truth set (or empty) plus a
 * replay of the ledger rows after it, in narrative_ts order. Rows at or before the
 * snapshot's `lastNarrativeTs` are already in it and are skipped, and a row given
 * twice counts once, so an overlapping read is harmless.
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
  // narrative_ts is unique per session: a row read twice (overlapping pages) is applied once.
  return applyEvents(base, ordered.filter((r, i) => i === 0 || (ordered[i - 1] as TruthEvent).narrativeTs !== r.narrativeTs));
}

/**
 * Incremental replay that materialises a truth set only when asked: cheaper than
 * folding `applyEvent` when only some intermediate states are needed (Since).
 * @internal
 */
export class TruthSetReplayer {
  readonly #draft: TruthSetDraft;

  constructor(base: TruthSet) {
    this.#draft = new TruthSetDraft(base);
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
  const out: PropositionEntry[] = [];
  for (const xs of [ts.persistent, ts.momentary.propositions]) {
    const [from, to] = predicateRange(xs, predicate);
    for (let i = from; i < to; i++) if (argsMatch(args, (xs[i] as PropositionEntry).args)) out.push(xs[i] as PropositionEntry);
  }
  return out;
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

/** Every interpretive proposition with its combined confidence, in canonical order (for prompts and inspection). */
export function interpretivePropositions(ts: TruthSet): Array<{ category: JudgmentCategory; subject: string | null; confidence: number }> {
  const out: Array<{ category: JudgmentCategory; subject: string | null; confidence: number }> = [];
  for (const j of ts.judgments) {
    const last = out[out.length - 1];
    // Judgments of one proposition are adjacent in canonical order.
    if (last !== undefined && last.category === j.category && last.subject === j.subject) last.confidence = 1 - (1 - last.confidence) * (1 - j.confidence);
    else out.push({ category: j.category, subject: j.subject, confidence: j.confidence });
  }
  return out;
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
  const p = [...ts.persistent, ...ts.momentary.propositions].find((x) => compareStatements(x.predicate, x.args, predicate, args) === 0);
  return p?.since ?? null;
}
