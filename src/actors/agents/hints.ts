import { predicateHolds, type PredicateContext } from '../../domain/predicate-eval.ts';
import type { Atom, EventPattern, TriggerPredicate } from '../../domain/predicates.ts';
import { PLAYER_ID, type Gate, type StoryEntity } from '../../domain/story/schema.ts';
import { matchesEventPattern, orderedHistory, type LedgerRecordLike } from '../../domain/temporal.ts';
import { holds, type TruthSet } from '../../domain/truth-set.ts';
import type { SceneData } from '../scene-model.ts';
import { worldView } from './world.ts';

/**
 * Progressive hints: `/hint` names the next unmet step of the nearest goal, read from
 * the story's own conditions rather than a fixed list. The nearest target is the first
 * primary goal not yet complete, then an open way out (or the step that opens it), then
 * the other visible goals; hidden goals are never hinted. Its condition is walked to the
 * first unmet atom, following what it depends on — a gate it needs (`gate_fired`, `knows`,
 * the gates it comes `after`), another goal, the gate whose effect hands over an item
 * the player must hold — and, for a `sequence`, the next event of the sequence not yet
 * seen in the history. The step is said as an input the player could type ("Ask Ewan
 * about the light.", "Give the Board's letter to Ada Marsh."). When a condition cannot
 * be put into words (an interpretive judgment, an accumulator), the author's `hints`
 * for the scene answer instead.
 *
 * @example
 * progressiveHint(data, entities.objects, truthSet, history) // → 'Examine the tide table, then ask Ewan about the boat.'
 */
export function progressiveHint(data: SceneData, objects: readonly StoryEntity[], ts: TruthSet, history: readonly LedgerRecordLike[] = []): string | null {
  return nextStep(data, objects, ts, history) ?? authoredHint(data, ts);
}

/** The author's hint for the player's position: the first, or the next once a primary goal completed. */
export function authoredHint(data: SceneData, ts: TruthSet): string | null {
  const hints = data.scene.hints;
  if (hints.length === 0) return null;
  const primaryDone = data.scene.goals.filter((g) => g.primary && holds(ts, 'goal_completed', g.id)).length;
  return hints[Math.min(primaryDone, hints.length - 1)] ?? null;
}

/** The next step in words, or null when the conditions do not say it plainly. */
export function nextStep(data: SceneData, objects: readonly StoryEntity[], ts: TruthSet, history: readonly LedgerRecordLike[] = []): string | null {
  const w = new StepWriter(data, objects, ts, orderedHistory(history));
  const goals = data.scene.goals.filter((g) => !holds(ts, 'goal_completed', g.id));
  const visible = goals.filter((g) => g.visibility === 'overt' || g.visibility === 'signaled');
  for (const g of goals.filter((x) => x.primary && x.visibility !== 'hidden')) {
    const step = w.of(g.completion);
    if (step) return step;
  }
  if (data.scene.ending) {
    const step = w.of(data.scene.ending.when);
    if (step) return step;
  }
  for (const d of data.scene.departures) {
    const setting = data.departureSettings[d.to];
    const name = data.adjacent.find((a) => a.id === setting)?.name ?? data.places.find((p) => p.id === setting)?.name;
    if (w.holdsNow(d.when)) {
      if (name && setting !== data.setting.id) return `Go to ${name}.`;
      continue;
    }
    const step = w.of(d.when);
    if (step) return step;
  }
  for (const g of visible.filter((x) => !x.primary)) {
    const step = w.of(g.completion);
    if (step) return step;
  }
  // A scene of gates alone: the first one still closed whose predecessors have fired.
  for (const g of data.scene.gates) {
    if (holds(ts, 'gate_fired', g.id) || !g.after.every((a) => holds(ts, 'gate_fired', a))) continue;
    const step = w.gate(g.id);
    if (step) return step;
  }
  return null;
}

/** @internal what the player could do: pieces merged into one sentence. */
interface Step {
  talkTo?: string;
  topic?: string;
  text?: string;
}

class StepWriter {
  readonly #data: SceneData;
  readonly #objects: readonly StoryEntity[];
  readonly #ts: TruthSet;
  readonly #history: readonly LedgerRecordLike[];
  readonly #ctx: PredicateContext;
  readonly #visiting = new Set<string>();

  constructor(data: SceneData, objects: readonly StoryEntity[], ts: TruthSet, history: readonly LedgerRecordLike[]) {
    this.#data = data;
    this.#objects = objects;
    this.#ts = ts;
    this.#history = history;
    this.#ctx = { truthSet: ts, history, settingFeatures: data.setting.features };
  }

  /** The next step toward firing a gate, in words. */
  gate(gateId: string): string | null {
    const gate = this.#data.scene.gates.find((g) => g.id === gateId);
    const step = this.#gateStep(gateId);
    return step ? this.#say(step, gate?.speaker) : null;
  }

  holdsNow(p: TriggerPredicate): boolean {
    return predicateHolds(p, this.#ctx);
  }

  of(p: TriggerPredicate, speaker?: string): string | null {
    const step = this.#step(p, speaker);
    return step ? this.#say(step, speaker) : null;
  }

  #say(s: Step, speaker?: string): string | null {
    if (s.text) return s.text;
    const to = s.talkTo ?? speaker;
    if (s.topic && to) return `Ask ${this.#name(to)} about ${this.#topic(s.topic)}.`;
    if (s.topic) return `Bring up ${this.#topic(s.topic)}.`;
    if (to) return `Talk to ${this.#name(to)}.`;
    return null;
  }

  #step(p: TriggerPredicate, speaker?: string): Step | null {
    // What holds only this turn (said, mentioned, did) must be done again together with the rest.
    if (!isMomentary(p) && this.holdsNow(p)) return null;
    if ('all' in p) {
      // Unmet parts together: "said to Ewan" and "mentioned the light" make one question.
      const merged: Step = {};
      for (const q of p.all) {
        const s = this.#step(q, speaker);
        if (!s) continue;
        if (s.text) return merged.talkTo || merged.topic ? { ...merged, ...s, text: `${this.#say(merged, speaker) ?? ''} ${s.text}`.trim() } : s;
        merged.talkTo ??= s.talkTo;
        merged.topic ??= s.topic;
      }
      return merged.talkTo || merged.topic ? merged : null;
    }
    if ('any' in p) {
      for (const q of p.any) {
        const s = this.#step(q, speaker);
        if (s) return s;
      }
      return null;
    }
    if ('threshold' in p) {
      for (const q of p.threshold.of) {
        const s = this.#step(q, speaker);
        if (s) return s;
      }
      return null;
    }
    if ('difference' in p) return this.#step(p.difference.include, speaker);
    if ('not' in p) return null;
    if ('after' in p) return this.#occurred(p.after.event) ? this.#step(p.after.then, speaker) : this.#pattern(p.after.event);
    if ('since' in p) return this.#occurred(p.since.event) ? this.#step(p.since.holds, speaker) : this.#pattern(p.since.event);
    if ('sequence' in p) return this.#sequence(p.sequence.events, p.sequence.within, speaker);
    return this.#atom(p, speaker);
  }

  #occurred(pattern: EventPattern): boolean {
    return this.#history.some((e) => matchesEventPattern(e, pattern));
  }

  /**
   * The next event of a sequence: the chain is followed from the newest occurrence of its
   * first event; a chain that can no longer close inside `within` starts again.
   */
  #sequence(patterns: readonly EventPattern[], within: number | undefined, speaker?: string): Step | null {
    const h = this.#history;
    let k = 0;
    let start = -1;
    for (let i = h.length - 1; i >= 0; i--) {
      if (matchesEventPattern(h[i] as LedgerRecordLike, patterns[0] as EventPattern)) {
        start = i;
        break;
      }
    }
    if (start >= 0) {
      k = 1;
      for (let i = start + 1; i < h.length && k < patterns.length; i++) if (matchesEventPattern(h[i] as LedgerRecordLike, patterns[k] as EventPattern)) k += 1;
      const first = (h[start] as LedgerRecordLike).narrativeTs;
      if (k >= patterns.length || (within !== undefined && this.#ts.lastNarrativeTs - first > within)) k = 0;
    }
    const next = patterns[k];
    if (!next) return null;
    const step = this.#pattern(next);
    const then = patterns[k + 1];
    if (!step || !then) return step;
    const after = this.#pattern(then);
    const first = this.#say(step, speaker);
    const second = after ? this.#say(after, speaker) : null;
    return first && second ? { text: `${first.slice(0, -1)}, then ${lower(second)}` } : step;
  }

  #pattern(e: EventPattern): Step | null {
    const target = e.target ?? (e.involving !== PLAYER_ID ? e.involving : undefined);
    switch (e.type) {
      case 'SpeechAct':
      case 'PlayerInput':
        return e.topic || target ? { ...(target ? { talkTo: target } : {}), ...(e.topic ? { topic: e.topic } : {}) } : null;
      case 'ExaminationAction':
        return target ? { text: `Examine ${this.#name(target)}.` } : null;
      case 'MovementAction':
        return target ? { text: `Go to ${this.#name(target)}.` } : null;
      case 'ActionPerformed':
        return e.action ? { text: `${capital(e.action.replace(/_/g, ' '))}${target ? ` ${this.#name(target)}` : ''}.` } : null;
      default:
        return e.topic ? { topic: e.topic } : null;
    }
  }

  #atom(a: Atom, speaker?: string): Step | null {
    if ('topicMentioned' in a) return { topic: a.topicMentioned, ...(speaker ? { talkTo: speaker } : {}) };
    if ('eventOccurred' in a) return this.#pattern(a.eventOccurred);
    if ('worldState' in a) return this.#worldStep(a.worldState.key, a.worldState.equals);
    if ('characterPresent' in a) return null;
    if (!('holds' in a)) return null; // interpretive or numeric: the author's hint says it better
    const [x, y, z] = a.holds.args;
    switch (a.holds.predicate) {
      case 'said':
        return x === PLAYER_ID && y ? { talkTo: y } : null;
      case 'gate_fired':
        return y === undefined && x ? this.#gateStep(x) : null;
      case 'knows':
        return x === PLAYER_ID && y ? this.#gateStep(y) : null;
      case 'goal_completed': {
        const goal = this.#data.scene.goals.find((g) => g.id === x);
        return goal && this.#enter(`goal:${goal.id}`) ? this.#leave(`goal:${goal.id}`, this.#step(goal.completion)) : null;
      }
      case 'holds':
        return x && y ? this.#holdStep(x, y) : null;
      case 'did':
        return x === PLAYER_ID && y ? this.#allowed(y, z, { text: `${capital(y.replace(/_/g, ' '))}${z ? ` ${this.#name(z)}` : ''}.` }) : null;
      case 'examined':
        return x === PLAYER_ID && y ? { text: `Examine ${this.#name(y)}.` } : null;
      case 'at':
        return x === PLAYER_ID && y ? { text: `Go to ${this.#name(y)}.` } : null;
      case 'visited': {
        const place = x ? this.#data.departureSettings[x] : undefined;
        return place ? { text: `Go to ${this.#name(place)}.` } : null;
      }
      default:
        return null;
    }
  }

  #gateStep(gateId: string): Step | null {
    const gate = this.#data.scene.gates.find((g) => g.id === gateId);
    if (!gate || !this.#enter(`gate:${gate.id}`)) return null;
    const before = gate.after.find((g) => !holds(this.#ts, 'gate_fired', g));
    const step = before ? this.#gateStep(before) : this.#stepOfGate(gate);
    return this.#leave(`gate:${gate.id}`, step);
  }

  #stepOfGate(gate: Gate): Step | null {
    const s = this.#step(gate.condition, gate.speaker);
    // An if_prompted gate also waits for the player to speak to its speaker.
    if (!s && gate.delivery === 'if_prompted' && gate.speaker) return { talkTo: gate.speaker };
    if (s && !s.text && !s.talkTo && gate.speaker) return { ...s, talkTo: gate.speaker };
    return s;
  }

  /** `holder` must hold `item`: take it, ask for it, hand it over, or fire the gate that hands it on. */
  #holdStep(holder: string, item: string): Step | null {
    const view = worldView(this.#data.baseline, this.#ts);
    const now = view.holders[item];
    const itemName = this.#name(item);
    if (holder === PLAYER_ID) {
      const giver = this.#data.scene.gates.find((g) => !holds(this.#ts, 'gate_fired', g.id) && g.effects.some((e) => 'transfer' in e && e.transfer.entity === item && e.transfer.to === PLAYER_ID));
      if (giver) {
        const s = this.#gateStep(giver.id);
        if (s) return s;
      }
      if (now && now !== PLAYER_ID) return { text: `Ask ${this.#name(now)} for ${itemName}.` };
      if (view.locations[item] === this.#data.setting.id || view.locations[item] === view.playerAt) return this.#allowed('take', item, { text: `Take ${itemName}.` });
      return null;
    }
    if (now === PLAYER_ID) return this.#allowed('give', item, { text: `Give ${itemName} to ${this.#name(holder)}.` });
    return null;
  }

  /** A step the scene forbids for now becomes the step that lifts the constraint (its `unless`). */
  #allowed(action: string, target: string | undefined, step: Step): Step | null {
    for (const c of this.#data.scene.constraints) {
      if (c.forbids.action !== action || (c.forbids.target !== undefined && c.forbids.target !== target)) continue;
      if (!c.unless) return null;
      if (this.holdsNow(c.unless)) continue;
      const key = `constraint:${c.id}`;
      return this.#enter(key) ? this.#leave(key, this.#step(c.unless)) : null;
    }
    return step;
  }

  /** An affordance that sets the world key to the value: "Unlock the tower door." */
  #worldStep(key: string, value: unknown): Step | null {
    const view = worldView(this.#data.baseline, this.#ts);
    for (const o of this.#objects) {
      for (const a of o.affordances) {
        if (a.sets[key] !== value) continue;
        const need = a.requires && view.holders[a.requires] !== PLAYER_ID ? ` (you will need ${this.#name(a.requires)})` : '';
        return { text: `${capital(a.action.replace(/_/g, ' '))} ${o.name}${need}.` };
      }
    }
    return null;
  }

  /** "light" → "the light"; a person's alias → their name ("tobias" → "Tobias Wren"). */
  #topic(topic: string): string {
    const t = topic.toLowerCase();
    const person = this.#data.people?.find((p) => p.name.toLowerCase() === t || p.aliases.some((a) => a.toLowerCase() === t));
    if (person) return person.name;
    // A name the scene's prose writes capitalised ("Davey") stays a name.
    const prose = [this.#data.scene.description, ...this.#data.scene.gates.map((g) => g.content), ...this.#data.scene.hints].join(' ');
    const proper = capital(topic);
    if (proper !== topic && new RegExp(`\\b${escapeRegExp(proper)}\\b`).test(prose)) return proper;
    return /^[a-z]/.test(topic) && !/^(the|a|an|my|your|his|her) /.test(topic) ? `the ${topic}` : topic;
  }

  #name(id: string): string {
    if (id === PLAYER_ID) return 'yourself';
    const d = this.#data;
    return (
      d.people?.find((p) => p.id === id)?.name ??
      d.things?.find((t) => t.id === id)?.name ??
      d.places.find((p) => p.id === id)?.name ??
      d.adjacent.find((p) => p.id === id)?.name ??
      id.replace(/_/g, ' ')
    );
  }

  #enter(key: string): boolean {
    if (this.#visiting.has(key)) return false;
    this.#visiting.add(key);
    return true;
  }

  #leave<T>(key: string, value: T): T {
    this.#visiting.delete(key);
    return value;
  }
}

const MOMENTARY = new Set(['said', 'did', 'examined', 'violated']);

function isMomentary(p: TriggerPredicate): boolean {
  return 'topicMentioned' in p || ('holds' in p && MOMENTARY.has(p.holds.predicate));
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function capital(s: string): string {
  return s.length === 0 ? s : s[0]!.toUpperCase() + s.slice(1);
}

function lower(s: string): string {
  return s.length === 0 ? s : s[0]!.toLowerCase() + s.slice(1);
}
