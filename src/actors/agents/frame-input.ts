import { z } from 'zod';
import type { NewEvent } from '../../domain/events.ts';
import { DEFAULT_PRIMARY_AWARENESS, DEFAULT_SELF_EDGE, EMOTION_ORDERS, PLAYER_TOPOLOGICAL_ROLE, SUBSTRATE_DEFAULTS } from '../../domain/story/character-model.ts';
import { PLAYER_ID, type Character, type Relation, type Scene } from '../../domain/story/schema.ts';
import type { TruthSet } from '../../domain/truth-set.ts';
import {
  ACTION_TYPES,
  AWARENESS_LEVELS,
  HISTORY_DEPTH,
  SPEECH_REGISTERS,
  SUBSTRATE_DIMENSIONS,
  type AxisValue,
  type HistoryEntry,
  type PlayerEvent,
  type RelationalEdge,
  type TensorAxis,
  type TopologicalRole,
} from '../../inference/frame/character-schema.ts';
import { sortedAxes } from '../../inference/frame/encoder.ts';
import type { FrameInput } from '../../inference/frame/features.ts';

/**
 * Story character → the frame model's storyteller-character/1 features
 * (src/inference/frame/character-schema.ts): the tensor with provenance, the primaries in
 * the character's declared order with their awareness, the self edge, the relational
 * edges as substrate quadruples with the target's role (the edge toward the player
 * first), the scene, the player event (player-event.ts) and the character's own last
 * three predictions. Also where that history lives: the truth set's world state under
 * `frame_history:<character>`, written each turn by the character agent's
 * WorldStateChanged event, so checkpoints and ledger replay carry it across a resume.
 */

export type CharacterLike = Pick<Character, 'id' | 'axes' | 'emotions'> & Partial<Pick<Character, 'name' | 'emotionOrder' | 'emotionAwareness' | 'selfEdge'>>;

/** A relation as it reaches the frame (the graph store's edges may lack the authored substrate). */
export type RelationLike = Pick<Relation, 'from' | 'to' | 'trust_reliability' | 'trust_competence' | 'trust_benevolence' | 'affection' | 'debt'> & { substrate?: Relation['substrate'] };

export interface FrameAt {
  castSize: number;
  /** Overrides the scene's tension (default: the scene's `tension`, else mass / 10 + 0.2, capped at 1). */
  tension?: number;
  /** Topological role of each character (a relation's target); the player is always the hub. */
  roles?: Readonly<Record<string, TopologicalRole>>;
}

/** Scene tension: authored, else derived from the scene's mass. */
export function sceneTension(scene: Pick<Scene, 'mass'> & { tension?: number | undefined }): number {
  return scene.tension ?? Math.min(1, scene.mass / 10 + 0.2);
}

function quadruple(value: number, spread: { variance: number; spread: number } | undefined): AxisValue {
  const s = spread ?? SUBSTRATE_DEFAULTS;
  return { central: value, variance: s.variance, low: Math.max(value - s.spread, -1), high: Math.min(value + s.spread, 1) };
}

export function edgesOf(characterId: string, relations: readonly RelationLike[], roles: FrameAt['roles'] = {}): RelationalEdge[] {
  return relations
    .filter((r) => r.from === characterId && r.to !== characterId)
    .sort((a, b) => (a.to === PLAYER_ID ? -1 : b.to === PLAYER_ID ? 1 : 0))
    .map((r) => {
      const edge = { to: r.to, role: r.to === PLAYER_ID ? PLAYER_TOPOLOGICAL_ROLE : (roles[r.to] ?? 'periphery') } as RelationalEdge;
      for (const d of SUBSTRATE_DIMENSIONS) edge[d] = quadruple(r[d], r.substrate?.[d]);
      return edge;
    });
}

/** No act yet (scene entry) or nothing recognisable: the peer engine's default event. */
export const NO_EVENT: PlayerEvent = { type: 'interaction', register: 'neutral', confidence: 0.5, targetCount: 0 };

/**
 * @example
 * const features = frameInputFor(character, relations, scene, { castSize: 2 }, playerEventOf(parsed, facts, judgments), frameHistoryOf(ts, character.id));
 */
export function frameInputFor(
  c: CharacterLike,
  relations: readonly RelationLike[],
  scene: Pick<Scene, 'type' | 'mass'> & { tension?: number | undefined },
  at: FrameAt,
  event: PlayerEvent = NO_EVENT,
  history: readonly HistoryEntry[] = [],
): FrameInput {
  const order = EMOTION_ORDERS[c.emotionOrder ?? 'wheel'];
  return {
    characterId: c.id,
    ...(c.name ? { name: c.name } : {}),
    axes: tensorOf(c.axes),
    primaries: order.map((id) => ({ id, intensity: c.emotions[id] ?? 0, awareness: c.emotionAwareness?.[id] ?? DEFAULT_PRIMARY_AWARENESS })),
    selfEdge: c.selfEdge ?? DEFAULT_SELF_EDGE,
    edges: edgesOf(c.id, relations, at.roles),
    scene: { type: scene.type, castSize: at.castSize, tension: at.tension ?? sceneTension(scene) },
    event,
    history: history.slice(0, HISTORY_DEPTH),
  };
}

/** A character's tensor axes in encoding order, computed once per axes array (the warm scene keeps the same objects all scene). */
const tensors = new WeakMap<object, TensorAxis[]>();
function tensorOf(axes: CharacterLike['axes']): TensorAxis[] {
  let t = tensors.get(axes);
  if (!t) {
    t = [...sortedAxes(axes.map((a) => ({ name: a.name, central: a.central, variance: a.variance, low: a.low, high: a.high, layer: a.layer, provenance: a.provenance ?? 'authored' })))];
    tensors.set(axes, t);
  }
  return t;
}

// ---- the prediction history in the truth set

export const FRAME_HISTORY_PREFIX = 'frame_history:';

const historySchema = z
  .array(z.object({ action: z.enum(ACTION_TYPES), register: z.enum(SPEECH_REGISTERS), awareness: z.enum(AWARENESS_LEVELS), valence: z.number().min(-1).max(1) }))
  .max(HISTORY_DEPTH);

/** The character's last predictions, most recent first (validated; anything else reads as none). */
export function frameHistoryOf(ts: TruthSet, characterId: string): HistoryEntry[] {
  const parsed = historySchema.safeParse(ts.world[`${FRAME_HISTORY_PREFIX}${characterId}`]);
  return parsed.success ? parsed.data : [];
}

/** The event that records the new history (the character agent emits it with its intent). */
export function frameHistoryEvent(characterId: string, before: readonly HistoryEntry[], after: readonly HistoryEntry[], turn: number): NewEvent {
  return {
    type: 'WorldStateChanged',
    data: { key: `${FRAME_HISTORY_PREFIX}${characterId}`, old: before.length > 0 ? before : null, new: after },
    source: `character:${characterId}`,
    turn,
  };
}
