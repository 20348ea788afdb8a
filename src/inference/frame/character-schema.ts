/**
 * The storyteller character-prediction schema, `storyteller-character/1`
 * (../shared/design/frame-schema.md, from tasker-systems/storyteller's
 * `feature_schema.rs`): what one character's 453 input floats and the model's 42 output
 * floats mean, slot by slot. Enum order is the peer's declaration order; every one-hot
 * and every decoded index uses it. The encoder is `encoder.ts`, the decoder `decoder.ts`.
 */

export const FRAME_SCHEMA_NAME = 'storyteller-character/1';
/** Schema names the encoder/decoder implement (a manifest naming another one stops start-up). */
export const IMPLEMENTED_FRAME_SCHEMAS = [FRAME_SCHEMA_NAME] as const;
export type FrameSchemaName = (typeof IMPLEMENTED_FRAME_SCHEMAS)[number];

export const TEMPORAL_LAYERS = ['topsoil', 'sediment', 'bedrock', 'primordial'] as const;
export const PROVENANCES = ['authored', 'inferred', 'generated', 'confirmed', 'overridden'] as const;
export const AWARENESS_LEVELS = ['articulate', 'recognizable', 'preconscious', 'defended', 'structural'] as const;
export const TOPOLOGICAL_ROLES = ['gate', 'bridge', 'hub', 'periphery'] as const;
export const SCENE_TYPES = ['gravitational', 'connective', 'gate', 'threshold'] as const;
export const EVENT_TYPES = ['speech', 'action', 'movement', 'observation', 'interaction', 'emote', 'inquiry'] as const;
export const EMOTIONAL_REGISTERS = ['aggressive', 'vulnerable', 'playful', 'guarded', 'neutral', 'tender', 'inquisitive'] as const;
export const ACTION_TYPES = ['perform', 'speak', 'move', 'examine', 'wait', 'resist'] as const;
export const ACTION_CONTEXTS = ['shared_history', 'current_scene', 'emotional_reaction', 'relational_dynamic', 'world_response'] as const;
export const SPEECH_REGISTERS = ['whisper', 'conversational', 'declamatory', 'internal'] as const;
/** Relational substrate dimensions, in edge-encoding order. */
export const SUBSTRATE_DIMENSIONS = ['trust_reliability', 'trust_competence', 'trust_benevolence', 'affection', 'debt'] as const;

/** Plutchik primaries in wheel order (the peer's test data, label heuristics and Python list). */
export const PLUTCHIK_WHEEL_ORDER = ['joy', 'trust', 'fear', 'surprise', 'sadness', 'disgust', 'anger', 'anticipation'] as const;
/** Plutchik primaries in the peer grammar's opposition-pair order (`PlutchikWestern`). */
export const PLUTCHIK_GRAMMAR_ORDER = ['joy', 'sadness', 'trust', 'disgust', 'fear', 'anger', 'surprise', 'anticipation'] as const;

export type TemporalLayer = (typeof TEMPORAL_LAYERS)[number];
export type Provenance = (typeof PROVENANCES)[number];
export type AwarenessLevel = (typeof AWARENESS_LEVELS)[number];
export type TopologicalRole = (typeof TOPOLOGICAL_ROLES)[number];
export type SceneType = (typeof SCENE_TYPES)[number];
export type EventType = (typeof EVENT_TYPES)[number];
export type EmotionalRegister = (typeof EMOTIONAL_REGISTERS)[number];
export type ActionType = (typeof ACTION_TYPES)[number];
export type ActionContext = (typeof ACTION_CONTEXTS)[number];
export type SpeechRegister = (typeof SPEECH_REGISTERS)[number];
export type SubstrateDimension = (typeof SUBSTRATE_DIMENSIONS)[number];

/** (central_tendency, variance, range_low, range_high), raw. */
export interface AxisValue {
  central: number;
  variance: number;
  low: number;
  high: number;
}

export interface TensorAxis extends AxisValue {
  /** Any name; slots are filled in ascending UTF-8 byte order of the names, first 16. */
  name: string;
  layer: TemporalLayer;
  provenance: Provenance;
}

export interface EmotionalPrimary {
  /** The primary's id (e.g. `joy`); slot order is the list order, as given. */
  id: string;
  intensity: number;
  awareness: AwarenessLevel;
}

/** How the character stands toward itself (peer order: trust competence, intentions, reliability first). */
export interface SelfEdge {
  competence: number;
  intentions: number;
  reliability: number;
  affection: number;
  debt: number;
  historyWeight: number;
  projectionAccuracy: number;
}

export type RelationalSubstrate = Record<SubstrateDimension, AxisValue>;

export interface RelationalEdge extends RelationalSubstrate {
  /** The edge's target (not encoded; the runtime puts the edge toward the player first). */
  to: string;
  /** The target's topological role; missing → periphery. */
  role?: TopologicalRole;
}

export interface SceneContext {
  type: SceneType;
  /** A count, written as a float, not normalised. */
  castSize: number;
  tension: number;
}

export interface PlayerEvent {
  type: EventType;
  register: EmotionalRegister;
  confidence: number;
  /** A count, written as a float, not normalised. */
  targetCount: number;
}

/** One of the character's own recent predictions (prediction_history.rs). */
export interface HistoryEntry {
  action: ActionType;
  register: SpeechRegister;
  awareness: AwarenessLevel;
  /** Sum of the emitted emotion deltas, clamped to [-1, 1]. */
  valence: number;
}

/** Everything the schema encodes about one character at one moment. */
export interface CharacterFeatures {
  characterId: string;
  axes: TensorAxis[];
  primaries: EmotionalPrimary[];
  selfEdge: SelfEdge;
  /** First 5 used, in list order. */
  edges: RelationalEdge[];
  scene: SceneContext;
  event: PlayerEvent;
  /** The character's last predictions, most recent first; first 3 used. */
  history: HistoryEntry[];
}

export interface EmotionDelta {
  /** Slot index into the character's primaries list (names resolve through that list). */
  primaryIndex: number;
  intensityChange: number;
  awarenessShifts: boolean;
}

/** The decoded 42 outputs (decode_outputs). The action target is always none and not carried. */
export interface CharacterPrediction {
  action: { type: ActionType; confidence: number; valence: number; context: ActionContext };
  speech: { occurs: boolean; register: SpeechRegister; confidence: number };
  thought: { awareness: AwarenessLevel; dominantEmotionIndex: number };
  emotionDeltas: EmotionDelta[];
}

// ---- layout

export const MAX_AXES = 16;
export const AXIS_WIDTH = 13;
export const MAX_PRIMARIES = 8;
export const PRIMARY_WIDTH = 6;
export const SELF_EDGE_WIDTH = 7;
export const MAX_EDGES = 5;
export const EDGE_WIDTH = 24;
export const SCENE_WIDTH = 6;
export const EVENT_WIDTH = 16;
export const HISTORY_DEPTH = 3;
export const HISTORY_WIDTH = 16;

export const FEATURE_LAYOUT = {
  tensor: { offset: 0, length: MAX_AXES * AXIS_WIDTH },
  emotional_state: { offset: 208, length: MAX_PRIMARIES * PRIMARY_WIDTH },
  self_edge: { offset: 256, length: SELF_EDGE_WIDTH },
  relational_edges: { offset: 263, length: MAX_EDGES * EDGE_WIDTH },
  scene_context: { offset: 383, length: SCENE_WIDTH },
  player_event: { offset: 389, length: EVENT_WIDTH },
  history: { offset: 405, length: HISTORY_DEPTH * HISTORY_WIDTH },
} as const;

export const FEATURE_DIM = 453;

/** Output heads in concatenation order, with their offsets in the flat 42-float vector. */
export const OUTPUT_HEADS = [
  { name: 'action', offset: 0, size: 14 },
  { name: 'speech', offset: 14, size: 6 },
  { name: 'thought', offset: 20, size: 6 },
  { name: 'emotion', offset: 26, size: 16 },
] as const;
export type OutputHeadName = (typeof OUTPUT_HEADS)[number]['name'];
export const OUTPUT_DIM = 42;

/** Flat output offsets (frame-schema.md §2). */
export const OUT = {
  actionType: 0,
  actionConfidence: 6,
  actionTarget: 7,
  actionValence: 8,
  actionContext: 9,
  speechOccurs: 14,
  speechRegister: 15,
  speechConfidence: 19,
  awareness: 20,
  dominantEmotion: 25,
  deltas: 26,
  shifts: 34,
} as const;

/** Loss structure per head (the peer's losses.py) and each part's slice of the flat vector. */
export type OutputPartKind = 'ce' | 'mse' | 'bce';
export interface OutputPart {
  name: string;
  head: OutputHeadName;
  kind: OutputPartKind;
  offset: number;
  length: number;
}
export const OUTPUT_PARTS: readonly OutputPart[] = [
  { name: 'action_type', head: 'action', kind: 'ce', offset: 0, length: 6 },
  { name: 'action_confidence', head: 'action', kind: 'mse', offset: 6, length: 1 },
  { name: 'action_target', head: 'action', kind: 'mse', offset: 7, length: 1 },
  { name: 'action_valence', head: 'action', kind: 'mse', offset: 8, length: 1 },
  { name: 'action_context', head: 'action', kind: 'ce', offset: 9, length: 5 },
  { name: 'speech_occurs', head: 'speech', kind: 'bce', offset: 14, length: 1 },
  { name: 'speech_register', head: 'speech', kind: 'ce', offset: 15, length: 4 },
  { name: 'speech_confidence', head: 'speech', kind: 'mse', offset: 19, length: 1 },
  { name: 'awareness', head: 'thought', kind: 'ce', offset: 20, length: 5 },
  { name: 'dominant_emotion', head: 'thought', kind: 'mse', offset: 25, length: 1 },
  { name: 'emotion_deltas', head: 'emotion', kind: 'mse', offset: 26, length: 8 },
  { name: 'awareness_shifts', head: 'emotion', kind: 'bce', offset: 34, length: 8 },
];
/** Head weights in the total loss (the peer's training). */
export const HEAD_WEIGHTS: Readonly<Record<OutputHeadName, number>> = { action: 0.35, speech: 0.2, thought: 0.2, emotion: 0.25 };
