import type { NewEvent } from '../../domain/events.ts';
import type { EmotionalRegister, EventType, PlayerEvent } from '../../inference/frame/character-schema.ts';
import type { ParsedInput } from '../classifiers/stage1.ts';
import { HOSTILE_WORDS, VULNERABLE_WORDS, WARM_WORDS } from '../classifiers/sensitivity-map.ts';
import { NO_EVENT } from './frame-input.ts';

/**
 * The player's act as the frame schema's player event (event type, emotional register,
 * classifier confidence, target count), from classifier stages 1–3: stage 1's parse gives
 * the kind and whom it touches, stage 2's accepted factual events confirm it, stage 3's
 * judgments (vulnerability, deception, emotion) and the tone words give the register.
 * The mapping follows the peer engine's (frame-schema.md §1.6) where it has one.
 */

const EMOTE_VERBS = new Set(['smile', 'nod', 'laugh', 'cry', 'weep', 'sigh', 'wave', 'frown', 'shrug', 'bow', 'grin', 'scowl', 'wink', 'sit']);
const INTERACTION_VERBS = new Set(['give', 'show', 'comfort', 'attack', 'help', 'push', 'pull', 'kick']);
const PLAYFUL_WORDS = ['joke', 'tease', 'laugh', 'grin', 'wink', 'silly', 'fun', 'dance', 'sing'];
const GUARDED_WORDS = ['no', 'never', "won't", 'leave', 'away', 'enough', 'stop', 'careful'];

function eventType(p: ParsedInput, characters: ReadonlySet<string>): EventType {
  switch (p.kind) {
    case 'question':
      return 'inquiry';
    case 'speech':
      return 'speech';
    case 'movement':
      return 'movement';
    case 'examination':
      return 'observation';
    case 'action':
      if (EMOTE_VERBS.has(p.verb)) return 'emote';
      if (INTERACTION_VERBS.has(p.verb) || (p.recipient !== undefined && characters.has(p.recipient)) || (p.entity !== undefined && characters.has(p.entity))) return 'interaction';
      return 'action';
    default:
      return 'interaction';
  }
}

function register(p: ParsedInput, judgments: readonly NewEvent[]): { register: EmotionalRegister; confidence: number | null } {
  const words = new Set(p.raw.toLowerCase().split(/[^a-z']+/).filter((w) => w.length > 0));
  const has = (list: readonly string[]) => list.some((w) => words.has(w));
  const judged = (category: string): number | null => {
    let best: number | null = null;
    for (const e of judgments) if (e.type === 'InterpretiveJudgment' && e.data.category === category) best = Math.max(best ?? 0, e.data.confidence);
    return best;
  };
  if (p.verb === 'attack' || has(HOSTILE_WORDS)) return { register: 'aggressive', confidence: null };
  const vulnerable = judged('VulnerabilityExpressed');
  if (vulnerable !== null || has(VULNERABLE_WORDS)) return { register: 'vulnerable', confidence: vulnerable };
  const deception = judged('DeceptionDetected');
  if (deception !== null) return { register: 'guarded', confidence: deception };
  if (p.verb === 'comfort' || has(WARM_WORDS)) return { register: 'tender', confidence: judged('EmotionExpressed') };
  if (has(PLAYFUL_WORDS)) return { register: 'playful', confidence: null };
  if (p.kind === 'question') return { register: 'inquisitive', confidence: null };
  if (has(GUARDED_WORDS)) return { register: 'guarded', confidence: null };
  return { register: 'neutral', confidence: null };
}

/**
 * @example
 * playerEventOf(parsed, stage2Events, stage3Events, new Set(cast)) // { type: 'inquiry', register: 'inquisitive', confidence: 0.8, targetCount: 1 }
 */
export function playerEventOf(p: ParsedInput | null, facts: readonly NewEvent[], judgments: readonly NewEvent[], characters: ReadonlySet<string>): PlayerEvent {
  if (!p || p.kind === 'meta') return NO_EVENT;
  const targets = new Set<string>();
  for (const id of [p.addressee, p.recipient, p.entity]) if (id !== undefined && characters.has(id)) targets.add(id);
  for (const m of p.mentions) if (m.kind === 'character') targets.add(m.id);
  const r = register(p, judgments);
  // Confirmed by stage 2 (an accepted factual event) → 0.8, as the peer's decomposition-derived events; else 0.5.
  const confirmed = facts.some((e) => e.type !== 'ConstraintViolation' && e.type !== 'DeferredResultApplied');
  return { type: eventType(p, characters), register: r.register, confidence: r.confidence ?? (confirmed ? 0.8 : 0.5), targetCount: targets.size };
}
