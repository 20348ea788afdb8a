import type { FrameInput, FramePlayerEvent } from '../../inference/frame/features.ts';
import { PLAYER_ID, type Character, type Relation, type Scene } from '../../domain/story/schema.ts';
import type { ParsedInput } from '../classifiers/stage1.ts';
import { HOSTILE_WORDS, WARM_WORDS } from '../classifiers/sensitivity-map.ts';

/**
 * Story character → the frame model's `FrameInput` (src/inference/frame/features.ts).
 * The edge toward the player comes first (the model reads the first five edges).
 *
 * @example
 * const input = frameInputFor(character, relations, scene, { turn: 3, castSize: 2 });
 */
export function frameInputFor(
  c: Character,
  relations: readonly Relation[],
  scene: Scene,
  at: { turn: number; castSize: number; tension?: number; exitPressure?: number },
  parsed?: ParsedInput,
): FrameInput {
  const edges = relations
    .filter((r) => r.from === c.id)
    .sort((a, b) => (a.to === PLAYER_ID ? -1 : b.to === PLAYER_ID ? 1 : 0))
    .slice(0, 5)
    .map((r) => ({ to: r.to, trust_reliability: r.trust_reliability, trust_competence: r.trust_competence, trust_benevolence: r.trust_benevolence, affection: r.affection, debt: r.debt }));
  const input: FrameInput = {
    characterId: c.id,
    axes: c.axes.slice(0, 16).map((a) => ({ name: a.name, central: a.central, variance: a.variance, low: a.low, high: a.high, layer: a.layer, ...(a.awareness ? { awareness: a.awareness } : {}) })),
    emotions: { ...c.emotions },
    edges,
    scene: {
      type: scene.type,
      mass: Math.min(1, scene.mass / 10),
      castSize: at.castSize,
      tension: at.tension ?? Math.min(1, scene.mass / 10 + 0.2),
      turn: at.turn,
      exitPressure: at.exitPressure ?? 0,
    },
  };
  if (parsed) input.playerEvent = playerEventFor(c.id, parsed);
  return input;
}

export function playerEventFor(characterId: string, p: ParsedInput): FramePlayerEvent {
  // Tone words include stop words ("please"), so look at the raw text, not the keywords.
  const words = new Set(p.raw.toLowerCase().split(/[^a-z']+/).filter((w) => w.length > 0));
  const count = (list: readonly string[]) => list.filter((w) => words.has(w)).length;
  return {
    kind: p.kind,
    addressedToMe: p.addressee === characterId || p.recipient === characterId,
    hostility: Math.min(1, count(HOSTILE_WORDS) * 0.4 + (p.verb === 'attack' && p.entity === characterId ? 0.8 : 0)),
    warmth: Math.min(1, count(WARM_WORDS) * 0.3),
    mentionsMe: p.mentions.some((m) => m.id === characterId),
    topicKeywords: p.keywords.slice(0, 8),
  };
}
