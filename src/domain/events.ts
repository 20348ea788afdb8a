import { z } from 'zod';

/**
 * Everything the event ledger accepts, by `event_type`. Factual NarrativeEvents
 * resolve in their turn; InterpretiveJudgments carry a confidence; PlayerInput and
 * TurnCompleted bracket a turn (a PlayerInput without a TurnCompleted is replayed
 * after a crash). Seed: "Event Ledger"; domain.md: "Events".
 */
const id = z.string().min(1).max(200);
const text = z.string().max(8_000);

export const playerInputData = z.object({
  clientInputId: z.string().min(1).max(128),
  text: z.string().min(1).max(4_000),
});

// ---- factual: player actions
export const actionPerformedData = z.object({
  actor: id,
  action: z.string().min(1).max(64),
  target: id.optional(),
  /** For transfers (give): who receives the target. */
  recipient: id.optional(),
});
export const speechActData = z.object({ speaker: id, addressee: id.optional(), content: text });
export const movementActionData = z.object({ actor: id, from: id, to: id });
export const examinationActionData = z.object({ actor: id, target: id });

// ---- factual: system
export const sceneEnteredData = z.object({ sceneId: z.string().uuid(), sceneKey: id, characters: z.array(id) });
export const sceneExitedData = z.object({
  sceneId: z.string().uuid(),
  sceneKey: id,
  reason: z.string().min(1).max(64),
  nextSceneKey: id.nullable(),
});
export const characterArrivalData = z.object({ character: id, sceneId: z.string().uuid() });
export const characterDepartureData = z.object({
  character: id,
  sceneId: z.string().uuid(),
  significance: z.enum(['trivial', 'casual', 'significant', 'irreversible']).default('casual'),
});
export const informationRevealedData = z.object({ gateId: id, recipient: id, content: text.optional() });
export const constraintViolationData = z.object({ actor: id, action: z.string().min(1).max(64), constraint: z.string().min(1).max(500) });

// ---- factual: entity
export const entityPromotedData = z.object({
  entity: id,
  toTier: z.enum(['unmentioned', 'mentioned', 'referenced', 'tracked', 'persistent']),
});
export const entityDemotedData = entityPromotedData;
export const entityDissolvedData = z.object({ entity: id });
const jsonValue: z.ZodType<unknown> = z.unknown();
export const worldStateChangedData = z.object({ key: id, old: jsonValue, new: jsonValue });

// ---- factual: relational
export const relationalDimension = z.enum(['trust_reliability', 'trust_competence', 'trust_benevolence', 'affection', 'debt']);
export const relationshipShiftedData = z.object({ from: id, to: id, dimension: relationalDimension, delta: z.number().min(-2).max(2) });
export const goalCompletedData = z.object({ goalId: id, sceneId: z.string().uuid().optional() });
export const gateFiredData = z.object({ gateId: id, sceneId: z.string().uuid().optional() });
export const thresholdCrossedData = z.object({ key: id, threshold: z.number(), value: z.number() });

// ---- interpretive
export const judgmentCategory = z.enum([
  'TrustShift', 'AffectionShift', 'PowerDynamicShift', 'EmotionalRegisterShift', 'EmotionExpressed', 'ToneDetected',
  'ThematicResonance', 'EchoResonance', 'IntentInferred', 'DeceptionDetected', 'VulnerabilityExpressed',
  'EngagementQuality', 'NarrativeStasis', 'DepartureSignificance',
]);
export type JudgmentCategory = z.infer<typeof judgmentCategory>;
export const judgmentSource = z.object({
  kind: z.enum(['classifier', 'frame_computation', 'storykeeper_inference', 'narrator_observation']),
  model: z.string().max(200).optional(),
  latencyMs: z.number().nonnegative().optional(),
});
export const interpretiveJudgmentData = z.object({
  id: id,
  sceneId: z.string().uuid().optional(),
  category: judgmentCategory,
  /** Whom or what the judgment is about (a character id, a topic). */
  subject: id.optional(),
  confidence: z.number().min(0).max(1),
  /** Ledger ids (or in-turn event refs) the judgment rests on. */
  evidence: z.array(z.union([z.number().int(), id])).max(64),
  description: z.string().max(2_000),
  source: judgmentSource,
  /** Stage 3 judgments are provisional; stage 4 replaces them by id. */
  provisional: z.boolean().default(false),
  replaces: id.optional(),
});

// ---- turn bracket
export const turnCompletedData = z.object({
  inputId: z.number().int().positive(),
  turn: z.number().int().nonnegative(),
  /** Agents or stages that failed or timed out and were replaced by a fallback. */
  degraded: z.array(z.string().max(100)).default([]),
  /** `story_ended`: the input was acknowledged but the story ended before its turn (answered, not played). */
  outcome: z.enum(['played', 'story_ended']).optional(),
  /**
   * The turn decided to leave the scene. Written atomically with the turn's effects, so a
   * crash before the scene-exit transaction resumes straight into that exit.
   */
  sceneExit: z.object({ reason: z.string().min(1).max(64), nextSceneKey: id.nullable() }).optional(),
});

/**
 * A planned effect that was not applied (guarantee 2 audit trail): an edge update the graph
 * store refused at scene exit, or an invalid event a behaviour produced. Written in the same
 * transaction or batch the effect would have been, so the ledger accounts for every effect.
 */
export const effectRefusedData = z.object({
  effect: z.enum(['edge_update', 'event']),
  /** Stable error code of the refusal (src/errors.ts, or the validation code). */
  code: z.string().min(1).max(64),
  reason: z.string().max(2_000),
  /** What was refused (the event's type and source, or the edge endpoints). */
  subject: z.record(z.string(), z.unknown()),
});

export const deferredResultAppliedData = z.object({
  workflowKey: id,
  checkpointId: z.string().uuid().optional(),
  effects: z.array(z.record(z.string(), z.unknown())).max(1_000),
});

export const EVENT_DATA_SCHEMAS = {
  PlayerInput: playerInputData,
  ActionPerformed: actionPerformedData,
  SpeechAct: speechActData,
  MovementAction: movementActionData,
  ExaminationAction: examinationActionData,
  SceneEntered: sceneEnteredData,
  SceneExited: sceneExitedData,
  CharacterArrival: characterArrivalData,
  CharacterDeparture: characterDepartureData,
  InformationRevealed: informationRevealedData,
  ConstraintViolation: constraintViolationData,
  EntityPromoted: entityPromotedData,
  EntityDemoted: entityDemotedData,
  EntityDissolved: entityDissolvedData,
  WorldStateChanged: worldStateChangedData,
  RelationshipShifted: relationshipShiftedData,
  GoalCompleted: goalCompletedData,
  GateFired: gateFiredData,
  ThresholdCrossed: thresholdCrossedData,
  InterpretiveJudgment: interpretiveJudgmentData,
  TurnCompleted: turnCompletedData,
  DeferredResultApplied: deferredResultAppliedData,
  EffectRefused: effectRefusedData,
} as const;

export type EventType = keyof typeof EVENT_DATA_SCHEMAS;
export const EVENT_TYPES = Object.keys(EVENT_DATA_SCHEMAS) as EventType[];
export type EventData<T extends EventType> = z.infer<(typeof EVENT_DATA_SCHEMAS)[T]>;

export const FACTUAL_EVENT_TYPES = EVENT_TYPES.filter(
  (t) => t !== 'PlayerInput' && t !== 'InterpretiveJudgment' && t !== 'TurnCompleted' && t !== 'DeferredResultApplied' && t !== 'EffectRefused',
);

export function isEventType(value: string): value is EventType {
  return Object.hasOwn(EVENT_DATA_SCHEMAS, value);
}

/** A typed event as the runtime builds it, before the ledger assigns id and narrative_ts. */
export type NewEvent = {
  [T in EventType]: {
    type: T;
    data: EventData<T>;
    source: string;
    sceneId?: string | null;
    turn?: number | null;
    /** InterpretiveJudgment only; mirrors data.confidence into the ledger column. */
    confidence?: number | null;
    /** The PlayerInput (ledger id) this event serves. */
    inputId?: number | null;
    /** Unique per session: a re-run after a crash writes the same event once. */
    idempotencyKey?: string | null;
  };
}[EventType];

/** A row of the ledger, read back and validated. */
export type LedgerRecord = NewEvent & {
  id: number;
  sessionId: string;
  narrativeTs: number;
  createdAt: Date;
  clientInputId: string | null;
};

/** Builds a typed event; the ledger validates again at the boundary. */
export function event<T extends EventType>(
  type: T,
  data: EventData<T>,
  meta: Omit<Extract<NewEvent, { type: T }>, 'type' | 'data'>,
): Extract<NewEvent, { type: T }> {
  return { type, data, ...meta } as Extract<NewEvent, { type: T }>;
}
