import type { JudgmentCategory } from '../../domain/events.ts';
import type { Character, Emotion } from '../../domain/story/schema.ts';
import type { TruthSet } from '../../domain/truth-set.ts';

/**
 * Emotional states in play (domain.md: "Entities and characters" — Plutchik's eight, with
 * decay). A character's authored emotions are its baseline; interpretive judgments about
 * it (stage 3, refined by stage 4) push them, weighted by confidence, and older judgments
 * count less (half-life in narrative steps). The result feeds the frame model and the
 * scene-exit snapshot. Pure and deterministic.
 *
 * @example
 * emotionsNow(nell, truthSet) // { fear: 0.6, sadness: 0.5, trust: 0.18, … }
 */
const PUSH: Partial<Record<JudgmentCategory, Partial<Record<Emotion, number>>>> = {
  AffectionShift: { trust: 0.25, joy: 0.1, fear: -0.05 },
  TrustShift: { anger: 0.25, fear: 0.1, trust: -0.2 },
  VulnerabilityExpressed: { trust: 0.15, sadness: 0.1 },
  EchoResonance: { sadness: 0.2, surprise: 0.1 },
  ThematicResonance: { anticipation: 0.1 },
  IntentInferred: { anticipation: 0.1, surprise: 0.05 },
};

export const EMOTION_HALF_LIFE = 40;

export function emotionsNow(c: Pick<Character, 'id' | 'emotions'>, ts: TruthSet): Partial<Record<Emotion, number>> {
  const out: Partial<Record<Emotion, number>> = { ...c.emotions };
  for (const j of ts.judgments) {
    if (j.subject !== c.id) continue;
    const push = PUSH[j.category];
    if (!push) continue;
    const age = Math.max(0, ts.lastNarrativeTs - j.ts);
    const weight = j.confidence * Math.pow(0.5, age / EMOTION_HALF_LIFE);
    for (const [emotion, delta] of Object.entries(push) as Array<[Emotion, number]>) {
      out[emotion] = Math.round(Math.min(1, Math.max(0, (out[emotion] ?? 0) + delta * weight)) * 1000) / 1000;
    }
  }
  return out;
}
